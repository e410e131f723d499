import { createMemoryBroadcast, createMemoryQueue } from '@rivulet/queue';
import { createCoapTransport } from '@rivulet/transport-coap';
import { execFile } from 'node:child_process';
const queue = createMemoryQueue({ partitions: 2 });
const dev = { tenantId: 't', deviceId: 'd1', deviceName: 'n', deviceType: 'x' };
const t = createCoapTransport({ queue, broadcast: createMemoryBroadcast(), auth: { async authenticateToken(tok) { return tok === 'TOK' ? dev : null; } },
  deviceApi: { async getAttributes() { return { client: { a: 1 }, shared: { s: 'v' } }; } }, config: { port: 0, host: '127.0.0.1' } });
const { port } = await t.start();
await new Promise<void>((r) => execFile('coap-client-notls', ['-v', '7', '-B', '3', '-b', '64', '-m', 'post', '-e', JSON.stringify({k:'x'.repeat(150)}), `coap://127.0.0.1:${port}/api/v1/TOK/telemetry`], (e, out, err) => { console.log(out, err); r(); }));
await t.stop(); await queue.close();
