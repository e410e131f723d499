import { Worker } from 'node:worker_threads';
import { ErrorCode, RivuletError, errorMessage, silentLogger, type JsonValue, type Logger } from '@rivulet/core';
import type { CompiledScript, ScriptRunner } from '@rivulet/rule-engine';
import { getQuickJS } from 'quickjs-emscripten';

/**
 * The script sandbox: user scripts (ThingsBoard's JS and TBEL-as-JS) run in QuickJS compiled to
 * WASM, never in node:vm, and off the main thread.
 *
 * - Compiled once per node: `compile()` checks the syntax at once on this thread (a bad script fails
 *   the chain's load and save), then the worker compiles it into its own QuickJS runtime, which
 *   carries the script's memory limit (default 16 MB) and stack limit (256 KB).
 * - Called per message with JSON in and JSON out. Calls made in the same turn of the event loop go to
 *   the worker as one batch (one postMessage each way).
 * - Time limit per call (default 100 ms): QuickJS's interrupt handler stops the script at the
 *   deadline; the interrupt cannot be caught by the script. Some built-ins loop without reaching an
 *   interrupt check (`Array(1e9).indexOf(1)`): for those a watchdog here terminates the worker when a
 *   call outlives its deadline by `hardGraceMs`, starts a fresh one, compiles the scripts again and
 *   resends the other calls. A script that needs that 3 times is disabled until its node is recreated.
 * - A call that hit a limit leaves its runtime suspect: the worker replaces it with a fresh one, so the
 *   next message runs normally. A script that merely throws keeps its context.
 * - The sandbox has ECMAScript built-ins only: no require, process, timers, network or file system.
 *   Scripts of one node share a context across messages (as in ThingsBoard), never across nodes.
 */

export type ScriptErrorKind = 'syntax' | 'timeout' | 'memory' | 'stack' | 'error' | 'result' | 'crashed' | 'disabled' | 'closed';

export class ScriptError extends RivuletError {
  readonly kind: ScriptErrorKind;
  constructor(kind: ScriptErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind === 'timeout' ? ErrorCode.TIMEOUT : kind === 'syntax' || kind === 'error' || kind === 'result' ? ErrorCode.BAD_REQUEST : ErrorCode.INTERNAL, message, options);
    this.name = 'ScriptError';
    this.kind = kind;
  }
}

export interface ScriptSandboxOptions {
  /** Per-call time limit, ms (default 100). */
  timeoutMs?: number;
  /** Per-script memory limit, bytes (default 16 MB). */
  memoryLimitBytes?: number;
  stackBytes?: number;
  /** How long past its deadline a call may run before the worker is terminated (default 200 ms). */
  hardGraceMs?: number;
  /** Hard terminations a script may cause before it is disabled (default 3). */
  maxHardKills?: number;
  logger?: Logger;
}

export interface ScriptSandbox extends ScriptRunner {
  /** Terminates the worker; calls in flight reject. */
  close(): Promise<void>;
  stats(): { scripts: number; calls: number; restarts: number };
}

// Syntax is checked on the main thread with a QuickJS of its own: parsing runs no user code.
const SyntaxQuickJS = await getQuickJS();

/** Throws a ScriptError('syntax') unless `function (params) { body }` parses. */
export function checkScriptSyntax(body: string, params: readonly string[], name = 'script', prelude = ''): void {
  const rt = SyntaxQuickJS.newRuntime();
  try {
    rt.setMemoryLimit(32 * 1024 * 1024);
    const deadline = Date.now() + 1000;
    rt.setInterruptHandler(() => Date.now() > deadline);
    const ctx = rt.newContext();
    try {
      // Same shape as the worker's wrapper, so a prelude that clashes with the body is caught here too.
      const r = ctx.evalCode(`(function () {\n${prelude}\nreturn (function (${params.join(', ')}) {\n${body}\n}); })`, `${name}.js`);
      if (r.error) {
        const err = ctx.dump(r.error) as { name?: string; message?: string; lineNumber?: number } | undefined;
        r.error.dispose();
        // The wrapper and prelude take the first lines of the evaluated source.
        const offset = 3 + (prelude ? prelude.split('\n').length : 1) - 1;
        const line = typeof err?.lineNumber === 'number' ? ` (line ${Math.max(1, err.lineNumber - offset)})` : '';
        throw new ScriptError('syntax', `${err?.name ?? 'SyntaxError'}: ${err?.message ?? 'invalid script'}${line}`);
      }
      r.value.dispose();
    } finally {
      ctx.dispose();
    }
  } finally {
    rt.dispose();
  }
}

interface ScriptSpec {
  id: number;
  name: string;
  body: string;
  prelude: string;
  params: string[];
  timeoutMs: number;
  memoryLimitBytes: number;
  stackBytes: number;
}

interface Call {
  id: number;
  scriptId: number;
  args: string;
  resolve(v: JsonValue): void;
  reject(e: unknown): void;
}

interface WorkerResult {
  c: number;
  ok: boolean;
  v?: string;
  kind?: ScriptErrorKind;
  message?: string;
}

const MB = 1024 * 1024;
/** Calls sent to the worker in one message at most before waiting for the event loop's turn. */
const FLUSH_AT = 64;

export function createScriptSandbox(options: ScriptSandboxOptions = {}): ScriptSandbox {
  const logger = (options.logger ?? silentLogger).child({ component: 'script-sandbox' });
  const defaults = {
    timeoutMs: options.timeoutMs ?? 100,
    memoryLimitBytes: options.memoryLimitBytes ?? 16 * MB,
    stackBytes: options.stackBytes ?? 256 * 1024,
  };
  const hardGraceMs = options.hardGraceMs ?? 200;
  const maxHardKills = options.maxHardKills ?? 3;
  const specs = new Map<number, ScriptSpec & { hardKills: number }>();
  const inFlight = new Map<number, Call>();
  let queued: Call[] = [];
  let flushScheduled = false;
  let nextScriptId = 1;
  let nextCallId = 1;
  let closed = false;
  const counters = { calls: 0, restarts: 0 };

  const shared = new SharedArrayBuffer(16);
  const running = new Float64Array(shared);
  let worker: Worker | undefined;
  let watchdog: ReturnType<typeof setInterval> | undefined;

  function spawn(): Worker {
    running[0] = 0;
    running[1] = 0;
    const w = new Worker(new URL('./sandbox-worker.mjs', import.meta.url), { workerData: { shared } });
    w.unref();
    w.on('message', (m: { t: string; results?: WorkerResult[] }) => {
      if (m.t === 'results' && m.results) settle(m.results);
    });
    w.on('error', (e) => {
      logger.error({ err: errorMessage(e) }, 'script sandbox worker failed');
      if (worker === w) restart('crashed', errorMessage(e));
    });
    w.on('exit', (code) => {
      if (worker === w && !closed) restart('crashed', `the sandbox worker exited with code ${code}`);
    });
    for (const spec of specs.values()) w.postMessage({ t: 'compile', spec: wireSpec(spec) });
    return w;
  }

  const wireSpec = (s: ScriptSpec): ScriptSpec => ({ id: s.id, name: s.name, body: s.body, prelude: s.prelude, params: s.params, timeoutMs: s.timeoutMs, memoryLimitBytes: s.memoryLimitBytes, stackBytes: s.stackBytes });

  function ensureWorker(): Worker {
    worker ??= spawn();
    return worker;
  }

  function settle(results: WorkerResult[]): void {
    for (const r of results) {
      const call = inFlight.get(r.c);
      if (!call) continue;
      inFlight.delete(r.c);
      const spec = specs.get(call.scriptId);
      const name = spec?.name ?? 'script';
      if (r.ok) {
        try {
          call.resolve(JSON.parse(r.v ?? 'null') as JsonValue);
        } catch (e) {
          call.reject(new ScriptError('result', `Script "${name}" returned a value that is not JSON`, { cause: e }));
        }
      } else {
        call.reject(limitError(r.kind ?? 'error', name, spec, r.message ?? 'failed'));
      }
    }
    idleCheck();
  }

  function limitError(kind: ScriptErrorKind, name: string, spec: ScriptSpec | undefined, message: string): ScriptError {
    switch (kind) {
      case 'timeout':
        return new ScriptError('timeout', `Script "${name}" exceeded its time limit of ${spec?.timeoutMs ?? defaults.timeoutMs} ms`);
      case 'memory':
        return new ScriptError('memory', `Script "${name}" exceeded its memory limit of ${Math.round((spec?.memoryLimitBytes ?? defaults.memoryLimitBytes) / MB)} MB (${message})`);
      case 'stack':
        return new ScriptError('stack', `Script "${name}" exceeded its stack limit (recursion too deep)`);
      default:
        return new ScriptError(kind, `Script "${name}" failed: ${message}`);
    }
  }

  /** Replaces the worker; the culprit call (if known) fails, every other call in flight is sent again. */
  function restart(kind: 'hung' | 'crashed', reason: string): void {
    const old = worker;
    worker = undefined;
    counters.restarts++;
    const culpritId = kind === 'hung' ? running[1] : 0;
    if (old) void old.terminate().catch(() => {});
    const culprit = culpritId ? inFlight.get(culpritId) : undefined;
    if (culprit) {
      inFlight.delete(culprit.id);
      const spec = specs.get(culprit.scriptId);
      if (spec) spec.hardKills++;
      culprit.reject(
        new ScriptError('timeout', `Script "${spec?.name ?? 'script'}" exceeded its time limit of ${spec?.timeoutMs ?? defaults.timeoutMs} ms and was stopped (the sandbox was restarted)`),
      );
    }
    logger.warn({ reason, culprit: culprit ? specs.get(culprit.scriptId)?.name : undefined, resent: inFlight.size }, 'script sandbox restarted');
    const again = [...inFlight.values()];
    inFlight.clear();
    if (closed) {
      for (const c of again) c.reject(new ScriptError('closed', 'The script sandbox is closed'));
      return;
    }
    queued = [...again, ...queued];
    scheduleFlush();
  }

  function check(): void {
    const deadline = running[0]!;
    if (deadline !== 0 && Date.now() > deadline + hardGraceMs) restart('hung', 'a call outlived its deadline');
  }

  function idleCheck(): void {
    if (inFlight.size === 0 && queued.length === 0) {
      if (watchdog) clearInterval(watchdog);
      watchdog = undefined;
      worker?.unref();
    }
  }

  function scheduleFlush(): void {
    if (flushScheduled) return;
    flushScheduled = true;
    // setImmediate: every call made while the current batch of messages runs goes in one postMessage.
    setImmediate(flush);
  }

  function flush(): void {
    flushScheduled = false;
    if (queued.length === 0 || closed) return;
    const batch: Array<{ c: number; s: number; a: string }> = [];
    for (const call of queued) {
      const spec = specs.get(call.scriptId);
      if (!spec) {
        call.reject(new ScriptError('closed', 'The script was destroyed'));
        continue;
      }
      if (spec.hardKills >= maxHardKills) {
        call.reject(new ScriptError('disabled', `Script "${spec.name}" is disabled: it hung the sandbox ${spec.hardKills} times`));
        continue;
      }
      inFlight.set(call.id, call);
      batch.push({ c: call.id, s: call.scriptId, a: call.args });
    }
    queued = [];
    if (batch.length === 0) return;
    const w = ensureWorker();
    w.ref();
    watchdog ??= setInterval(check, Math.max(10, Math.min(50, hardGraceMs / 2)));
    w.postMessage({ t: 'calls', calls: batch });
  }

  return {
    compile(opts): CompiledScript {
      if (closed) throw new ScriptError('closed', 'The script sandbox is closed');
      checkScriptSyntax(opts.body, opts.params, opts.name, opts.prelude ?? '');
      const spec = {
        id: nextScriptId++,
        name: opts.name,
        body: opts.body,
        prelude: opts.prelude ?? '',
        params: [...opts.params],
        timeoutMs: opts.timeoutMs ?? defaults.timeoutMs,
        memoryLimitBytes: opts.memoryLimitBytes ?? defaults.memoryLimitBytes,
        stackBytes: defaults.stackBytes,
        hardKills: 0,
      };
      specs.set(spec.id, spec);
      // Compiled in the worker when it next starts, or now if it runs (messages keep their order).
      worker?.postMessage({ t: 'compile', spec: wireSpec(spec) });
      return {
        call(args) {
          if (closed) return Promise.reject(new ScriptError('closed', 'The script sandbox is closed'));
          if (!specs.has(spec.id)) return Promise.reject(new ScriptError('closed', `Script "${spec.name}" was destroyed`));
          counters.calls++;
          return new Promise<JsonValue>((resolve, reject) => {
            queued.push({ id: nextCallId++, scriptId: spec.id, args: JSON.stringify(args), resolve, reject });
            // A full batch goes at once, so the worker starts while this thread makes the next one.
            if (queued.length >= FLUSH_AT) flush();
            else scheduleFlush();
          });
        },
        destroy() {
          if (!specs.delete(spec.id)) return;
          worker?.postMessage({ t: 'dispose', id: spec.id });
        },
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (watchdog) clearInterval(watchdog);
      watchdog = undefined;
      for (const c of [...inFlight.values(), ...queued]) c.reject(new ScriptError('closed', 'The script sandbox is closed'));
      inFlight.clear();
      queued = [];
      const w = worker;
      worker = undefined;
      await w?.terminate();
    },
    stats: () => ({ scripts: specs.size, calls: counters.calls, restarts: counters.restarts }),
  };
}

let shared: ScriptSandbox | undefined;

/**
 * The process-wide sandbox used when the services carry none (tests, tools). Its worker does not keep
 * the process alive. The server makes its own (createScriptSandbox) and closes it on shutdown.
 */
export function defaultScriptSandbox(): ScriptSandbox {
  shared ??= createScriptSandbox();
  return shared;
}
