import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';

/**
 * One Rivulet server process, started as `npm start` starts it (node directly, no npm in between
 * so signals reach the server): the built server when `command` says so, else the sources through
 * tsx (as `npm run start:dev`). Configured by its env.
 * Split-role tests and `npm run test:scale` run their topologies with it. Output is kept (the last
 * 64 KiB) and, when `logFile` is given, written there in full.
 */
export interface RivuletProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The process's output so far (stdout and stderr, last 64 KiB). */
  output(): string;
  readonly exited: Promise<number | null>;
  /** Sends a signal (SIGKILL for a crash, SIGTERM for a graceful stop) and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
const KEEP = 64 * 1024;

export function spawnRivulet(options: {
  name: string;
  env: Record<string, string>;
  logFile?: string;
  /** node flags and entry file; default: the sources through tsx (`npm run start:dev` without the web build). */
  command?: { flags: string[]; entry: string };
}): RivuletProcess {
  const command = options.command ?? { flags: ['--max-semi-space-size=64', '--conditions=source', '--import', 'tsx'], entry: join(REPO_ROOT, 'apps/server/src/main.ts') };
  const child = spawn(process.execPath, [...command.flags, command.entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  let out = '';
  const keep = (d: Buffer): void => {
    log?.write(d);
    out += d.toString();
    if (out.length > 2 * KEEP) out = out.slice(-KEEP);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let code: number | null | undefined;
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (c, signal) => {
      code = c ?? (signal ? 128 : null);
      log?.end();
      r(code);
    }),
  );
  return {
    name: options.name,
    child,
    pid: child.pid ?? -1,
    output: () => out.slice(-KEEP),
    exited,
    async kill(signal) {
      if (code === undefined) child.kill(signal);
      return exited;
    },
  };
}

/** Polls `url` + /api/ready until it answers 200; fails early when the process exits, with its output. */
export async function waitRivuletReady(proc: RivuletProcess, url: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void proc.exited.then((c) => (exitCode = c));
  let last = '';
  while (Date.now() < end) {
    if (exitCode !== undefined) throw new Error(`${proc.name} exited (${exitCode}) before it was ready:\n${proc.output().slice(-4000)}`);
    try {
      const r = await fetch(`${url}/api/ready`, { signal: AbortSignal.timeout(3_000) });
      last = `${r.status} ${await r.text()}`;
      if (r.status === 200) return;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${proc.name} not ready after ${timeoutMs} ms (last answer: ${last}):\n${proc.output().slice(-4000)}`);
}
