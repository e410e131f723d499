/**
 * The checked HTTP client against Node's own fetch (undici, keep-alive, no policy) on the same
 * loopback server: POST of a small JSON body, 16 in flight, 3,000 requests per round, 5 rounds
 * alternating. Prints requests/s per round and the medians. What it shows: replacing fetch by the
 * checked client (policy check per connection, redirects handled by hand, keep-alive agents) does
 * not make the REST API call node slower; a literal address here, so no DNS lookup in either.
 * Run: `npx tsx --conditions=source packages/outbound/src/bench.ts`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '@rivulet/core';
import { createOutbound } from './outbound';

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
const out = createOutbound({ logger: silentLogger, allow: ['127.0.0.1/32'] });
const N = 3000;
const C = 16;

async function rate(one: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  let i = 0;
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (i++ < N) await one();
    }),
  );
  return Math.round(N / ((performance.now() - t) / 1000));
}

const results: Record<string, number[]> = { fetch: [], checked: [] };
for (let round = 0; round < 5; round++) {
  results.fetch!.push(
    await rate(async () => {
      const r = await fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      await r.text();
    }),
  );
  results.checked!.push(await rate(() => out.http({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs: 5000, maxResponseBytes: 1 << 20 })));
  console.log(`round ${round + 1}: fetch ${results.fetch!.at(-1)} req/s, outbound.http ${results.checked!.at(-1)} req/s`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`median: fetch ${median(results.fetch!)} req/s, outbound.http ${median(results.checked!)} req/s`);
out.close();
server.closeAllConnections();
server.close();
