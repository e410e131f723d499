import { describe, expect, it } from 'vitest';
import { parseSimArgs } from './options';

describe('simulator options', () => {
  it('defaults: mqtt next to the REST host, one message per device per second', () => {
    const o = parseSimArgs(['--devices', '1000', '--url', 'http://10.0.0.5:8080'], { RIVULET_ADMIN_PASSWORD: 'pw' });
    expect(o).toMatchObject({ protocol: 'mqtt', devices: 1000, rate: 1000, durationS: 60, qos: 1, mqttUrl: 'mqtt://10.0.0.5:1883', coapUrl: 'coap://10.0.0.5:5683', password: 'pw' });
    expect(o.template.shape).toBe('flat');
    expect(o.mqttVersion).toBe(4);
  });

  it('--mqtt-version: 4 (MQTT 3.1.1) or 5', () => {
    expect(parseSimArgs(['--mqtt-version', '5']).mqttVersion).toBe(5);
    expect(() => parseSimArgs(['--mqtt-version', '3'])).toThrow(/--mqtt-version must be 4 \(MQTT 3.1.1\) or 5/);
  });

  it('takes the issue example and rejects bad values with a clear message', () => {
    const o = parseSimArgs(['--devices', '1000', '--protocol', 'http', '--rate', '5000', '--duration', '60', '--template', 'bench', '--shape', 'array', '--groups', '4']);
    expect(o).toMatchObject({ protocol: 'http', rate: 5000, template: { shape: 'array', groups: 4 } });
    expect(() => parseSimArgs(['--protocol', 'amqp'])).toThrow(/--protocol must be mqtt, http or coap/);
    expect(() => parseSimArgs(['--rate=-1'])).toThrow(/--rate must be a number >= 0/);
    expect(() => parseSimArgs(['--template', 'nope'])).toThrow(/--template must be one of/);
    expect(() => parseSimArgs(['--bogus'])).toThrow();
  });
});
