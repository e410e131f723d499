// The script sandbox's worker thread (see sandbox.ts for the design). Plain JavaScript so that it
// loads the same under tsx, vitest and plain node, with no TypeScript loader in the worker.
//
// Each compiled script owns a QuickJS runtime (its memory and stack limits) with one context that
// holds the compiled function. Calls arrive in batches; each call gets a deadline that QuickJS's
// interrupt handler enforces. The deadline and the id of the running call are also published in
// shared memory, so the host can terminate this thread when a call outlives its deadline without
// reaching an interrupt check (a long loop inside a built-in such as Array(1e9).indexOf(1)).
import { parentPort, workerData } from 'node:worker_threads';
import { getQuickJS } from 'quickjs-emscripten';

const QuickJS = await getQuickJS();
/** [0]: deadline of the running call (ms since epoch, 0 when idle); [1]: its call id. */
const running = new Float64Array(workerData.shared);
/** @type {Map<number, {spec: any, rt: any, ctx: any, fn: any, deadline: number} | {spec: any, error: string}>} */
const scripts = new Map();

/** The QuickJS-side wrapper: JSON in, JSON out, built-ins captured before any user code runs. */
function wrapperSource(spec) {
  const args = spec.params.map((_, i) => `a[${i}]`).join(', ');
  return (
    `(function () { var parse = JSON.parse, stringify = JSON.stringify;\n${spec.prelude ?? ''}\n` +
    `var fn = (function (${spec.params.join(', ')}) {\n${spec.body}\n});\n` +
    `return function (input) { var a = parse(input); var r = fn(${args}); ` +
    `if (r === undefined) return 'null'; var s = stringify(r); return s === undefined ? 'null' : s; }; })()`
  );
}

function build(spec) {
  const rt = QuickJS.newRuntime();
  rt.setMemoryLimit(spec.memoryLimitBytes);
  rt.setMaxStackSize(spec.stackBytes);
  const entry = { spec, rt, ctx: undefined, fn: undefined, deadline: Date.now() + 1000 };
  rt.setInterruptHandler(() => Date.now() > entry.deadline);
  entry.ctx = rt.newContext();
  const r = entry.ctx.evalCode(wrapperSource(spec), `${spec.name}.js`);
  if (r.error) {
    const err = entry.ctx.dump(r.error);
    r.error.dispose();
    entry.ctx.dispose();
    rt.dispose();
    return { spec, error: `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}` };
  }
  entry.fn = r.value;
  entry.deadline = 0;
  return entry;
}

function dispose(entry) {
  if (!entry || entry.error !== undefined) return;
  try {
    entry.fn.dispose();
    entry.ctx.dispose();
    entry.rt.dispose();
  } catch {
    // A runtime that cannot be freed is leaked rather than taking the worker down.
  }
}

/** Maps QuickJS's errors to the sandbox's kinds; a limit error leaves the context suspect. */
function classify(err) {
  const name = err?.name ?? 'Error';
  const message = err?.message ?? String(err);
  if (name === 'InternalError' && message === 'interrupted') return { kind: 'timeout', message, poisoned: true };
  if (name === 'InternalError' && (message === 'out of memory' || message === 'string too long')) return { kind: 'memory', message, poisoned: true };
  if (name === 'InternalError' && message === 'stack overflow') return { kind: 'stack', message, poisoned: true };
  if (name === 'RangeError' && /call stack/i.test(message)) return { kind: 'stack', message, poisoned: true };
  return { kind: 'error', message: `${name}: ${message}`, poisoned: false };
}

function call(c) {
  const entry = scripts.get(c.s);
  if (!entry) return { c: c.c, ok: false, kind: 'error', message: 'script is not compiled (it was destroyed)' };
  if (entry.error !== undefined) return { c: c.c, ok: false, kind: 'error', message: entry.error };
  const { ctx } = entry;
  entry.deadline = Date.now() + entry.spec.timeoutMs;
  running[1] = c.c;
  running[0] = entry.deadline;
  let out;
  try {
    const arg = ctx.newString(c.a);
    const r = ctx.callFunction(entry.fn, ctx.undefined, arg);
    arg.dispose();
    if (r.error) {
      const info = classify(ctx.dump(r.error));
      r.error.dispose();
      out = { c: c.c, ok: false, kind: info.kind, message: info.message };
      if (info.poisoned) {
        // A fresh runtime for the next call: nothing a runaway call left behind survives.
        dispose(entry);
        scripts.set(c.s, build(entry.spec));
      }
    } else {
      out = { c: c.c, ok: true, v: ctx.getString(r.value) };
      r.value.dispose();
    }
  } catch (e) {
    // A host-side failure (e.g. the WASM stack) while running: rebuild this script.
    out = { c: c.c, ok: false, kind: 'stack', message: String(e?.message ?? e) };
    dispose(entry);
    scripts.set(c.s, build(entry.spec));
  } finally {
    entry.deadline = 0;
    running[0] = 0;
  }
  return out;
}

parentPort.on('message', (m) => {
  if (m.t === 'compile') {
    dispose(scripts.get(m.spec.id));
    scripts.set(m.spec.id, build(m.spec));
  } else if (m.t === 'dispose') {
    dispose(scripts.get(m.id));
    scripts.delete(m.id);
  } else if (m.t === 'calls') {
    const results = m.calls.map(call);
    parentPort.postMessage({ t: 'results', results });
  }
});
parentPort.postMessage({ t: 'ready' });
