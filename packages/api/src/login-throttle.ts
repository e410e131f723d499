import { ErrorCodes } from '@rivulet/api-types';
import { ErrorCode } from '@rivulet/core';
import { ApiError, authFailed } from './api-error';

/**
 * Login throttling, modelled on ThingsBoard's security settings (maxFailedLoginAttempts and a lock
 * that expires): failures are counted per account and per client address, in this process's memory.
 * Everything here is decided before any password hashing, so a refused attempt costs no scrypt work.
 */
export interface LoginThrottleOptions {
  /** Failed logins in a row that lock an account (ThingsBoard's maxFailedLoginAttempts); 0: never lock. Default 5. */
  maxFailures?: number;
  /** How long a lock lasts, and how long failures are remembered. Default 300 s. */
  lockoutSeconds?: number;
  /** Failed logins from one address (any accounts) before the address gets 429 for lockoutSeconds. Default 20. */
  addressMaxFailures?: number;
  /** Password hashes (scrypt) verified at once, process-wide; the rest wait in line. Default 2. */
  maxConcurrentHashes?: number;
  /** Logins of one address in flight at once; more get 429 at once. Default 2. */
  maxPendingPerAddress?: number;
  /** Logins waiting for a hash slot; more get 429 at once. Default 64. */
  maxQueuedHashes?: number;
  /** Reverse proxies whose X-Forwarded-For names the client (addresses or CIDR ranges). Default none. */
  trustedProxies?: readonly string[];
}

export const DEFAULT_LOGIN_MAX_FAILURES = 5;
export const DEFAULT_LOGIN_LOCKOUT_SECONDS = 300;
export const DEFAULT_LOGIN_ADDRESS_MAX_FAILURES = 20;
export const DEFAULT_LOGIN_MAX_CONCURRENT_HASHES = 2;

/** Past this many tracked accounts or addresses, expired entries are swept. */
const SWEEP_AT = 10_000;

interface Counter {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
  pending: number;
}

export type FailureOutcome = 'counted' | 'account_locked' | 'address_locked';

/** One admitted login attempt: hash under the shared limit, then report how it went (exactly once). */
export interface LoginAttempt {
  hash<T>(work: () => Promise<T>): Promise<T>;
  succeeded(): void;
  failed(): FailureOutcome;
  /** Ends the attempt without counting it (an error that was not a wrong password). */
  abandon(): void;
}

export interface LoginThrottle {
  /**
   * Admits an attempt or throws: 429 (errorCode 33) for a throttled address or too many attempts in
   * flight, 401 (errorCode 10) naming the lock for a locked account. `account` is the normalised
   * e-mail whether or not such a user exists, so a lock tells nothing about which accounts exist.
   */
  admit(address: string, account: string): LoginAttempt;
  /** Forgets an account's failures and lock (after a password reset). */
  clearAccount(account: string): void;
  /** Hash work of other endpoints (change password) under the same limit. */
  hash<T>(work: () => Promise<T>): Promise<T>;
  /** Accounts and addresses currently remembered (memory is bounded by sweeping expired ones). */
  tracked(): { accounts: number; addresses: number };
}

export function accountLocked(): ApiError {
  return authFailed('User account is locked due to security policy: too many failed logins. Try again later');
}

function tooMany(message: string): ApiError {
  return new ApiError(ErrorCode.TOO_MANY_REQUESTS, ErrorCodes.TOO_MANY_REQUESTS, message);
}

type Limiter = <T>(work: () => Promise<T>, urgent?: boolean) => Promise<T>;

/**
 * A counting semaphore with a bounded line in two classes: attempts from addresses without recent
 * failures ("urgent") go before those from addresses that have been failing, so a flood waits behind
 * a real user rather than the other way round.
 */
function createLimiter(concurrency: number, maxQueued: number): Limiter {
  let running = 0;
  const urgentLine: Array<() => void> = [];
  const line: Array<() => void> = [];
  const release = (): void => {
    const next = urgentLine.shift() ?? line.shift();
    // The slot passes straight to the next waiter; running only drops when nobody waits.
    if (next) next();
    else running--;
  };
  return async (work, urgent = false) => {
    if (running < concurrency) {
      running++;
    } else {
      if (urgentLine.length + line.length >= maxQueued) throw tooMany('Too many logins in progress: try again in a moment');
      await new Promise<void>((resolve) => (urgent ? urgentLine : line).push(resolve));
    }
    try {
      return await work();
    } finally {
      release();
    }
  };
}

export function createLoginThrottle(options: LoginThrottleOptions = {}, now: () => number = Date.now): LoginThrottle {
  const maxFailures = options.maxFailures ?? DEFAULT_LOGIN_MAX_FAILURES;
  const lockoutMs = (options.lockoutSeconds ?? DEFAULT_LOGIN_LOCKOUT_SECONDS) * 1000;
  const addressMaxFailures = options.addressMaxFailures ?? DEFAULT_LOGIN_ADDRESS_MAX_FAILURES;
  const maxPendingPerAddress = options.maxPendingPerAddress ?? 2;
  const limit = createLimiter(options.maxConcurrentHashes ?? DEFAULT_LOGIN_MAX_CONCURRENT_HASHES, options.maxQueuedHashes ?? 64);
  const accounts = new Map<string, Counter>();
  const addresses = new Map<string, Counter>();
  // Sweeping is O(size): when most entries are live, the next sweep waits until the map has doubled.
  const sweepAt = new Map<Map<string, Counter>, number>([
    [accounts, SWEEP_AT],
    [addresses, SWEEP_AT],
  ]);

  function counter(map: Map<string, Counter>, key: string, t: number): Counter {
    let c = map.get(key);
    if (!c) {
      if (map.size >= (sweepAt.get(map) ?? SWEEP_AT)) {
        sweep(map, t);
        sweepAt.set(map, Math.max(SWEEP_AT, map.size * 2));
      }
      c = { failures: 0, lastFailure: 0, lockedUntil: 0, pending: 0 };
      map.set(key, c);
    }
    // Failures are remembered for one lockout period after the last one; a lock ends by itself.
    if (c.lockedUntil !== 0 && c.lockedUntil <= t) {
      c.lockedUntil = 0;
      c.failures = 0;
    }
    if (c.failures > 0 && t - c.lastFailure > lockoutMs) c.failures = 0;
    return c;
  }

  function sweep(map: Map<string, Counter>, t: number): void {
    for (const [k, c] of map) {
      if (c.pending === 0 && c.lockedUntil <= t && t - c.lastFailure > lockoutMs) map.delete(k);
    }
  }

  function fail(c: Counter, max: number, t: number): boolean {
    c.failures++;
    c.lastFailure = t;
    if (max > 0 && c.failures >= max && c.lockedUntil <= t) {
      c.lockedUntil = t + lockoutMs;
      return true;
    }
    return false;
  }

  return {
    admit(address, account) {
      const t = now();
      const addr = counter(addresses, address, t);
      if (addr.lockedUntil > t) {
        throw tooMany(`Too many failed login attempts from this address: try again in ${Math.ceil((addr.lockedUntil - t) / 1000)} s`);
      }
      const acct = counter(accounts, account, t);
      if (acct.lockedUntil > t) throw accountLocked();
      if (addr.pending >= maxPendingPerAddress) throw tooMany('Too many login attempts from this address at once: try again in a moment');
      // Attempts in flight count as possible failures, so a burst cannot slip past the lock.
      if (maxFailures > 0 && acct.failures + acct.pending >= maxFailures) throw tooMany('Too many login attempts for this account at once: try again in a moment');
      const urgent = addr.failures === 0;
      addr.pending++;
      acct.pending++;
      let done = false;
      const end = (): void => {
        if (done) throw new Error('login attempt already ended');
        done = true;
        addr.pending--;
        acct.pending--;
      };
      return {
        hash: (work) => limit(work, urgent),
        succeeded() {
          end();
          acct.failures = 0;
        },
        failed() {
          end();
          const t2 = now();
          const accountNowLocked = fail(acct, maxFailures, t2);
          const addressNowLocked = fail(addr, addressMaxFailures, t2);
          return accountNowLocked ? 'account_locked' : addressNowLocked ? 'address_locked' : 'counted';
        },
        abandon: end,
      };
    },
    clearAccount(account) {
      accounts.delete(account);
    },
    hash: (work) => limit(work, true),
    tracked: () => ({ accounts: accounts.size, addresses: addresses.size }),
  };
}
