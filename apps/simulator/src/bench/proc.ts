import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU and memory of processes, read from /proc (Linux). CPU in seconds of user+system time; memory
 * in bytes. A "tree" is a process and all its descendants (PostgreSQL's backends, tsx's child).
 */
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64 and arm64

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** utime + stime of one process, in seconds (0 if it is gone). */
export function cpuSeconds(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

export function children(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    const c = read(`/proc/${pid}/task/${t}/children`);
    if (c) for (const s of c.trim().split(/\s+/)) if (s) out.push(Number(s));
  }
  return out;
}

/** The process and its descendants (bounded depth and count). */
export function tree(pid: number): number[] {
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0 && out.length < 1000) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...children(p));
  }
  return out;
}

/** utime+stime of the reaped children of a process (cutime + cstime): CPU of children that exited. */
export function reapedChildrenCpuSeconds(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/**
 * CPU of a process tree: the live processes, plus what the root's children used before they exited
 * (PostgreSQL backends come and go during a run; without this their CPU would vanish with them).
 */
export function treeCpuSeconds(pid: number): number {
  return tree(pid).reduce((s, p) => s + cpuSeconds(p), 0) + reapedChildrenCpuSeconds(pid);
}

function statusField(pid: number, field: string): number {
  const s = read(`/proc/${pid}/status`);
  const m = s?.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : 0;
}

export const rssBytes = (pid: number): number => statusField(pid, 'VmRSS');
/** Peak resident set since the process started. */
export const peakRssBytes = (pid: number): number => statusField(pid, 'VmHWM');

/** Proportional set size: shared pages split among the processes sharing them (sums correctly over a tree). */
export function pssBytes(pid: number): number {
  const s = read(`/proc/${pid}/smaps_rollup`);
  const m = s?.match(/^Pss:\s+(\d+) kB/m);
  return m ? Number(m[1]) * 1024 : 0;
}

export function treePssBytes(pid: number): number {
  return tree(pid).reduce((s, p) => s + pssBytes(p), 0);
}

/** Samples a process tree's memory while a phase runs; CPU is read at start and stop. */
export interface ProcWatch {
  stop(): { cpuS: number; cpuPct: number; peakMemBytes: number; wallS: number };
}

export function watchTree(pid: number, opts: { intervalMs?: number; multiProcess?: boolean } = {}): ProcWatch {
  const t0 = performance.now();
  const cpu0 = treeCpuSeconds(pid);
  let peak = 0;
  const sample = () => {
    const v = opts.multiProcess ? treePssBytes(pid) : tree(pid).reduce((s, p) => s + rssBytes(p), 0);
    if (v > peak) peak = v;
  };
  sample();
  const timer = setInterval(sample, opts.intervalMs ?? 250);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const wallS = (performance.now() - t0) / 1000;
      const cpuS = treeCpuSeconds(pid) - cpu0;
      return { cpuS, cpuPct: wallS > 0 ? (100 * cpuS) / wallS : 0, peakMemBytes: peak, wallS };
    },
  };
}

export function parentPid(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}
