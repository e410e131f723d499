/**
 * The CoAP benchmark's load generator, run as a child process of coap-bench.ts so that it uses the
 * second core and its memory stays out of the server's heap. One UDP socket per device token, each
 * keeping one confirmable POST in flight (so --inflight sockets in all), the next sent when the
 * answer arrives. A request unanswered for 2 s is retransmitted with the same message ID (RFC 7252
 * §4.2), which the server must answer without storing the point twice. Commands over IPC:
 *
 *   {cmd:'run', port, tokens, durationMs, ts}   POSTs /api/v1/{token}/telemetry with
 *                                               {"ts":N,"values":{temperature,humidity,active}} (3 points,
 *                                               each request its own ts) for durationMs, then waits
 *                                               for the answers still open
 *   {cmd:'close'}                               exits
 *
 * and answers with {event:'ready'|'ran'|'closed', ...}.
 */
import { createSocket, type Socket } from 'node:dgram';
import { MessageType, decodeMessage, encodeMessage } from '@rivulet/transport-coap';

type Command = { cmd: 'run'; port: number; tokens: string[]; durationMs: number; ts: number } | { cmd: 'close' };

const RETRANSMIT_MS = 2_000;

function send(msg: unknown): void {
  process.send?.(msg);
}

function telemetry(token: string, messageId: number, ts: number): Buffer {
  return encodeMessage({
    type: MessageType.CON,
    code: '0.02',
    messageId,
    token: Buffer.from([messageId >> 8, messageId & 0xff, 0x42, 0x42]),
    options: [
      [11, Buffer.from('api')],
      [11, Buffer.from('v1')],
      [11, Buffer.from(token)],
      [11, Buffer.from('telemetry')],
      [12, Buffer.from([50])],
    ],
    payload: Buffer.from(`{"ts":${ts},"values":{"temperature":${(20 + Math.random() * 5).toFixed(2)},"humidity":${Math.floor(Math.random() * 100)},"active":true}}`),
  });
}

async function run(port: number, tokens: string[], durationMs: number, tsBase: number): Promise<void> {
  let ts = tsBase;
  let acked = 0;
  let failed = 0;
  let retransmits = 0;
  const latencies: number[] = [];
  const end = performance.now() + durationMs;
  const sockets: Socket[] = [];
  await Promise.all(
    tokens.map(
      (token) =>
        new Promise<void>((resolve) => {
          const sock = createSocket('udp4');
          sockets.push(sock);
          let mid = Math.floor(Math.random() * 0xffff);
          let current: { mid: number; datagram: Buffer; sentAt: number; timer: NodeJS.Timeout } | undefined;
          const next = (): void => {
            if (performance.now() >= end) {
              current = undefined;
              resolve();
              return;
            }
            mid = (mid + 1) & 0xffff;
            const datagram = telemetry(token, mid, ++ts);
            const retransmit = (): void => {
              if (current === undefined) return;
              retransmits++;
              sock.send(current.datagram, port, '127.0.0.1');
              current.timer = setTimeout(retransmit, RETRANSMIT_MS);
            };
            current = { mid, datagram, sentAt: performance.now(), timer: setTimeout(retransmit, RETRANSMIT_MS) };
            sock.send(datagram, port, '127.0.0.1');
          };
          sock.on('message', (m) => {
            const d = decodeMessage(m);
            if (d === undefined || current === undefined || d.messageId !== current.mid) return;
            clearTimeout(current.timer);
            latencies.push(performance.now() - current.sentAt);
            if (d.codeText === '2.01') acked++;
            else failed++;
            next();
          });
          sock.bind(0, '127.0.0.1', next);
        }),
    ),
  );
  for (const s of sockets) s.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(2));
  send({ event: 'ran', acked, failed, retransmits, p50: pct(0.5), p99: pct(0.99) });
}

process.on('message', (m: Command) => {
  if (m.cmd === 'run') {
    run(m.port, m.tokens, m.durationMs, m.ts).catch((e: unknown) => send({ event: 'error', error: String(e) }));
  } else if (m.cmd === 'close') {
    send({ event: 'closed' });
    process.exit(0);
  }
});
send({ event: 'ready' });
