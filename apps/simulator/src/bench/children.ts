import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';

/** A child process of the benchmark, with its output kept (bounded) for error messages. */
export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Last lines of stdout+stderr. */
  tail(): string;
  /** Resolves with the first line (stdout or stderr) matching `re`; rejects on exit or timeout. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  /** Each stdout line. */
  onLine(fn: (line: string, stream: 'stdout' | 'stderr') => void): void;
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after graceMs; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Child>();
const exitHooks: Array<() => void> = [];
let hooked = false;

/**
 * Every child still running when the benchmark exits is killed (by its pid, never by name), and the
 * synchronous clean-ups registered with atExit run (PostgreSQL's stop), on Ctrl-C too.
 */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.proc.kill('SIGKILL');
      } catch {
        // gone already
      }
    }
    for (const fn of exitHooks.splice(0)) {
      try {
        fn();
      } catch {
        // best effort
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
}

/** A synchronous clean-up for when the process exits before its own finally blocks ran. */
export function atExit(fn: () => void): void {
  hookExit();
  exitHooks.push(fn);
}

export function startChild(name: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): Child {
  hookExit();
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const lines: string[] = [];
  const listeners: Array<(l: string, s: 'stdout' | 'stderr') => void> = [];
  const push = (stream: 'stdout' | 'stderr') => (l: string) => {
    lines.push(l);
    if (lines.length > 200) lines.shift();
    for (const fn of listeners) fn(l, stream);
  };
  if (proc.stdout) createInterface({ input: proc.stdout }).on('line', push('stdout'));
  if (proc.stderr) createInterface({ input: proc.stderr }).on('line', push('stderr'));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const child: Child = {
    name,
    proc,
    pid: proc.pid,
    tail: () => lines.slice(-40).join('\n'),
    onLine: (fn) => void listeners.push(fn),
    exited,
    waitFor(re, timeoutMs) {
      return new Promise<string>((resolve, reject) => {
        const hit = lines.find((l) => re.test(l));
        if (hit) return resolve(hit);
        const timer = setTimeout(() => reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms. Output:\n${child.tail()}`)), timeoutMs);
        listeners.push((l) => {
          if (re.test(l)) {
            clearTimeout(timer);
            resolve(l);
          }
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code}) before printing ${re}. Output:\n${child.tail()}`));
        });
      });
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        live.delete(child);
        return;
      }
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
      live.delete(child);
    },
  };
  live.add(child);
  return child;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether something accepts TCP connections on 127.0.0.1:port (within 2 s). */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createConnection({ host: '127.0.0.1', port });
    const t = setTimeout(() => {
      s.destroy();
      res(false);
    }, 2_000);
    s.once('connect', () => {
      clearTimeout(t);
      s.end();
      res(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      res(false);
    });
  });
}
