import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { caseRng, runPool } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_SCALE, FUZZ_SEED, HEAP_GROWTH_LIMIT, MB, report, runInBatches, startFuzzServer, type FuzzServer } from './fuzz-harness';
import { rawWsFrames, wsMessage } from './ws-inputs';

/**
 * WebSocket fuzzing (issue #16) on /api/ws: sessions of the `ws` client sending random commands in
 * ThingsBoard's shapes, random JSON, text and binary messages; and hand-made connections writing
 * raw frames that break RFC 6455. No handshake may be answered 5xx, no server frame may carry
 * INTERNAL_ERROR (1), the well-behaved client keeps working between batches, the server logs no
 * error, its heap is back near the baseline. RIVULET_FUZZ_SEED=<n> replays a run.
 */
const SESSIONS = Math.round(2_000 * FUZZ_SCALE);
const RAW_CONNECTIONS = Math.round(3_000 * FUZZ_SCALE);
const BATCHES = 4;
const PARALLEL = 24;
/** How long a session stays open after its last message (answers to read, subscriptions to hold). */
const LINGER_MS = 100;
const INTERNAL_ERROR = 1;

describe('WebSocket fuzzing', () => {
  let f: FuzzServer;
  const seen = { frames: 0, rawFrames: 0, serverFrames: 0, internalErrors: [] as string[], handshake5xx: [] as string[], closedByServer: 0 };

  beforeAll(async () => {
    f = await startFuzzServer('ws');
  });
  afterAll(async () => {
    await f?.stop();
  });

  function sessionCase(i: number): Promise<void> {
    const rng = caseRng(FUZZ_SEED, i);
    const messages = Array.from({ length: rng.int(1, 10) }, () => wsMessage(rng, f.target.id, f.jwt));
    const authFirst = rng.chance(0.8);
    return new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${f.app.port}${rng.pick(['/api/ws', '/api/ws', `/api/ws/plugins/telemetry?token=${f.jwt}`])}`);
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        ws.terminate();
        resolve();
      };
      const timer = setTimeout(finish, 10_000);
      ws.on('unexpected-response', (_req, res) => {
        if ((res.statusCode ?? 0) >= 500) seen.handshake5xx.push(`case ${i}: ${res.statusCode}`);
        finish();
      });
      ws.on('error', finish);
      ws.on('close', () => {
        seen.closedByServer++;
        finish();
      });
      ws.on('message', (d) => {
        seen.serverFrames++;
        try {
          const m = JSON.parse(String(d)) as { errorCode?: number; errorMsg?: string };
          if (m.errorCode === INTERNAL_ERROR) seen.internalErrors.push(`case ${i}: ${m.errorMsg}`);
        } catch {
          seen.internalErrors.push(`case ${i}: a server frame that is not JSON`);
        }
      });
      ws.on('open', () => {
        if (authFirst) ws.send(JSON.stringify({ authCmd: { cmdId: 0, token: f.jwt } }));
        for (const m of messages) {
          seen.frames++;
          ws.send(m.data, { binary: m.binary });
        }
        setTimeout(finish, LINGER_MS);
      });
    });
  }

  function rawCase(i: number): Promise<void> {
    const rng = caseRng(FUZZ_SEED, i);
    const frames = rawWsFrames(rng, f.target.id, f.jwt);
    const path = rng.pick(['/api/ws', '/api/ws', '/api/ws/plugins/telemetry', '/api/ws/x', '/api/v1/ws']);
    const headers = [
      `GET ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${rng.chance(0.9) ? randomBytes(16).toString('base64') : rng.string(rng.length(30))}`,
      `Sec-WebSocket-Version: ${rng.pick(['13', '13', '13', '8', 'x'])}`,
      ...(rng.chance(0.2) ? ['Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits'] : []),
    ];
    return new Promise((resolve) => {
      const s = connect(f.app.port, '127.0.0.1');
      let head = '';
      let sent = false;
      const finish = (): void => {
        clearTimeout(timer);
        s.destroy();
        resolve();
      };
      const timer = setTimeout(finish, 3_000);
      s.on('error', finish);
      s.on('close', finish);
      s.on('data', (d) => {
        if (sent) return;
        head += d.toString('latin1');
        const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
        if (!status) return;
        if (Number(status[1]) >= 500) seen.handshake5xx.push(`raw case ${i}: ${status[1]}`);
        if (status[1] !== '101') return finish();
        sent = true;
        for (const fr of frames) {
          seen.rawFrames++;
          s.write(fr);
        }
        setTimeout(finish, LINGER_MS);
      });
      s.on('connect', () => s.write(`${headers.join('\r\n')}\r\n\r\n`));
    });
  }

  it(`${SESSIONS} sessions of random commands and ${RAW_CONNECTIONS} connections of raw frames: no server error, the server keeps serving, its heap near the baseline`, async () => {
    const sessPer = Math.ceil(SESSIONS / BATCHES);
    const rawPer = Math.ceil(RAW_CONNECTIONS / BATCHES);
    const batch = (b: number) =>
      Promise.all([
        runPool(b * sessPer, Math.min(SESSIONS, (b + 1) * sessPer), PARALLEL, sessionCase),
        runPool(SESSIONS + b * rawPer, SESSIONS + Math.min(RAW_CONNECTIONS, (b + 1) * rawPer), PARALLEL, rawCase),
      ]);
    const { baseline, final } = await runInBatches(f, BATCHES, batch);
    report('ws', {
      frames: seen.frames + seen.rawFrames,
      clientFrames: seen.frames,
      rawFrames: seen.rawFrames,
      sessions: SESSIONS,
      rawConnections: RAW_CONNECTIONS,
      serverFrames: seen.serverFrames,
      internalErrors: seen.internalErrors.length,
      handshake5xx: seen.handshake5xx.length,
      'server errors': f.logCounts.error ?? 0,
      uncaught: f.uncaught.length,
      heapBaselineMB: (baseline / MB).toFixed(1),
      heapFinalMB: (final / MB).toFixed(1),
    });
    expect(seen.frames + seen.rawFrames).toBeGreaterThanOrEqual(10_000 * FUZZ_SCALE);
    expect(seen.internalErrors.slice(0, 20)).toEqual([]);
    expect(seen.handshake5xx).toEqual([]);
    expect(f.uncaught).toEqual([]);
    expect(f.errorLogs).toEqual([]);
    expect(final - baseline).toBeLessThan(HEAP_GROWTH_LIMIT);
  }, 300_000);
});
