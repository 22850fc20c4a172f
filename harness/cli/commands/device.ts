// `gauntlet device`: runs the reference device alone, prints its endpoints
// and credentials, and optionally writes its target file, so other tools
// (or `gauntlet run --target`) can be pointed at it. Runs until Ctrl-C.

import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { GauntletError } from '../../core/errors.js';
import { FLAWS, FLAW_INFO, parseFlaws, startReferenceDevice } from '../../../targets/reference-device/index.js';
import { durationOption, intOption } from '../options.js';

interface DeviceFlags {
  flaws?: string;
  provisioned?: boolean;
  writeTarget?: string;
  mqttPort?: number;
  coapPort?: number;
  httpPort?: number;
  lockoutAttempts: number;
  lockoutWindow: number;
  exitAfter?: number;
}

export function registerDevice(program: Command): void {
  program
    .command('device')
    .description('run the reference device on 127.0.0.1 and print its endpoints')
    .option('--flaws <list>', `weaknesses to switch on: ${FLAWS.join(', ')}`)
    .option('--provisioned', 'start provisioned instead of factory-fresh')
    .option('--write-target <file>', 'write the device\'s target file (YAML) here, for `gauntlet run --target`')
    .option('--mqtt-port <n>', 'MQTT port (default: a free one)', intOption('--mqtt-port', 1, 65535))
    .option('--coap-port <n>', 'CoAP port (default: a free one)', intOption('--coap-port', 1, 65535))
    .option('--http-port <n>', 'HTTP port (default: a free one)', intOption('--http-port', 1, 65535))
    .option('--lockout-attempts <n>', 'failed logins before a user is locked', intOption('--lockout-attempts', 1, 1000), 5)
    .option('--lockout-window <duration>', 'window (and lock duration) of the lockout', durationOption('--lockout-window'), 1000)
    .option('--exit-after <duration>', 'stop by itself after this long (for scripts)', durationOption('--exit-after'))
    .addHelpText(
      'after',
      `
Flaws:
${FLAWS.map((f) => `  ${f.padEnd(24)}${FLAW_INFO[f]}`).join('\n')}

Example:
  gauntlet device --flaws no-lockout --write-target /tmp/dut.yaml &
  gauntlet run --target /tmp/dut.yaml`,
    )
    .action(async (flags: DeviceFlags) => {
      const flaws = flags.flaws ? parseFlaws(flags.flaws) : [];
      let device;
      try {
        device = await startReferenceDevice({
          flaws,
          factoryFresh: !flags.provisioned,
          ports: { mqtt: flags.mqttPort, coap: flags.coapPort, http: flags.httpPort },
          lockout: { attempts: flags.lockoutAttempts, windowMs: flags.lockoutWindow, durationMs: flags.lockoutWindow },
          log: (line) => process.stdout.write(`device: ${line}\n`),
        });
      } catch (e) {
        throw new GauntletError('DEVICE_START', `the reference device did not start: ${(e as Error).message}`, { cause: e });
      }
      const e = device.endpoints;
      const c = device.credentials;
      const lines = [
        `reference device (${device.identity.model}, serial ${device.identity.serial}, MAC ${device.identity.mac})`,
        `  mqtts mqtts://${e.mqtts.host}:${e.mqtts.port}  (credentials here; CA ${device.deviceCa.cert})`,
        `  https https://${e.https.host}:${e.https.port}  (credentials here)`,
        `  coaps coaps://${e.coaps.host}:${e.coaps.port}  (DTLS PSK: ${c.psk.admin.identity} / ${c.psk.admin.keyHex})`,
        `  coap  coap://${e.coap.host}:${e.coap.port}  (public readings)`,
        `  mqtt  mqtt://${e.mqtt.host}:${e.mqtt.port}  (plaintext: refuses every CONNECT)`,
        `  http  http://${e.http.host}:${e.http.port}  (plaintext: /api/health, the rest redirects to https)`,
        `  state ${device.isFactoryFresh() ? `factory-fresh (shipped ${c.shipped.user}/${c.shipped.pass}; set ${c.admin.pass} via POST /api/password over https)` : 'provisioned'}`,
        `  admin ${c.admin.user} / ${c.admin.pass}`,
        `  sensor ${c.sensor.user} / ${c.sensor.pass}`,
        `  flaws ${flaws.length ? flaws.join(', ') : 'none (hardened)'}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      if (flags.writeTarget) {
        const header = '# Written by `gauntlet device`: the running reference device as a target file.\n';
        writeFileSync(flags.writeTarget, header + stringify(device.targetFile()), 'utf8');
        process.stdout.write(`  target file written to ${flags.writeTarget}\n`);
      }
      process.stdout.write('running; Ctrl-C to stop\n');
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        if (flags.exitAfter) setTimeout(stop, flags.exitAfter).unref();
      });
      await device.close();
      process.stdout.write('device stopped\n');
    });
}
