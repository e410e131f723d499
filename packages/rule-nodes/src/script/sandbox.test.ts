import type { JsonValue } from '@rivulet/core';
import { recordingLogger, type LogEntry } from '@rivulet/testing';
import { afterAll, describe, expect, it } from 'vitest';
import type { TenantLimits } from '@rivulet/core';
import type { RuleNodeServices } from '@rivulet/rule-engine';
import { createScriptSandbox, ScriptError, type ScriptSandbox } from './sandbox';
import { compileNodeScript } from './tb-script';

const GLOBAL_LIMITS: TenantLimits = {
  maxDevices: 0,
  maxRuleChains: 0,
  maxRuleNodesPerChain: 0,
  transportDeviceMsgRateLimit: 0,
  transportTenantMsgRateLimit: 0,
  maxPayloadBytes: 0,
  maxKeyLength: 0,
  maxKeysPerMessage: 0,
  maxWsSessionsPerTenant: 0,
  maxWsSubscriptionsPerTenant: 0,
  maxScriptExecutionMs: 0,
  maxScriptMemoryMb: 0,
  minGeneratorPeriodMs: 0,
  maxDebugEventsPerNode: 0,
  defaultStorageTtlDays: 0,
};

const params = ['msg', 'metadata', 'msgType'];
const sandbox: ScriptSandbox = createScriptSandbox({ timeoutMs: 50, hardGraceMs: 150, memoryLimitBytes: 8 * 1024 * 1024 });
afterAll(() => sandbox.close());

const compile = (body: string, name = 'test') => sandbox.compile({ body, params, name });
const msg: JsonValue[] = [{ temperature: 25 }, { deviceName: 'd1' }, 'POST_TELEMETRY_REQUEST'];

/** The error a call rejects with (the test fails if it resolves). */
async function failure(p: Promise<unknown>): Promise<ScriptError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ScriptError);
    return e as ScriptError;
  }
  throw new Error('expected the script call to fail');
}

describe('script sandbox: ThingsBoard signature, JSON in and out', () => {
  it('calls a compiled function with (msg, metadata, msgType)', async () => {
    const s = compile('return { t: msg.temperature, d: metadata.deviceName, ty: msgType, gt: msg.temperature > 20 };');
    expect(await s.call(msg)).toEqual({ t: 25, d: 'd1', ty: 'POST_TELEMETRY_REQUEST', gt: true });
    s.destroy();
  });

  it('undefined and functions come back as null', async () => {
    expect(await compile('return;').call(msg)).toBeNull();
    expect(await compile('return function () {};').call(msg)).toBeNull();
  });

  it('a syntax error throws at compile time with the line', () => {
    expect(() => compile('var x = ;\nreturn x;')).toThrow(/SyntaxError.*line 1/);
    expect(() => compile('return 1;\nif (')).toThrow(ScriptError);
  });

  it('many calls in one turn go as one batch and keep their order', async () => {
    const s = compile('return msg.n * 2;');
    const out = await Promise.all(Array.from({ length: 200 }, (_, n) => s.call([{ n }, {}, 'X'])));
    expect(out).toEqual(Array.from({ length: 200 }, (_, n) => n * 2));
  });
});

describe('script sandbox: escapes fail safely', () => {
  it('has no require, process, module, timers, fetch or console', async () => {
    const s = compile('return [typeof require, typeof process, typeof module, typeof setTimeout, typeof fetch, typeof console, typeof globalThis.process, typeof WebAssembly];');
    expect(await s.call(msg)).toEqual(['undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined']);
  });

  it('require() and process.exit() throw inside the sandbox and the message fails', async () => {
    const e1 = await failure(compile('return require("fs").readFileSync("/etc/passwd", "utf8");').call(msg));
    expect(e1.kind).toBe('error');
    expect(e1.message).toMatch(/ReferenceError.*require/);
    const e2 = await failure(compile('process.exit(1);').call(msg));
    expect(e2.message).toMatch(/process/);
  });

  it('the Function constructor reaches only the sandbox global', async () => {
    const s = compile(`
      var g1 = (function () {}).constructor('return this')();
      var g2 = Function('return globalThis')();
      var g3 = this;
      return [typeof g1.process, typeof g2.require, g1 === g2, Object.keys(g2).length, typeof (g3 && g3.process)];`);
    expect(await s.call(msg)).toEqual(['undefined', 'undefined', true, 0, 'undefined']);
    const e = await failure(compile("return (function(){}).constructor('return process')().env;").call(msg));
    expect(e.message).toMatch(/ReferenceError.*process/);
  });

  it('globalThis and prototype tampering stays inside one script', async () => {
    const a = compile('Object.prototype.polluted = "yes"; globalThis.JSON = null; Array.prototype.map = null; return 1;', 'a');
    const b = compile('return [({}).polluted === undefined, typeof JSON.stringify, typeof [].map];', 'b');
    expect(await a.call(msg)).toBe(1);
    // The wrapper captured JSON before any user code ran: script a still answers.
    expect(await a.call(msg)).toBe(1);
    expect(await b.call(msg)).toEqual([true, 'function', 'function']);
  });

  it('a script cannot reach the host through its arguments', async () => {
    // Arguments arrive as JSON: plain data, no host objects or prototypes.
    const s = compile('return [Object.getPrototypeOf(msg) === Object.prototype, typeof msg.constructor.constructor("return process")()];');
    const e = await failure(s.call(msg));
    expect(e.message).toMatch(/ReferenceError.*process/);
  });
});

describe('script sandbox: limits', () => {
  it('an infinite loop fails at the time limit and the next message works', async () => {
    const s = compile('if (msg.loop) { while (true) {} } return msg.n;');
    const t0 = Date.now();
    const e = await failure(s.call([{ loop: true }, {}, 'X']));
    expect(e.kind).toBe('timeout');
    expect(e.message).toMatch(/exceeded its time limit of 50 ms/);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await s.call([{ n: 7 }, {}, 'X'])).toBe(7);
  });

  it('the interrupt cannot be caught by the script', async () => {
    const s = compile('for (;;) { try { while (true) {} } catch (e) { } } ');
    expect((await failure(s.call(msg))).kind).toBe('timeout');
  });

  it('huge allocations fail at the memory limit and the next message works', async () => {
    const s = compile(`
      if (msg.kind === 'string') { var x = 'x'; while (true) x += x; }
      if (msg.kind === 'array') { var a = []; while (true) a.push([1, 2, 3, 4]); }
      if (msg.kind === 'buffer') { return new ArrayBuffer(1e9).byteLength; }
      return 'fine';`);
    for (const kind of ['string', 'array', 'buffer']) {
      const e = await failure(s.call([{ kind }, {}, 'X']));
      // The array loop may reach the time limit before the memory limit on a slow machine.
      expect(['memory', 'timeout']).toContain(e.kind);
      expect(await s.call([{ kind: 'none' }, {}, 'X'])).toBe('fine');
    }
  });

  it('runaway recursion fails at the stack limit', async () => {
    const s = compile('function f(n) { return f(n + 1) + 1; } return msg.deep ? f(0) : "ok";');
    expect((await failure(s.call([{ deep: true }, {}, 'X']))).kind).toBe('stack');
    expect(await s.call([{ deep: false }, {}, 'X'])).toBe('ok');
  });

  it('a built-in that never reaches an interrupt check is stopped by the watchdog; other calls are resent', async () => {
    const hang = compile('return msg.hang ? Array(1e9).indexOf(1) : "fine";', 'hang');
    const other = compile('return msg.n + 1;', 'other');
    const t0 = Date.now();
    const [r1, r2, r3] = await Promise.allSettled([other.call([{ n: 1 }, {}, 'X']), hang.call([{ hang: true }, {}, 'X']), other.call([{ n: 2 }, {}, 'X'])]);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r1).toEqual({ status: 'fulfilled', value: 2 });
    expect(r2.status).toBe('rejected');
    expect((r2 as PromiseRejectedResult).reason.message).toMatch(/exceeded its time limit.*stopped/);
    expect(r3).toEqual({ status: 'fulfilled', value: 3 });
    // The fresh worker compiled both scripts again.
    expect(await hang.call([{ hang: false }, {}, 'X'])).toBe('fine');
    expect(await other.call([{ n: 10 }, {}, 'X'])).toBe(11);
    expect(sandbox.stats().restarts).toBeGreaterThanOrEqual(1);
  });

  it('a hard kill restarts the worker once, not in a loop (issue #16)', async () => {
    const logs: LogEntry[] = [];
    const sb = createScriptSandbox({ timeoutMs: 20, hardGraceMs: 40, logger: recordingLogger(logs) });
    try {
      const s = sb.compile({ body: 'return Array(1e9).indexOf(1);', params, name: 'hang' });
      expect((await failure(s.call(msg))).message).toMatch(/stopped \(the sandbox was restarted\)/);
      // The watchdog checks every 20 ms: before the fix it restarted the missing worker at each check.
      await new Promise((r) => setTimeout(r, 500));
      expect(sb.stats().restarts).toBe(1);
      expect(logs.filter((l) => l.msg === 'script sandbox restarted')).toHaveLength(1);
      // The next call starts a fresh worker.
      const ok = sb.compile({ body: 'return msg.n;', params, name: 'ok' });
      expect(await ok.call([{ n: 5 }, {}, 'X'])).toBe(5);
      expect(sb.stats().restarts).toBe(1);
    } finally {
      await sb.close();
    }
  });

  it('the retries of one message are one strike; a message that hung the sandbox is not run again', async () => {
    const sb = createScriptSandbox({ timeoutMs: 20, hardGraceMs: 40, strikes: { maxStrikes: 2 } });
    try {
      const s = sb.compile({ body: 'if (msg.n) return Array(msg.n).indexOf(1); return "fine";', params, name: 'sized' });
      const poisoned = { key: 'msg-1' };
      const first = await failure(s.call([{ n: 1e9 }, {}, 'X'], poisoned));
      expect(first.kind).toBe('timeout');
      expect(first.nodeFault).toBe('strike');
      for (let i = 0; i < 4; i++) {
        const again = await failure(s.call([{ n: 1e9 }, {}, 'X'], poisoned));
        expect(again.message).toMatch(/hung the sandbox on this message before \(time limit of 20 ms\): not run again/);
        expect(again.nodeFault).toBeUndefined();
      }
      // One restart for the message, however often it is retried; the script still runs for others.
      expect(sb.stats()).toMatchObject({ restarts: 1, strikes: 1, disables: 0, disabled: 0 });
      expect(await s.call([{}, {}, 'X'], { key: 'msg-2' })).toBe('fine');
    } finally {
      await sb.close();
    }
  });

  it("one tenant's hard kills of the shared worker, across many script nodes, suspend that tenant's scripts only; they resume after the cool-down", async () => {
    let clock = Date.now();
    const logs: LogEntry[] = [];
    const sb = createScriptSandbox({ timeoutMs: 20, hardGraceMs: 40, strikes: { maxStrikes: 3, maxTenantHardKills: 2, windowMs: 10_000, cooldownMs: 5_000 }, now: () => clock, logger: recordingLogger(logs) });
    try {
      const body = 'if (msg.n) return Array(msg.n).indexOf(1); return "fine";';
      // tenant A has many script nodes, each struck once: no node reaches its own 3 strikes
      const aNodes = [0, 1, 2, 3].map((i) => sb.compile({ body, params, name: `a${i}`, labels: { tenantId: 'A' } }));
      const b = sb.compile({ body, params, name: 'b', labels: { tenantId: 'B' } });
      expect((await failure(aNodes[0]!.call([{ n: 1e9 }, {}, 'X'], { key: 'm1' }))).kind).toBe('timeout');
      expect((await failure(aNodes[1]!.call([{ n: 1e9 }, {}, 'X'], { key: 'm2' }))).kind).toBe('timeout');
      expect(sb.stats()).toMatchObject({ restarts: 2, disabled: 0, suspendedTenants: 1 });
      expect(logs.find((l) => l.msg.startsWith("tenant's scripts suspended"))?.fields).toMatchObject({ tenantId: 'A', hardKills: 2 });
      // every A script is refused at once, even one that never hung: the worker is not hung a third time
      const refused = await failure(aNodes[2]!.call([{ n: 1e9 }, {}, 'X'], { key: 'm3' }));
      expect(refused.kind).toBe('disabled');
      expect(refused.message).toMatch(/Scripts of this tenant are suspended until .*: 2 messages of this tenant's scripts hung or crashed the shared script sandbox within 10 s/);
      expect((await failure(aNodes[3]!.call([{}, {}, 'X'], { key: 'm4' }))).kind).toBe('disabled');
      expect(sb.stats().restarts).toBe(2);
      // tenant B is not affected
      expect(await b.call([{}, {}, 'X'], { key: 'b1' })).toBe('fine');
      // after the cool-down A's scripts run again
      clock += 5_000;
      expect(await aNodes[3]!.call([{}, {}, 'X'], { key: 'm5' })).toBe('fine');
      expect(sb.stats().suspendedTenants).toBe(0);
      expect(logs.some((l) => l.msg === "tenant's scripts resumed")).toBe(true);
    } finally {
      await sb.close();
    }
  });

  it('strikes of distinct messages disable a script for the cool-down; then it runs again', async () => {
    let clock = Date.now();
    const logs: LogEntry[] = [];
    const sb = createScriptSandbox({ timeoutMs: 20, strikes: { maxStrikes: 2, windowMs: 10_000, cooldownMs: 5_000 }, now: () => clock, logger: recordingLogger(logs) });
    try {
      const s = sb.compile({ body: 'if (msg.loop) { while (true) {} } return msg.n;', params, name: 'loopy', labels: { tenantId: 't1' } });
      const loop: JsonValue[] = [{ loop: true }, {}, 'X'];
      // The same message twice (a retry) is one strike.
      expect((await failure(s.call(loop, { key: 'a' }))).nodeFault).toBe('strike');
      expect((await failure(s.call(loop, { key: 'a' }))).nodeFault).toBe('strike');
      expect(await s.call([{ n: 1 }, {}, 'X'], { key: 'ok-1' })).toBe(1);
      // A second message: the script is disabled, and the error says until when.
      const disabling = await failure(s.call(loop, { key: 'b' }));
      expect(disabling.message).toMatch(/now disabled until .*2 different messages hit its time limit or crashed the sandbox within 10 s/);
      expect(disabling.disabledUntil).toBe(clock + 5_000);
      const refused = await failure(s.call([{ n: 2 }, {}, 'X'], { key: 'ok-2' }));
      expect(refused.kind).toBe('disabled');
      expect(refused.nodeFault).toBe('disabled');
      expect(sb.stats()).toMatchObject({ disables: 1, disabled: 1 });
      expect(logs.find((l) => l.msg === 'script disabled')?.fields).toMatchObject({ tenantId: 't1', script: 'loopy', strikes: 2 });
      // After the cool-down it runs again by itself.
      clock += 5_000;
      expect(await s.call([{ n: 3 }, {}, 'X'], { key: 'ok-3' })).toBe(3);
      expect(sb.stats().disabled).toBe(0);
      expect(logs.some((l) => l.msg === 'script re-enabled')).toBe(true);
    } finally {
      await sb.close();
    }
  });

  it('a destroyed script and a closed sandbox fail clearly', async () => {
    const sb = createScriptSandbox();
    const s = sb.compile({ body: 'return 1;', params, name: 'x' });
    expect(await s.call(msg)).toBe(1);
    s.destroy();
    expect((await failure(s.call(msg))).message).toMatch(/destroyed/);
    await sb.close();
    expect(() => sb.compile({ body: 'return 1;', params, name: 'y' })).toThrow(/closed/);
  });
});

describe('script limits per tenant (TenantLimits)', () => {
  it("each tenant's scripts run under its own maxScriptExecutionMs and maxScriptMemoryMb", async () => {
    const sb = createScriptSandbox({ timeoutMs: 1000 });
    try {
      const limitsOf = (ms: number, mb: number) => ({ ...GLOBAL_LIMITS, maxScriptExecutionMs: ms, maxScriptMemoryMb: mb });
      const services = (tenantId: string, limits: TenantLimits) => ({ scripts: sb, limits: () => limits, tenant: { tenantId, ownership: { owns: () => true } } }) as unknown as RuleNodeServices;
      const body = { scriptLang: 'JS' as const, jsScript: 'if (msg.mem) { var a = []; for (;;) a.push({ x: Math.random() }); } while (true) {}' };
      const a = compileNodeScript(services('A', limitsOf(30, 4)), body, 'a');
      const b = compileNodeScript(services('B', limitsOf(60, 8)), body, 'b');
      expect((await failure(a.call([{}, {}, 'X']))).message).toMatch(/time limit of 30 ms/);
      expect((await failure(b.call([{}, {}, 'X']))).message).toMatch(/time limit of 60 ms/);
      // A's memory limit on its own (time enough to reach it: 4 MB of objects take about 0.1 s). Not
      // arrays: QuickJS growing arrays past its limit spins inside a built-in until the watchdog kills it.
      const aMem = compileNodeScript(services('A', limitsOf(1000, 4)), body, 'a-mem');
      const mem = await failure(aMem.call([{ mem: true }, {}, 'X']));
      expect(mem.message).toMatch(/memory limit of 4 MB/);
    } finally {
      await sb.close();
    }
  });
});
