import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

export interface StartCommand {
  /** The server's node flags (GC settings, source maps). */
  flags: string[];
  /** The server's entry file, absolute (dist/server/main.js: the built server). */
  entry: string;
}

let prepared: StartCommand | undefined;

/**
 * The root `npm start` script, so benchmarks run the server exactly as users start it:
 * `<steps> && node <flags> <entry>`. The steps before the last `&&` (the build when stale) run here,
 * once per process; the caller starts `node <flags> <entry>` itself (with its own extra flags).
 */
export function startCommand(): StartCommand {
  if (prepared) return prepared;
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  const script = pkg.scripts?.start ?? '';
  const steps = script.split('&&');
  const parts = steps.pop()!.trim().split(/\s+/);
  const at = parts.findIndex((p, i) => i > 0 && !p.startsWith('-') && parts[i - 1] !== '--import');
  if (parts[0] !== 'node' || at === -1) throw new Error(`the root start script is not "[steps &&] node <flags> <entry>": ${script}`);
  if (steps.length) execSync(steps.join('&&'), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  prepared = { flags: parts.slice(1, at), entry: join(ROOT, parts[at]!) };
  return prepared;
}
