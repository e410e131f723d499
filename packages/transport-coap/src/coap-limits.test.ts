import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { uintOption } from './coap-message';
import { Opt, TOKEN, closeAll, rawClient, rawRequest, startTransport, waitForConsumed } from './test-harness';

const execFileP = promisify(execFile);
afterEach(closeAll);

const TELEMETRY = `api/v1/${TOKEN}/telemetry`;

/** Blocks of `payload` as libcoap sends them: a new token per block, one Request-Tag. */
function blocks(path: string, payload: Buffer, size: number, firstMid: number, tag: Buffer): Buffer[] {
  const szx = Math.log2(size) - 4;
  const out: Buffer[] = [];
  for (let num = 0; num * size < payload.length; num++) {
    const more = (num + 1) * size < payload.length;
    out.push(
      rawRequest({
        path,
        messageId: (firstMid + num) & 0xffff,
        token: Buffer.from([0xb0, num, tag[0] ?? 0]),
        payload: payload.subarray(num * size, (num + 1) * size),
        options: [
          [Opt.BLOCK1, uintOption((num << 4) | (more ? 8 : 0) | szx)],
          [Opt.SIZE1, uintOption(payload.length)],
          [Opt.REQUEST_TAG, tag],
        ],
      }),
    );
  }
  return out;
}

describe('block-wise transfers: unauthenticated ones are never kept, each endpoint is capped', () => {
  it('300 unauthenticated Block1 datagrams while a device uploads: each answered 4.01, the upload completes and its message is queued', async () => {
    const h = await startTransport();
    const device = await rawClient(h.port);
    const payload = Buffer.from(JSON.stringify({ note: 'n'.repeat(300), t: 1 }));
    const upload = blocks(TELEMETRY, payload, 64, 100, Buffer.from([0xca, 0xfe]));
    expect((await device.exchange(upload[0] as Buffer)).codeText).toBe('2.31');

    // the flood: new transfers (block 0, more to come) with a token that is no device's, from another endpoint
    const attacker = await rawClient(h.port);
    for (let i = 0; i < 300; i++) {
      const [first] = blocks('api/v1/NOT_A_TOKEN/telemetry', Buffer.alloc(200, 'a'), 64, 1000 + i, Buffer.from([i & 0xff, i >> 8]));
      // in bursts of 50: more at once overflow the socket's receive buffer on loopback (dropped, not refused)
      await attacker.send(first as Buffer);
      if (i % 50 === 49) await attacker.nth(i);
    }
    await attacker.nth(299);

    const answers = [];
    for (const b of upload.slice(1)) answers.push((await device.exchange(b)).codeText);
    expect(answers).toEqual([...Array(upload.length - 2).fill('2.31'), '2.01']);
    const [m] = await waitForConsumed(h, 1);
    expect(m?.data).toEqual({ note: 'n'.repeat(300), t: 1 });
    expect(new Set(attacker.received.map((x) => x.codeText))).toEqual(new Set(['4.01']));
    expect(h.transport.stats().blockTransfersUnauthorized).toBe(300);
  });

  it('an endpoint past its cap of transfers loses its own oldest, never another endpoint\'s', async () => {
    const h = await startTransport({ config: { maxBlockTransfersPerEndpoint: 2 } });
    const other = await rawClient(h.port);
    const payload = Buffer.from(JSON.stringify({ other: 'o'.repeat(100) }));
    const otherUpload = blocks(TELEMETRY, payload, 64, 100, Buffer.from([0x01]));
    expect((await other.exchange(otherUpload[0] as Buffer)).codeText).toBe('2.31');

    const busy = await rawClient(h.port);
    const transfers = [0x10, 0x11, 0x12].map((t, i) => blocks(TELEMETRY, Buffer.from(JSON.stringify({ n: 'x'.repeat(100) })), 64, 200 + i * 10, Buffer.from([t])));
    for (const t of transfers) expect((await busy.exchange(t[0] as Buffer)).codeText).toBe('2.31');
    // the first of the three was dropped (4.08 Request Entity Incomplete), the newest goes on
    expect((await busy.exchange(transfers[0]![1] as Buffer)).codeText).toBe('4.08');
    expect((await busy.exchange(transfers[2]![1] as Buffer)).codeText).toBe('2.01');
    // the other endpoint's transfer is intact
    expect((await other.exchange(otherUpload[1] as Buffer)).codeText).toBe('2.01');
  });
});

describe('critical options (RFC 7252 §5.4.1)', () => {
  it.each([
    ['OSCORE (9)', 9],
    ['an unassigned odd number (65001)', 65001],
  ])('%s in a Confirmable request: 4.02 Bad Option, nothing queued', async (_what, option) => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const res = await c.exchange(rawRequest({ path: TELEMETRY, payload: '{"t":1}', messageId: 42, options: [[option, Buffer.from('x')]] }));
    expect(res.codeText).toBe('4.02');
    expect(h.queue.produceCalls).toHaveLength(0);
    expect(h.transport.stats().badOption).toBe(1);
  });

  it('an unknown elective option (even number) is ignored as the RFC says: the request is served', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const res = await c.exchange(rawRequest({ path: TELEMETRY, payload: '{"t":1}', messageId: 43, options: [[65000, Buffer.from('x')]] }));
    expect(res.codeText).toBe('2.01');
  });

  it('libcoap (coap-client-notls -O 9,x) gets 4.02', async () => {
    const h = await startTransport();
    const { stdout, stderr } = await execFileP('coap-client-notls', ['-B', '5', '-m', 'post', '-O', '9,x', '-e', '{"t":1}', `coap://127.0.0.1:${h.port}/${TELEMETRY}`], { timeout: 15_000 });
    expect(`${stdout}${stderr}`).toContain('4.02');
    expect(h.queue.produceCalls).toHaveLength(0);
  });
});
