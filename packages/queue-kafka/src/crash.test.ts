import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createKafkaQueue } from './kafka-queue';
import type { CommitMode } from './options';

/**
 * A real fault: a consumer process is killed with SIGKILL mid-stream while records keep arriving;
 * a second process in the same group takes over. At-least-once must lose nothing (duplicates are
 * the price, at most the batches in hand); at-most-once must repeat nothing (losses are the price).
 */
const ROOT = join(import.meta.dirname, '..', '..', '..');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'crash-consumer.ts');
const TOTAL = 12_000;
const DEVICES = 100;
const dir = mkdtempSync(join(tmpdir(), 'rivulet-crash-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

async function startConsumer(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', FIXTURE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`consumer exited (${code}) before ready: ${err}`)));
  });
  return child;
}

async function crashRun(commitMode: CommitMode) {
  const brokers = inject('kafkaBrokers');
  const topic = `rivulet-test.crash.${randomUUID().slice(0, 8)}`;
  const group = `crash-${commitMode}`;
  const queue = createKafkaQueue({ brokers: brokers.split(','), clientId: 'crash-producer' });
  try {
    const outA = join(dir, `${topic}.a`);
    const outB = join(dir, `${topic}.b`);
    const seq = new Map<string, number>();
    let produced = 0;
    const produce = async (n: number): Promise<void> => {
      const recs = Array.from({ length: n }, (_, i) => {
        const key = `device-${(produced + i) % DEVICES}`;
        const s = seq.get(key) ?? 0;
        seq.set(key, s + 1);
        return { key, value: { id: `${key}:${s}` } };
      });
      await queue.produce(topic, recs);
      produced += n;
    };
    await produce(2_000);
    const a = await startConsumer([brokers, topic, group, commitMode, outA]);
    // Keep producing while A consumes; kill it once it is well into the stream.
    while (lines(outA).length < 2_500) {
      if (produced < TOTAL / 2) await produce(200);
      await sleep(10);
    }
    a.kill('SIGKILL');
    const killedAt = Date.now();
    await new Promise((r) => a.once('exit', r));
    const beforeKill = lines(outA).length;
    const b = await startConsumer([brokers, topic, group, commitMode, outB]);
    while (produced < TOTAL) await produce(500);
    const deadline = Date.now() + 60_000;
    while ((await queue.lag(topic, group)) > 0) {
      if (Date.now() > deadline) throw new Error('consumer B did not catch up within 60 s');
      await sleep(100);
    }
    const tookOver = Date.now() - killedAt;
    b.kill('SIGTERM');
    await new Promise((r) => b.once('exit', r));

    const all = [...lines(outA), ...lines(outB)];
    const unique = new Set(all);
    const result = { produced, processedByA: beforeKill, processedByB: lines(outB).length, lost: produced - unique.size, duplicates: all.length - unique.size, caughtUpMs: tookOver };
    console.log(`crash test (${commitMode}): ${JSON.stringify(result)}`);
    // Per device, B processes in order from where the group's commit left off.
    const lastSeq = new Map<string, number>();
    for (const id of lines(outB)) {
      const [key, s] = id.split(':') as [string, string];
      expect(Number(s), `order of ${key}`).toBeGreaterThan(lastSeq.get(key) ?? -1);
      lastSeq.set(key, Number(s));
    }
    return result;
  } finally {
    await queue.close();
  }
}

describe('crash: a consumer killed with SIGKILL mid-stream, a second one takes over', () => {
  it('at-least-once (commit after processing): nothing lost; duplicates at most the batches in hand', async () => {
    const r = await crashRun('after-processing');
    expect(r.lost).toBe(0);
    // 4 partitions in flight at once, each with a 50-record slice in the handler and the previous
    // slice's commit in flight: the most a kill can leave processed but uncommitted.
    expect(r.duplicates).toBeLessThanOrEqual(4 * 2 * 50);
  }, 120_000);

  it('at-most-once (commit on receipt): nothing repeated; losses at most the batches in hand', async () => {
    const r = await crashRun('on-receipt');
    expect(r.duplicates).toBe(0);
    expect(r.lost).toBeLessThanOrEqual(4 * 50);
  }, 120_000);
});
