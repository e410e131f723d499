import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configReference, loadConfig } from './config';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c.RIVULET_HTTP_PORT).toBe(8080);
    expect(c.RIVULET_MQTT_PORT).toBe(1883);
    expect(c.RIVULET_COAP_PORT).toBe(5683);
    expect(c.RIVULET_DATA_DIR).toBe('./data');
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.RIVULET_QUEUE).toBe('memory');
    expect(c.RIVULET_ROLES).toEqual(['transport', 'rule-engine', 'api']);
  });
  it('names each bad variable', () => {
    expect(() => loadConfig({ RIVULET_HTTP_PORT: 'eighty' })).toThrow(/RIVULET_HTTP_PORT/);
    expect(() => loadConfig({ RIVULET_ROLES: 'transport,cooking', RIVULET_QUEUE: 'kafka', KAFKA_BROKERS: 'x:9092' })).toThrow(/unknown role "cooking"/);
    expect(() => loadConfig({ RIVULET_QUEUE: 'kafka' })).toThrow(/KAFKA_BROKERS/);
    expect(() => loadConfig({ RIVULET_ROLES: 'transport' })).toThrow(/RIVULET_ROLES.*kafka/);
    expect(() => loadConfig({ RIVULET_QUEUE: 'rabbit' })).toThrow(/RIVULET_QUEUE/);
    expect(() => loadConfig({ RIVULET_SYSADMIN_EMAIL: 'Tenant@rivulet.local' })).toThrow(/RIVULET_SYSADMIN_EMAIL.*differ/);
    expect(() => loadConfig({ RIVULET_OUTBOUND_ALLOW: '10.0.0.0/8, 10.0.0.300/32' })).toThrow(/RIVULET_OUTBOUND_ALLOW: not a CIDR, address or host name: 10\.0\.0\.300\/32/);
    expect(() => loadConfig({ RIVULET_OUTBOUND_DENY: 'fd00::/200' })).toThrow(/RIVULET_OUTBOUND_DENY/);
    expect(() => loadConfig({ RIVULET_QUEUE_COMMIT: 'sometimes' })).toThrow(/RIVULET_QUEUE_COMMIT/);
    expect(() => loadConfig({ RIVULET_QUEUE_PREFIX: 'a/b' })).toThrow(/RIVULET_QUEUE_PREFIX: may hold only/);
    expect(() => loadConfig({ RIVULET_QUEUE_MAX_LAG: '0' })).toThrow(/RIVULET_QUEUE_MAX_LAG/);
    expect(() => loadConfig({ RIVULET_NODE_ID: 'node 1' })).toThrow(/RIVULET_NODE_ID: may hold only/);
  });
  it('reads the Kafka queue settings', () => {
    const c = loadConfig({ RIVULET_QUEUE: 'kafka', KAFKA_BROKERS: '127.0.0.1:9092', RIVULET_ROLES: 'rule-engine', RIVULET_QUEUE_COMMIT: 'on-receipt', RIVULET_QUEUE_PREFIX: 'staging.', RIVULET_QUEUE_MAX_LAG: '5000', RIVULET_NODE_ID: 'worker-2' });
    expect(c).toMatchObject({ RIVULET_ROLES: ['rule-engine'], RIVULET_QUEUE_COMMIT: 'on-receipt', RIVULET_QUEUE_PREFIX: 'staging.', RIVULET_QUEUE_MAX_LAG: 5000, RIVULET_NODE_ID: 'worker-2' });
    expect(loadConfig({})).toMatchObject({ RIVULET_QUEUE_COMMIT: 'after-processing', RIVULET_QUEUE_PREFIX: '', RIVULET_QUEUE_MAX_LAG: 100000 });
  });
  it('reads the outbound lists as entries', () => {
    expect(loadConfig({}).RIVULET_OUTBOUND_ALLOW).toEqual([]);
    expect(loadConfig({ RIVULET_OUTBOUND_ALLOW: ' 10.1.0.0/16, api.example.com ,*.corp.example,fd00::1 ' }).RIVULET_OUTBOUND_ALLOW).toEqual(['10.1.0.0/16', 'api.example.com', '*.corp.example', 'fd00::1']);
  });
  it('docs/configuration.md lists every setting with its default', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'configuration.md'), 'utf8');
    for (const s of configReference()) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${s.name}\``));
      expect(row, `${s.name} missing from docs/configuration.md`).toBeDefined();
      if (s.default) expect(row).toContain(`\`${s.default}\``);
    }
  });
});
