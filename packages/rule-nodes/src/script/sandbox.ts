import { Worker } from 'node:worker_threads';
import { errorMessage, silentLogger, type JsonValue, type Logger } from '@rivulet/core';
import type { CompiledScript, ScriptRunner } from '@rivulet/rule-engine';
import { checkScriptSyntax, ScriptError, type ScriptErrorKind } from './script-error';
import { createStrikeTracker, DEFAULT_STRIKE_POLICY, type StrikePolicy } from './strikes';

export { checkScriptSyntax, ScriptError, type ScriptErrorKind } from './script-error';
export { DEFAULT_STRIKE_POLICY, type StrikePolicy } from './strikes';

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
 *   call outlives its deadline by `hardGraceMs`. That call fails; the worker is started again (once
 *   per failure: only when calls wait for it), compiles the scripts again, and the other calls in
 *   flight are sent again.
 * - Strikes (strikes.ts): a call that hit its time limit or crashed the worker is a strike against its
 *   script, counted per distinct message key in a window; too many disable the script for a
 *   cool-down, after which it runs again. A message that hung the worker is not run again by that
 *   script within the window (its retries fail at once). The worker is shared by every tenant, so
 *   hard kills (a call terminated past its deadline, or a crash) also count per tenant: past
 *   maxTenantHardKills distinct messages in the window, all that tenant's scripts are suspended for
 *   the cool-down, however many script nodes it has.
 * - A call that hit a limit leaves its runtime suspect: the worker replaces it with a fresh one, so the
 *   next message runs normally. A script that merely throws keeps its context.
 * - The sandbox has ECMAScript built-ins only: no require, process, timers, network or file system.
 *   Scripts of one node share a context across messages (as in ThingsBoard), never across nodes.
 */

export interface ScriptSandboxOptions {
  /** Per-call time limit, ms (default 100); a script's compile options override it. */
  timeoutMs?: number;
  /** Per-script memory limit, bytes (default 16 MB); a script's compile options override it. */
  memoryLimitBytes?: number;
  stackBytes?: number;
  /** How long past its deadline a call may run before the worker is terminated (default 200 ms). */
  hardGraceMs?: number;
  /** When a script is disabled and for how long (DEFAULT_STRIKE_POLICY for what is left out). */
  strikes?: Partial<StrikePolicy>;
  logger?: Logger;
  now?: () => number;
}

export interface ScriptSandboxStats {
  scripts: number;
  calls: number;
  /** Times the worker was started again after it hung or crashed. */
  restarts: number;
  /** Calls that were strikes against their script (time limit, crash). */
  strikes: number;
  /** Times a script was disabled. */
  disables: number;
  /** Scripts disabled now. */
  disabled: number;
  /** Tenants whose scripts are suspended now (too many hard kills of the shared worker; maxTenantHardKills). */
  suspendedTenants: number;
}

export interface ScriptSandbox extends ScriptRunner {
  /** Terminates the worker; calls in flight reject. */
  close(): Promise<void>;
  stats(): ScriptSandboxStats;
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
  /** The message the call is for (strikes count distinct keys). */
  key: string;
  args: string;
  /** Times the call was sent to a worker that then failed without it being the culprit. */
  resent: number;
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

interface RunningWorker {
  worker: Worker;
  /** Shared with this worker only: [0] deadline of its running call (0: idle), [1] that call's id. */
  running: Float64Array;
}

const MB = 1024 * 1024;
/** Calls sent to the worker in one message at most before waiting for the event loop's turn. */
const FLUSH_AT = 64;
/** A call in flight when the worker failed (not its culprit) is sent again at most this often. */
const MAX_RESENDS = 2;

export function createScriptSandbox(options: ScriptSandboxOptions = {}): ScriptSandbox {
  const logger = (options.logger ?? silentLogger).child({ component: 'script-sandbox' });
  const now = options.now ?? Date.now;
  const defaults = {
    timeoutMs: options.timeoutMs ?? 100,
    memoryLimitBytes: options.memoryLimitBytes ?? 16 * MB,
    stackBytes: options.stackBytes ?? 256 * 1024,
  };
  const hardGraceMs = options.hardGraceMs ?? 200;
  const policy: StrikePolicy = { ...DEFAULT_STRIKE_POLICY, ...options.strikes };
  const strikes = createStrikeTracker(policy);
  /** Hard kills of the shared worker per tenant (its scripts' labels.tenantId): past the budget, all its scripts wait out a cool-down. */
  const tenantStrikes = createStrikeTracker<string>({ ...policy, maxStrikes: policy.maxTenantHardKills });
  /** The key tenant admissions are asked with: never a message's key, so never a "repeat". */
  const TENANT_ADMISSION = '\0tenant';
  const specs = new Map<number, ScriptSpec & { labels: Readonly<Record<string, string>> }>();
  const inFlight = new Map<number, Call>();
  let queued: Call[] = [];
  let flushScheduled = false;
  let nextScriptId = 1;
  let nextCallId = 1;
  let closed = false;
  const counters = { calls: 0, restarts: 0, strikes: 0, disables: 0 };

  let current: RunningWorker | undefined;
  let watchdog: ReturnType<typeof setInterval> | undefined;

  function spawn(): RunningWorker {
    // A buffer per worker: a terminated worker still finishing its turn cannot touch the next one's.
    const shared = new SharedArrayBuffer(16);
    const w = new Worker(new URL('./sandbox-worker.mjs', import.meta.url), { workerData: { shared } });
    const rw: RunningWorker = { worker: w, running: new Float64Array(shared) };
    w.unref();
    w.on('message', (m: { t: string; results?: WorkerResult[] }) => {
      if (m.t === 'results' && m.results && current === rw) settle(m.results);
    });
    w.on('error', (e) => {
      if (current === rw) restart('crashed', errorMessage(e));
    });
    w.on('exit', (code) => {
      if (current === rw && !closed) restart('crashed', `the sandbox worker exited with code ${code}`);
    });
    for (const spec of specs.values()) w.postMessage({ t: 'compile', spec: wireSpec(spec) });
    return rw;
  }

  const wireSpec = (s: ScriptSpec): ScriptSpec => ({ id: s.id, name: s.name, body: s.body, prelude: s.prelude, params: s.params, timeoutMs: s.timeoutMs, memoryLimitBytes: s.memoryLimitBytes, stackBytes: s.stackBytes });

  function ensureWorker(): RunningWorker {
    current ??= spawn();
    return current;
  }

  const untilText = (until: number) => new Date(until).toISOString();

  /** Counts a strike for the call's message; the error says when it disabled the script. */
  function strike(call: Call, hard: boolean, message: string): ScriptError {
    const spec = specs.get(call.scriptId);
    counters.strikes++;
    if (!spec) return new ScriptError('timeout', message, { strike: true });
    const tenantId = spec.labels.tenantId;
    if (hard && tenantId !== undefined) {
      const t = tenantStrikes.record(tenantId, call.key, true, now());
      if (t.justDisabled) {
        logger.warn(
          { tenantId, hardKills: t.strikes, windowMs: policy.windowMs, cooldownMs: policy.cooldownMs, until: untilText(t.disabledUntil) },
          "tenant's scripts suspended: they hung or crashed the shared script sandbox too often",
        );
      }
    }
    const r = strikes.record(spec.id, call.key, hard, now());
    if (!r.justDisabled) return new ScriptError('timeout', message, { strike: true });
    counters.disables++;
    logger.warn(
      { ...spec.labels, script: spec.name, strikes: r.strikes, windowMs: policy.windowMs, cooldownMs: policy.cooldownMs, until: untilText(r.disabledUntil) },
      'script disabled',
    );
    return new ScriptError('timeout', `${message}; the script is now disabled until ${untilText(r.disabledUntil)}: ${disabledWhy()}`, { strike: true, disabledUntil: r.disabledUntil });
  }

  const disabledWhy = () => `${policy.maxStrikes} different messages hit its time limit or crashed the sandbox within ${Math.round(policy.windowMs / 1000)} s`;

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
      } else if (r.kind === 'timeout') {
        call.reject(strike(call, false, `Script "${name}" exceeded its time limit of ${spec?.timeoutMs ?? defaults.timeoutMs} ms`));
      } else {
        call.reject(limitError(r.kind ?? 'error', name, spec, r.message ?? 'failed'));
      }
    }
    idleCheck();
  }

  function limitError(kind: ScriptErrorKind, name: string, spec: ScriptSpec | undefined, message: string): ScriptError {
    switch (kind) {
      case 'memory':
        return new ScriptError('memory', `Script "${name}" exceeded its memory limit of ${Math.round((spec?.memoryLimitBytes ?? defaults.memoryLimitBytes) / MB)} MB (${message})`);
      case 'stack':
        return new ScriptError('stack', `Script "${name}" exceeded its stack limit (recursion too deep)`);
      default:
        return new ScriptError(kind, `Script "${name}" failed: ${message}`);
    }
  }

  /**
   * The worker hung (a call outlived its deadline) or died: it is terminated and forgotten. The call
   * it was running fails as a strike; the other calls in flight wait for a fresh worker, which is
   * started only if there is work for it, so one failure is one restart.
   */
  function restart(kind: 'hung' | 'crashed', reason: string): void {
    const old = current;
    current = undefined;
    if (!old) return;
    counters.restarts++;
    const culpritId = old.running[0] !== 0 ? old.running[1]! : 0;
    void old.worker.terminate().catch(() => {});
    const culprit = culpritId ? inFlight.get(culpritId) : undefined;
    const spec = culprit ? specs.get(culprit.scriptId) : undefined;
    if (culprit) {
      inFlight.delete(culprit.id);
      const what = kind === 'hung' ? `exceeded its time limit of ${spec?.timeoutMs ?? defaults.timeoutMs} ms and was stopped (the sandbox was restarted)` : `crashed the sandbox (${reason})`;
      culprit.reject(strike(culprit, true, `Script "${spec?.name ?? 'script'}" ${what}`));
    }
    const again: Call[] = [];
    for (const c of inFlight.values()) {
      if (closed) c.reject(new ScriptError('closed', 'The script sandbox is closed'));
      else if (++c.resent > MAX_RESENDS) c.reject(new ScriptError('crashed', `The script sandbox failed ${c.resent} times while this call waited: ${reason}`));
      else again.push(c);
    }
    inFlight.clear();
    logger.warn({ reason, ...(spec ? { ...spec.labels, culprit: spec.name } : {}), resent: again.length }, 'script sandbox restarted');
    queued = [...again, ...queued];
    if (queued.length > 0) scheduleFlush();
    else idleCheck();
  }

  function check(): void {
    const rw = current;
    if (!rw) return;
    const deadline = rw.running[0]!;
    if (deadline !== 0 && Date.now() > deadline + hardGraceMs) restart('hung', 'a call outlived its deadline');
  }

  function idleCheck(): void {
    if (inFlight.size === 0 && queued.length === 0) {
      if (watchdog) clearInterval(watchdog);
      watchdog = undefined;
      current?.worker.unref();
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
    const t = now();
    for (const call of queued) {
      const spec = specs.get(call.scriptId);
      if (!spec) {
        call.reject(new ScriptError('closed', 'The script was destroyed'));
        continue;
      }
      const tenantId = spec.labels.tenantId;
      const tenantAdmission = tenantId === undefined ? undefined : tenantStrikes.admit(tenantId, TENANT_ADMISSION, t);
      if (tenantAdmission?.run === false && tenantAdmission.reason === 'disabled') {
        const why = `${policy.maxTenantHardKills} messages of this tenant's scripts hung or crashed the shared script sandbox within ${Math.round(policy.windowMs / 1000)} s`;
        call.reject(new ScriptError('disabled', `Scripts of this tenant are suspended until ${untilText(tenantAdmission.until)}: ${why}`, { disabledUntil: tenantAdmission.until }));
        continue;
      }
      if (tenantAdmission?.run && tenantAdmission.reenabled) logger.info({ tenantId }, "tenant's scripts resumed");
      const admission = strikes.admit(spec.id, call.key, t);
      if (!admission.run) {
        if (admission.reason === 'disabled') {
          call.reject(new ScriptError('disabled', `Script "${spec.name}" is disabled until ${untilText(admission.until)}: ${disabledWhy()}`, { disabledUntil: admission.until }));
        } else {
          call.reject(new ScriptError('timeout', `Script "${spec.name}" hung the sandbox on this message before (time limit of ${spec.timeoutMs} ms): not run again`));
        }
        continue;
      }
      if (admission.reenabled) logger.info({ ...spec.labels, script: spec.name }, 'script re-enabled');
      inFlight.set(call.id, call);
      batch.push({ c: call.id, s: call.scriptId, a: call.args });
    }
    queued = [];
    if (batch.length === 0) return idleCheck();
    const rw = ensureWorker();
    rw.worker.ref();
    watchdog ??= setInterval(check, Math.max(10, Math.min(50, hardGraceMs / 2)));
    rw.worker.postMessage({ t: 'calls', calls: batch });
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
        labels: { ...opts.labels },
      };
      specs.set(spec.id, spec);
      // Compiled in the worker when it next starts, or now if it runs (messages keep their order).
      current?.worker.postMessage({ t: 'compile', spec: wireSpec(spec) });
      return {
        call(args, callOptions) {
          if (closed) return Promise.reject(new ScriptError('closed', 'The script sandbox is closed'));
          if (!specs.has(spec.id)) return Promise.reject(new ScriptError('closed', `Script "${spec.name}" was destroyed`));
          counters.calls++;
          const id = nextCallId++;
          return new Promise<JsonValue>((resolve, reject) => {
            queued.push({ id, scriptId: spec.id, key: callOptions?.key ?? `#${id}`, args: JSON.stringify(args), resent: 0, resolve, reject });
            // A full batch goes at once, so the worker starts while this thread makes the next one.
            if (queued.length >= FLUSH_AT) flush();
            else scheduleFlush();
          });
        },
        destroy() {
          if (!specs.delete(spec.id)) return;
          strikes.forget(spec.id);
          current?.worker.postMessage({ t: 'dispose', id: spec.id });
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
      const rw = current;
      current = undefined;
      await rw?.worker.terminate();
    },
    stats: () => ({ scripts: specs.size, ...counters, disabled: strikes.disabledCount(now()), suspendedTenants: tenantStrikes.disabledCount(now()) }),
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
