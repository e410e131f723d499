/**
 * Telemetry templates: how a simulated device's values move (random walk, sine, counter, choice,
 * constant) and how they are shaped on the wire (ThingsBoard's flat object, {ts, values}, or an
 * array of {ts, values}). A template is pure: state lives in the DeviceSeries it creates, and time
 * comes in as an argument, so tests can drive it with fixed clocks and seeds.
 */

export type Generator =
  | { kind: 'walk'; start: number; step: number; min?: number; max?: number; decimals?: number }
  | { kind: 'sine'; mid: number; amplitude: number; periodMs: number; decimals?: number }
  | { kind: 'counter'; start?: number; step?: number }
  | { kind: 'choice'; values: ReadonlyArray<string | number | boolean> }
  | { kind: 'const'; value: string | number | boolean | Record<string, unknown> | unknown[] };

export type Shape =
  /** `{"k":v}`: the server stamps the time (two messages in one millisecond overwrite each other). */
  | 'flat'
  /** `{"ts":..,"values":{..}}`: one time-stamped group. */
  | 'ts'
  /** `[{"ts":..,"values":{..}}, ...]`: `groups` time-stamped groups per message. */
  | 'array';

export interface TemplateSpec {
  keys: Readonly<Record<string, Generator>>;
  shape: Shape;
  /** Groups per message for shape 'array' (default 1). */
  groups?: number;
}

/** A message ready to send and what it should become in storage. */
export interface TelemetryMessage {
  payload: string;
  /** Data points the message carries (keys × groups). */
  points: number;
  /** ts of its last group (undefined for 'flat'). */
  lastTs: number | undefined;
}

/** One device's stream of values. Timestamps are strictly increasing per device. */
export interface DeviceSeries {
  next(nowMs: number): TelemetryMessage;
  /** The last ts handed out (or the floor it started from). */
  readonly lastTs: number;
}

export type Random = () => number;

/** Small deterministic PRNG (mulberry32) so seeded runs repeat. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function round(v: number, decimals: number | undefined): number {
  if (decimals === undefined) return v;
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}

type ValueFn = (nowMs: number) => unknown;

function valueFn(g: Generator, rnd: Random): ValueFn {
  switch (g.kind) {
    case 'walk': {
      let v = g.start;
      const lo = g.min ?? -Infinity;
      const hi = g.max ?? Infinity;
      return () => {
        v = Math.min(hi, Math.max(lo, v + (rnd() * 2 - 1) * g.step));
        return round(v, g.decimals ?? 2);
      };
    }
    case 'sine': {
      // Each device starts at its own phase, so a fleet does not move in lockstep.
      const phase = rnd() * 2 * Math.PI;
      return (now) => round(g.mid + g.amplitude * Math.sin(phase + (2 * Math.PI * now) / g.periodMs), g.decimals ?? 2);
    }
    case 'counter': {
      let v = (g.start ?? 0) - (g.step ?? 1);
      return () => (v += g.step ?? 1);
    }
    case 'choice':
      return () => g.values[Math.floor(rnd() * g.values.length)];
    case 'const':
      return () => g.value;
  }
}

/**
 * Creates a device's series. `tsFloor`: every ts is greater than it (a later run on the same
 * devices passes the previous run's last ts, so no point overwrites an earlier one).
 */
export function createDeviceSeries(spec: TemplateSpec, options: { random?: Random; tsFloor?: number } = {}): DeviceSeries {
  const rnd = options.random ?? Math.random;
  const keys = Object.keys(spec.keys);
  if (keys.length === 0) throw new Error('a template needs at least one key');
  const fns = keys.map((k) => valueFn(spec.keys[k] as Generator, rnd));
  // JSON-escaped key prefixes, computed once: `"temperature":`
  const prefixes = keys.map((k, i) => `${i === 0 ? '' : ','}${JSON.stringify(k)}:`);
  const groups = spec.shape === 'array' ? Math.max(1, Math.floor(spec.groups ?? 1)) : 1;
  let lastTs = options.tsFloor ?? 0;

  const values = (now: number): string => {
    let s = '{';
    for (let i = 0; i < fns.length; i++) s += prefixes[i] + JSON.stringify((fns[i] as ValueFn)(now));
    return `${s}}`;
  };
  const nextTs = (now: number): number => (lastTs = Math.max(Math.trunc(now), lastTs + 1));

  return {
    get lastTs() {
      return lastTs;
    },
    next(now) {
      if (spec.shape === 'flat') return { payload: values(now), points: keys.length, lastTs: undefined };
      if (spec.shape === 'ts') {
        const ts = nextTs(now);
        return { payload: `{"ts":${ts},"values":${values(now)}}`, points: keys.length, lastTs: ts };
      }
      let s = '[';
      let ts = 0;
      for (let g = 0; g < groups; g++) {
        ts = nextTs(now);
        s += `${g === 0 ? '' : ','}{"ts":${ts},"values":${values(now)}}`;
      }
      return { payload: `${s}]`, points: keys.length * groups, lastTs: ts };
    },
  };
}

/** Named templates for the CLI's --template. */
export const PRESETS: Readonly<Record<string, TemplateSpec>> = {
  /** Three data points per message with their own ts, as in ThingsBoard's performance test. */
  bench: {
    shape: 'ts',
    keys: {
      temperature: { kind: 'walk', start: 21, step: 0.2, min: -20, max: 60 },
      humidity: { kind: 'sine', mid: 50, amplitude: 15, periodMs: 60_000, decimals: 1 },
      seq: { kind: 'counter' },
    },
  },
  /** A thermostat: random-walk temperature, sine humidity, a mode and a JSON status, server-stamped. */
  thermostat: {
    shape: 'flat',
    keys: {
      temperature: { kind: 'walk', start: 21, step: 0.1, min: 5, max: 35 },
      humidity: { kind: 'sine', mid: 45, amplitude: 10, periodMs: 3_600_000, decimals: 1 },
      mode: { kind: 'choice', values: ['heat', 'cool', 'off'] },
      status: { kind: 'const', value: { fw: '1.4.2', ok: true } },
    },
  },
  /** A gateway-like burst: 10 time-stamped readings per message. */
  burst: {
    shape: 'array',
    groups: 10,
    keys: {
      pressure: { kind: 'walk', start: 1013, step: 0.5 },
      vibration: { kind: 'sine', mid: 0, amplitude: 1, periodMs: 1_000, decimals: 3 },
    },
  },
};

/**
 * Parses `--keys name:kind[:args]` lists, e.g.
 * `temperature:walk:20:0.5,humidity:sine:50:10:60000,seq:counter,mode:choice:a|b|c,on:const:true`.
 * walk: start step [min max]; sine: mid amplitude periodMs; counter: [start step];
 * choice: values separated by '|'; const: a JSON value (or a bare string).
 */
export function parseKeySpec(text: string): Record<string, Generator> {
  const out: Record<string, Generator> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, kind, ...args] = part.split(':');
    if (!name || !kind) throw new Error(`bad key spec "${part}": expected name:kind[:args]`);
    const n = (i: number, def?: number): number => {
      const s = args[i];
      if (s === undefined || s === '') {
        if (def === undefined) throw new Error(`key "${name}": ${kind} needs argument ${i + 1}`);
        return def;
      }
      const v = Number(s);
      if (!Number.isFinite(v)) throw new Error(`key "${name}": "${s}" is not a number`);
      return v;
    };
    let g: Generator;
    switch (kind) {
      case 'walk':
        g = { kind, start: n(0, 0), step: n(1, 1), ...(args.length >= 4 ? { min: n(2), max: n(3) } : {}) };
        break;
      case 'sine':
        g = { kind, mid: n(0, 0), amplitude: n(1, 1), periodMs: n(2, 60_000) };
        break;
      case 'counter':
        g = { kind, start: n(0, 0), step: n(1, 1) };
        break;
      case 'choice':
        g = { kind, values: (args.join(':') || 'a').split('|') };
        break;
      case 'const': {
        const raw = args.join(':');
        let value: Extract<Generator, { kind: 'const' }>['value'];
        try {
          value = JSON.parse(raw) as typeof value;
        } catch {
          value = raw;
        }
        g = { kind, value };
        break;
      }
      default:
        throw new Error(`key "${name}": unknown generator "${kind}" (walk, sine, counter, choice, const)`);
    }
    out[name] = g;
  }
  return out;
}
