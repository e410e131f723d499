/**
 * Strikes against scripts: a call that hit its time limit or took the sandbox's worker down is a
 * strike against its script. Strikes count DISTINCT messages (the caller's key, the message id) in a
 * sliding window, so the retries of one message are one strike; `maxStrikes` of them disable the
 * script for `cooldownMs`, after which it runs again by itself (no save needed).
 *
 * A message whose call had to be stopped by terminating the worker (or crashed it) is remembered for
 * the window: its retries fail at once instead of hanging the sandbox again for every tenant.
 */
export interface StrikePolicy {
  /** Distinct messages that may strike a script within windowMs before it is disabled (default 3). */
  maxStrikes: number;
  /** Window in which strikes count, ms (default 60 s). */
  windowMs: number;
  /** How long a disabled script stays disabled, ms (default 60 s). */
  cooldownMs: number;
  /**
   * Distinct messages of one tenant's scripts (all its nodes together) that may hang the shared
   * worker (terminated past its deadline) or crash it within windowMs before every script of that
   * tenant is suspended for cooldownMs (default 5). The worker is shared by all tenants, so this
   * bounds how often one tenant can stall the others, however many script nodes it has.
   */
  maxTenantHardKills: number;
}

export const DEFAULT_STRIKE_POLICY: StrikePolicy = { maxStrikes: 3, windowMs: 60_000, cooldownMs: 60_000, maxTenantHardKills: 5 };

interface Strike {
  at: number;
  /** The worker had to be terminated (or crashed) during this message's call. */
  hard: boolean;
}

interface ScriptState {
  /** Strikes by message key, oldest first. */
  recent: Map<string, Strike>;
  /** Disabled while now < disabledUntil (0: enabled). */
  disabledUntil: number;
}

/** What a call may do: run, or be refused at once. */
export type Admission = { run: true; reenabled: boolean } | { run: false; reason: 'disabled'; until: number } | { run: false; reason: 'repeat' };

/** Strikes per script (K: its id), or per tenant (K: the tenant id, for its hard kills). */
export interface StrikeTracker<K = number> {
  /** Before a call: refused while disabled, or for a message that already hung the sandbox. */
  admit(id: K, key: string, now: number): Admission;
  /** After a call failed by a strike: the distinct strikes in the window, and whether they disabled it. */
  record(id: K, key: string, hard: boolean, now: number): { strikes: number; disabledUntil: number; justDisabled: boolean };
  /** The script was destroyed. */
  forget(id: K): void;
  disabledCount(now: number): number;
}

export function createStrikeTracker<K = number>(policy: Pick<StrikePolicy, 'maxStrikes' | 'windowMs' | 'cooldownMs'>): StrikeTracker<K> {
  const states = new Map<K, ScriptState>();

  function prune(s: ScriptState, now: number): void {
    // Insertion order is time order (a repeated key keeps its first time): stop at the first live one.
    for (const [k, strike] of s.recent) {
      if (now - strike.at < policy.windowMs) break;
      s.recent.delete(k);
    }
  }

  return {
    admit(id, key, now) {
      const s = states.get(id);
      if (!s) return { run: true, reenabled: false };
      let reenabled = false;
      if (s.disabledUntil !== 0) {
        if (now < s.disabledUntil) return { run: false, reason: 'disabled', until: s.disabledUntil };
        s.disabledUntil = 0;
        reenabled = true;
      }
      prune(s, now);
      if (s.recent.get(key)?.hard) return { run: false, reason: 'repeat' };
      if (s.recent.size === 0) states.delete(id);
      return { run: true, reenabled };
    },
    record(id, key, hard, now) {
      let s = states.get(id);
      if (!s) {
        s = { recent: new Map(), disabledUntil: 0 };
        states.set(id, s);
      }
      prune(s, now);
      const prev = s.recent.get(key);
      if (prev) prev.hard ||= hard;
      else s.recent.set(key, { at: now, hard });
      const strikes = s.recent.size;
      // A call still in flight when the script was disabled adds to the count, it does not disable again.
      const justDisabled = s.disabledUntil === 0 && strikes >= policy.maxStrikes;
      if (justDisabled) {
        s.disabledUntil = now + policy.cooldownMs;
        // A fresh count after the cool-down; the messages that hung it stay refused while disabled anyway.
        s.recent.clear();
      }
      return { strikes, disabledUntil: s.disabledUntil, justDisabled };
    },
    forget(id) {
      states.delete(id);
    },
    disabledCount(now) {
      let n = 0;
      for (const s of states.values()) if (s.disabledUntil > now) n++;
      return n;
    },
  };
}
