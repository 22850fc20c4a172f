// The reference device's plain CoAP server, hardened: discovery, anonymous
// sensor readings, 4.05 for other methods, 4.01 for /config (it needs an
// authenticated channel), 4.04 for unknown paths (the debug resource
// included), and no version information in error replies.

import { afterEach, describe, expect, it } from 'vitest';
import { startReferenceDevice, type RunningDevice } from '../../../targets/reference-device/index.js';
import { coapRequest } from './helpers.js';

let dev: RunningDevice | undefined;

afterEach(async () => {
  await dev?.close();
  dev = undefined;
});

describe('reference device: CoAP', () => {
  it('lists its resources in link format on /.well-known/core', async () => {
    dev = await startReferenceDevice();
    const r = await coapRequest(dev.endpoints.coap, 'GET', '/.well-known/core');
    expect(r.code).toBe('2.05');
    expect(r.contentFormat).toBe(40);
    for (const res of ['</sensors/temperature>', '</sensors/humidity>', '</config>']) expect(r.payload).toContain(res);
  });

  it('serves the sensor readings as text/plain numbers', async () => {
    dev = await startReferenceDevice();
    for (const path of ['/sensors/temperature', '/sensors/humidity']) {
      const r = await coapRequest(dev.endpoints.coap, 'GET', path);
      expect(r.code).toBe('2.05');
      expect(r.contentFormat).toBe(0);
      expect(Number.isFinite(Number(r.payload))).toBe(true);
      expect(r.payload).toMatch(/^-?\d+(\.\d+)?$/);
    }
  });

  it('answers 4.05 to other methods on the sensors and on discovery', async () => {
    dev = await startReferenceDevice();
    for (const method of ['PUT', 'POST', 'DELETE'] as const) {
      expect((await coapRequest(dev.endpoints.coap, method, '/sensors/temperature', '30')).code).toBe('4.05');
      expect((await coapRequest(dev.endpoints.coap, method, '/sensors/humidity', '30')).code).toBe('4.05');
    }
    expect((await coapRequest(dev.endpoints.coap, 'POST', '/.well-known/core')).code).toBe('4.05');
  });

  it('refuses GET and PUT /config from plain CoAP with 4.01 and does not change the config', async () => {
    dev = await startReferenceDevice();
    expect((await coapRequest(dev.endpoints.coap, 'GET', '/config')).code).toBe('4.01');
    expect((await coapRequest(dev.endpoints.coap, 'PUT', '/config', '{"reportIntervalSeconds":5}')).code).toBe('4.01');
    expect((await coapRequest(dev.endpoints.coap, 'POST', '/config', '{}')).code).toBe('4.05');
    expect((await coapRequest(dev.endpoints.coap, 'DELETE', '/config')).code).toBe('4.05');
  });

  it('answers 4.04 to unknown paths', async () => {
    dev = await startReferenceDevice();
    for (const path of ['/', '/nope', '/sensors', '/sensors/temperature/x', '/CONFIG', '/debug']) {
      expect((await coapRequest(dev.endpoints.coap, 'GET', path)).code).toBe('4.04');
    }
  });

  it('keeps DELETE on the temperature a 4.05 and the reading unchanged', async () => {
    dev = await startReferenceDevice();
    expect((await coapRequest(dev.endpoints.coap, 'DELETE', '/sensors/temperature')).code).toBe('4.05');
    expect(Number((await coapRequest(dev.endpoints.coap, 'GET', '/sensors/temperature')).payload)).toBeGreaterThan(15);
  });

  it('puts no diagnostic payload with version information in error replies', async () => {
    dev = await startReferenceDevice();
    const errors = [
      await coapRequest(dev.endpoints.coap, 'GET', '/nope'),
      await coapRequest(dev.endpoints.coap, 'GET', '/debug'),
      await coapRequest(dev.endpoints.coap, 'PUT', '/sensors/humidity', '1'),
      await coapRequest(dev.endpoints.coap, 'GET', '/config'),
    ];
    expect(errors.map((r) => r.code)).toEqual(['4.04', '4.04', '4.05', '4.01']);
    for (const r of errors) expect(r.payload).not.toMatch(/\d+\.\d+\.\d+|firmware|rd1|node|\.js/i);
    expect(errors.slice(0, 3).map((r) => r.payload)).toEqual(['', '', '']);
  });
});
