#!/usr/bin/env node
// Startup time and idle memory of `npm start` (or any command given after --), as an operator sees it:
// time from spawn until the server prints "Rivulet is listening", then the resident memory (VmRSS) of
// every process of the tree after RIVULET_MEASURE_IDLE_MS (default 10 s) of idleness. Embedded
// database in a throwaway data directory, free ports. Runs N times (default 3: a first start on an
// empty data directory, then restarts on it) and prints each run and the medians of the restarts.
//   node apps/server/scripts/measure-start.mjs [runs] [-- command args...]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const dash = args.indexOf('--');
const runs = Number((dash === -1 ? args : args.slice(0, dash))[0] ?? 3);
const command = dash === -1 ? ['npm', 'start', '--silent'] : args.slice(dash + 1);
const idleMs = Number(process.env.RIVULET_MEASURE_IDLE_MS ?? 10000);

function children(pid) {
  const out = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(p), ...children(Number(p)));
    } catch {
      /* gone */
    }
  }
  return out;
}
function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
function comm(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

async function once(dataDir) {
  const started = process.hrtime.bigint();
  const child = spawn(command[0], command.slice(1), {
    env: { ...process.env, RIVULET_DATA_DIR: dataDir, RIVULET_HTTP_PORT: '0', RIVULET_MQTT_PORT: '0', RIVULET_COAP_PORT: '0', RIVULET_LOG_LEVEL: 'warn', RIVULET_ADMIN_PASSWORD: 'measure-password', RIVULET_SYSADMIN_PASSWORD: 'measure-password' },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let err = '';
  const listening = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d;
      if (err.includes('Rivulet is listening')) resolve(Number(process.hrtime.bigint() - started) / 1e6);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before listening:\n${err}`)));
  });
  await new Promise((r) => setTimeout(r, idleMs));
  const pids = [child.pid, ...children(child.pid)];
  const per = pids.map((p) => ({ pid: p, comm: comm(p), rssKb: rssKb(p) }));
  const total = per.reduce((s, p) => s + p.rssKb, 0);
  const server = Math.max(...per.filter((p) => p.comm.startsWith('node') || p.comm === 'MainThread').map((p) => p.rssKb));
  const exited = new Promise((r) => child.on('exit', r));
  process.kill(-child.pid, 'SIGTERM');
  await exited;
  return { listeningMs: Math.round(listening), serverRssMb: +(server / 1024).toFixed(1), treeRssMb: +(total / 1024).toFixed(1), processes: per.map((p) => `${p.comm}:${(p.rssKb / 1024).toFixed(0)}MB`).join(' ') };
}

const dir = mkdtempSync(join(tmpdir(), 'rivulet-measure-'));
const results = [];
try {
  for (let i = 0; i < runs; i++) {
    const r = await once(join(dir, 'data'));
    results.push(r);
    console.log(`${i === 0 ? 'first start' : 'restart    '}  listening after ${r.listeningMs} ms  server RSS ${r.serverRssMb} MB  tree RSS ${r.treeRssMb} MB  (${r.processes})`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const restarts = results.slice(1);
if (restarts.length) {
  console.log(`median of ${restarts.length} restarts: listening after ${median(restarts.map((r) => r.listeningMs))} ms, server RSS ${median(restarts.map((r) => r.serverRssMb))} MB, tree RSS ${median(restarts.map((r) => r.treeRssMb))} MB (command: ${command.join(' ')})`);
}
