#!/usr/bin/env node
// Builds the web app (vite build) when apps/web/dist is missing or older than any source file, so
// `npm start` on a fresh clone serves the whole product and a later start skips the build.
// Also imported by the browser tests' setup.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json', '../../packages/api-types/src'];

function newest(path) {
  let s;
  try {
    s = statSync(path);
  } catch {
    return 0;
  }
  if (!s.isDirectory()) return s.mtimeMs;
  let max = s.mtimeMs;
  for (const e of readdirSync(path)) max = Math.max(max, newest(join(path, e)));
  return max;
}

export function webBuildIsStale() {
  const built = newest(join(webDir, 'dist', 'index.html'));
  if (built === 0) return true;
  return SOURCES.some((p) => newest(join(webDir, p)) > built);
}

export function buildWebIfStale({ quiet = false } = {}) {
  if (!webBuildIsStale()) return false;
  if (!quiet) console.log('web app: building (apps/web/dist is missing or older than its sources)…');
  const vite = join(webDir, '..', '..', 'node_modules', 'vite', 'bin', 'vite.js');
  execFileSync(process.execPath, [vite, 'build', '--logLevel', quiet ? 'error' : 'warn'], { cwd: webDir, stdio: 'inherit' });
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) buildWebIfStale();
