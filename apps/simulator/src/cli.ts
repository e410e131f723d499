#!/usr/bin/env -S node --import tsx
/**
 * `npm run sim -- --devices 1000 --protocol mqtt --rate 5000 --duration 60`: see --help.
 * Exit code 0 when every message sent was acknowledged, 1 otherwise, 2 on bad arguments.
 */
import { runDemo } from './demo';
import { writeTokens } from './devices';
import { parseSimArgs, USAGE, type SimOptions } from './options';
import { runSimulator } from './simulator';

async function main(): Promise<number> {
  let o: SimOptions;
  try {
    o = parseSimArgs(process.argv.slice(2), process.env);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const out = (t: string) => void process.stderr.write(t);
  if (o.demo) {
    if (!o.password) {
      process.stderr.write('--demo needs --password (or RIVULET_ADMIN_PASSWORD)\n');
      return 2;
    }
    const demo = await runDemo({ url: o.url, username: o.username, password: o.password, out });
    if (o.saveTokens) {
      await writeTokens(o.saveTokens, demo.devices);
      out(`Tokens of the demo devices written to ${o.saveTokens}; this keeps them live:\n  npm run sim -- --protocol http --url ${o.url} --tokens ${o.saveTokens} --devices ${demo.devices.length} --rate 5\n`);
    }
    return 0;
  }
  // People read stderr (progress, summary); with --json, stdout carries one JSON event per line.
  const emit = o.json ? (ev: Record<string, unknown>) => void process.stdout.write(`${JSON.stringify(ev)}\n`) : undefined;
  let stopRequested: (() => void) | undefined;
  const stopped = new Promise<void>((r) => (stopRequested = r));
  process.once('SIGTERM', () => stopRequested?.());
  process.once('SIGINT', () => stopRequested?.());
  const r = await runSimulator(
    o,
    {
      out: o.json ? () => undefined : out,
      isTTY: Boolean(process.stderr.isTTY),
      // --idle ends at --duration or on a signal (the benchmark holds connections until it has measured).
      idleWait: (msWait) => Promise.race([new Promise<void>((res) => setTimeout(res, msWait).unref()), stopped]),
    },
    emit,
  );
  if (r.connected === 0) {
    process.stderr.write(`No device could connect (${r.connectFailures} failures)\n`);
    return 1;
  }
  if (!r.summary) return 0;
  return r.summary.errors === 0 && r.summary.unanswered === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`simulator failed: ${describeFailure(e)}\n`);
    process.exit(1);
  },
);

/** fetch() says only "fetch failed": name the cause (connection refused, host not found) and what to check. */
function describeFailure(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: { code?: string; address?: string; port?: number; message?: string } }).cause;
  if (cause === undefined) return e.message;
  const where = cause.address !== undefined ? ` ${cause.address}${cause.port !== undefined ? `:${cause.port}` : ''}` : '';
  const hint = cause.code === 'ECONNREFUSED' || cause.code === 'ENOTFOUND' ? ' (is Rivulet running there? see --url)' : '';
  return `${e.message}: ${cause.code ?? cause.message ?? 'unknown cause'}${where}${hint}`;
}
