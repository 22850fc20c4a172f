// The device's application state behind the interfaces: its configuration
// (validated partial updates, shared by HTTP and CoAP) and its sensor readings.

export interface DeviceConfig {
  reportIntervalSeconds: number;
  temperatureUnit: 'C' | 'F';
  telemetry: boolean;
  ntpServer: string;
}

export const DEFAULT_CONFIG: Readonly<DeviceConfig> = Object.freeze({
  reportIntervalSeconds: 60,
  temperatureUnit: 'C',
  telemetry: true,
  ntpServer: 'pool.ntp.org',
});

export type ConfigUpdate = { readonly ok: true; readonly config: DeviceConfig } | { readonly ok: false; readonly error: string };

/** Applies a partial update (a JSON object of known keys) to a config; unknown keys and wrong types are refused. */
export function applyConfigUpdate(current: Readonly<DeviceConfig>, update: unknown): ConfigUpdate {
  if (typeof update !== 'object' || update === null || Array.isArray(update)) {
    return { ok: false, error: 'expected a JSON object' };
  }
  const next: DeviceConfig = { ...current };
  for (const [key, value] of Object.entries(update as Record<string, unknown>)) {
    switch (key) {
      case 'reportIntervalSeconds':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 86_400) {
          return { ok: false, error: 'reportIntervalSeconds: expected an integer from 1 to 86400' };
        }
        next.reportIntervalSeconds = value;
        break;
      case 'temperatureUnit':
        if (value !== 'C' && value !== 'F') return { ok: false, error: 'temperatureUnit: expected "C" or "F"' };
        next.temperatureUnit = value;
        break;
      case 'telemetry':
        if (typeof value !== 'boolean') return { ok: false, error: 'telemetry: expected true or false' };
        next.telemetry = value;
        break;
      case 'ntpServer':
        if (typeof value !== 'string' || !/^[A-Za-z0-9.-]{1,253}$/.test(value)) {
          return { ok: false, error: 'ntpServer: expected a host name' };
        }
        next.ntpServer = value;
        break;
      default:
        return { ok: false, error: `unknown setting ${JSON.stringify(key.slice(0, 64))}` };
    }
  }
  return { ok: true, config: next };
}

export class DeviceState {
  readonly startedAt = Date.now();
  private current: DeviceConfig = { ...DEFAULT_CONFIG };
  private readonly listeners: ((config: Readonly<DeviceConfig>) => void)[] = [];

  config(): Readonly<DeviceConfig> {
    return { ...this.current };
  }

  /** Applies a validated update and tells the listeners (the broker republishes it for the sensor). */
  updateConfig(update: unknown): ConfigUpdate {
    const result = applyConfigUpdate(this.current, update);
    if (result.ok) {
      this.current = result.config;
      for (const l of this.listeners) l(this.config());
    }
    return result;
  }

  onConfigChange(listener: (config: Readonly<DeviceConfig>) => void): void {
    this.listeners.push(listener);
  }

  private temperatureReset = false;

  /** Clears the temperature reading (what the coap-method-confusion flaw's DELETE does): it reads 0 °C until restart. */
  resetTemperature(): void {
    this.temperatureReset = true;
  }

  uptimeSeconds(): number {
    return Math.floor((Date.now() - this.startedAt) / 1000);
  }

  /** Temperature in the configured unit, one decimal: a slow drift around 21.5 °C (0 °C once reset). */
  temperature(): string {
    const c = this.temperatureReset ? 0 : 21.5 + 1.5 * Math.sin(Date.now() / 600_000);
    return (this.current.temperatureUnit === 'F' ? c * 1.8 + 32 : c).toFixed(1);
  }

  /** Relative humidity in percent, one decimal. */
  humidity(): string {
    return (45 + 5 * Math.cos(Date.now() / 900_000)).toFixed(1);
  }
}
