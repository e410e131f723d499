#!/usr/bin/env node
// `npm run build`: the runnable server in dist/server, started with plain node (`node dist/server/main.js`):
//   main.js (+ .map)     apps/server/src/main.ts and every @rivulet/* package bundled by esbuild; npm
//                        dependencies stay imports, resolved from node_modules (`npm ci --omit=dev`)
//   sandbox-worker.mjs   the script sandbox's worker (packages/rule-nodes), loaded beside main.js
//   web/                 the web app's production build (apps/web, vite), served at / by the api role
// `--if-stale` builds only when dist/server is missing or older than a source (`npm start` uses it, so
// a fresh clone and an edited checkout start what their sources say). `--outdir DIR` builds elsewhere.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWebIfStale } from '../../web/scripts/build-if-stale.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEFAULT_OUTDIR = join(ROOT, 'dist', 'server');
const WORKER = join(ROOT, 'packages/rule-nodes/src/script/sandbox-worker.mjs');
const WEB_DIST = join(ROOT, 'apps/web/dist');

function newest(path, skip = () => false) {
  let s;
  try {
    s = statSync(path);
  } catch {
    return 0;
  }
  if (!s.isDirectory()) return skip(path) ? 0 : s.mtimeMs;
  let max = s.mtimeMs;
  for (const e of readdirSync(path)) {
    if (e === 'node_modules' || e === 'dist') continue;
    max = Math.max(max, newest(join(path, e), skip));
  }
  return max;
}

/** Newest modification time of anything the server bundle is made of (tests and benchmarks excluded). */
function newestSource() {
  const skip = (p) => /\.test\.ts$/.test(p);
  const dirs = [join(ROOT, 'apps/server/src'), join(ROOT, 'apps/server/package.json'), join(ROOT, 'package.json'), join(ROOT, 'package-lock.json'), fileURLToPath(import.meta.url)];
  for (const p of readdirSync(join(ROOT, 'packages'))) dirs.push(join(ROOT, 'packages', p, 'src'), join(ROOT, 'packages', p, 'package.json'));
  return Math.max(...dirs.map((d) => newest(d, skip)), newest(join(WEB_DIST, 'index.html')));
}

export function serverBuildIsStale(outdir = DEFAULT_OUTDIR) {
  const built = Math.min(newest(join(outdir, 'main.js')), newest(join(outdir, 'web', 'index.html')), newest(join(outdir, 'sandbox-worker.mjs')));
  return built === 0 || newestSource() > built;
}

/** Keeps every bare import except our workspace packages (@rivulet/*) external: node_modules serves them at run time. */
const externalDependencies = {
  name: 'external-dependencies',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@rivulet/') || args.path.startsWith('node:')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

export async function buildServer({ outdir = DEFAULT_OUTDIR, quiet = false } = {}) {
  const t0 = Date.now();
  buildWebIfStale({ quiet });
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: [join(ROOT, 'apps/server/src/main.ts')],
    outfile: join(outdir, 'main.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    conditions: ['source'],
    sourcemap: 'linked',
    sourcesContent: false,
    plugins: [externalDependencies],
    logLevel: quiet ? 'error' : 'warning',
    metafile: true,
  });
  cpSync(WORKER, join(outdir, 'sandbox-worker.mjs'));
  rmSync(join(outdir, 'web'), { recursive: true, force: true });
  cpSync(WEB_DIST, join(outdir, 'web'), { recursive: true });
  writeFileSync(join(outdir, 'package.json'), '{ "type": "module" }\n');
  const inputs = Object.keys(result.metafile.inputs).length;
  if (!quiet) console.log(`server: built ${relative(process.cwd(), join(outdir, 'main.js')) || outdir} from ${inputs} files in ${Date.now() - t0} ms`);
  return outdir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--outdir');
  const outdir = i === -1 ? DEFAULT_OUTDIR : resolve(args[i + 1] ?? '');
  if (args.includes('--if-stale') && !serverBuildIsStale(outdir)) process.exit(0);
  if (args.includes('--if-stale')) console.log('server: building (dist/server is missing or older than its sources)…');
  try {
    await buildServer({ outdir });
  } catch (e) {
    console.error(`server: build failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
