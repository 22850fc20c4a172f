// Parsers for option values: each refuses a bad value with a message that
// names the option and shows the expected form (exit 2).

import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../core/duration.js';
import { parseSeed } from '../core/seed.js';

export function durationOption(name: string) {
  return (value: string): number => {
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0) throw new InvalidArgumentError(`${name} takes a duration like 500ms, 20s or 2m`);
    return ms;
  };
}

export function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`${name} takes a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}

export function seedOption(value: string): number {
  const s = parseSeed(value);
  if (s === undefined) throw new InvalidArgumentError('--seed takes a whole number from 1 to 2147483647');
  return s;
}

/** Comma-separated and repeatable: `--only a,b --only c`. */
export function listOption(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

export function useColor(flag: boolean | undefined): boolean {
  if (flag === false) return false;
  if (process.env['NO_COLOR'] !== undefined) return false;
  if (process.env['FORCE_COLOR'] !== undefined) return true;
  return Boolean(process.stdout.isTTY);
}
