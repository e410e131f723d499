import { createSocket } from 'node:dgram';
import { createServer } from 'coap';
import { createMemoryBroadcast, createMemoryQueue, Topics } from '@rivulet/queue';
import { createCoapTransport } from '@rivulet/transport-coap';
const N = Number(process.argv[2] ?? 30000);
function packet(mid: number, tok: number): Buffer {
  const path = ['api', 'v1', 'TOK', 'telemetry'];
  const parts = [Buffer.from([0x44, 0x02, mid >> 8, mid & 0xff]), Buffer.alloc(4)];
  parts[1]!.writeUInt32BE(tok);
  let first = true;
  for (const p of path) { parts.push(Buffer.from([((first ? 11 : 0) << 4) | p.length]), Buffer.from(p)); first = false; }
  parts.push(Buffer.from([0xff]), Buffer.from(`{"t":${tok}}`));
  return Buffer.concat(parts);
}
async function load(port: number): Promise<number> {
  const socks = Array.from({ length: 50 }, () => createSocket('udp4'));
  let sent = 0, done = 0; const t0 = performance.now();
  await new Promise<void>((resolve) => {
    socks.forEach((s, i) => {
      let mid = 0;
      const next = () => { if (sent >= N) { if (done >= N) resolve(); return; } sent++; mid = (mid + 1) & 0xffff; s.send(packet(mid, sent), port, '127.0.0.1'); };
      s.on('message', () => { done++; if (done >= N) resolve(); else next(); });
      s.bind(0, () => next());
    });
  });
  const el = performance.now() - t0; socks.forEach((s) => s.close()); return N / (el / 1000);
}
const heap = () => { (globalThis as any).gc(); (globalThis as any).gc(); return process.memoryUsage().heapUsed / 2 ** 20; };
const which = process.argv[3];
if (which === 'bare') {
  const server = createServer((req, res) => { JSON.parse(req.payload.toString()); res.code = '2.01'; res.end(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server as any)._sock.address().port;
  await load(port); const h0 = heap(); const rate = await load(port); const h1 = heap();
  console.log(`bare coap: ${rate.toFixed(0)} req/s, heap ${h0.toFixed(1)} -> ${h1.toFixed(1)} MiB (+${((h1 - h0) * 1024 * 1024 / N).toFixed(0)} B/request), lru entries ${(server as any)._lru.size}`);
  server.close();
} else {
  const queue = createMemoryQueue({ partitions: 2, capacity: 100000 });
  await queue.subscribe({ topic: Topics.RULE_ENGINE, group: 'g', handler: async () => {} });
  const dev = { tenantId: 't', deviceId: 'd1', deviceName: 'n', deviceType: 'x' };
  const t = createCoapTransport({ queue, broadcast: createMemoryBroadcast(), auth: { async authenticateToken() { return dev; } }, deviceApi: { async getAttributes() { return {}; } }, config: { port: 0, host: '127.0.0.1', dedupMaxEntries: Number(process.argv[4] ?? 100000) } });
  const { port } = await t.start();
  await load(port); const h0 = heap(); const rate = await load(port); const h1 = heap();
  console.log(`rivulet coap: ${rate.toFixed(0)} req/s, heap ${h0.toFixed(1)} -> ${h1.toFixed(1)} MiB (+${((h1 - h0) * 1024 * 1024 / N).toFixed(0)} B/request)`, t.stats().dedupEntries, t.stats().pendingOutgoing, t.stats().acceptedMessages);
  await t.stop(); await queue.close();
}
process.exit(0);
