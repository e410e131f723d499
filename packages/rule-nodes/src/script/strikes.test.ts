import { describe, expect, it } from 'vitest';
import { createStrikeTracker } from './strikes';

describe('strikes against a script', () => {
  const policy = { maxStrikes: 3, windowMs: 1000, cooldownMs: 5000 };

  it('counts distinct messages in the window; old strikes expire', () => {
    const t = createStrikeTracker(policy);
    expect(t.record(1, 'a', false, 0)).toMatchObject({ strikes: 1, justDisabled: false });
    expect(t.record(1, 'a', false, 10)).toMatchObject({ strikes: 1, justDisabled: false });
    expect(t.record(1, 'b', false, 20)).toMatchObject({ strikes: 2, justDisabled: false });
    // "a" and "b" are out of the window by now: "c" is the only strike.
    expect(t.record(1, 'c', false, 1500)).toMatchObject({ strikes: 1, justDisabled: false });
    expect(t.admit(1, 'x', 1500)).toEqual({ run: true, reenabled: false });
  });

  it('disables once at maxStrikes, refuses until the cool-down ends, then runs again', () => {
    const t = createStrikeTracker(policy);
    t.record(1, 'a', false, 0);
    t.record(1, 'b', false, 1);
    expect(t.record(1, 'c', false, 2)).toEqual({ strikes: 3, disabledUntil: 5002, justDisabled: true });
    // A call in flight at that moment adds no second disable.
    expect(t.record(1, 'd', false, 3)).toMatchObject({ disabledUntil: 5002, justDisabled: false });
    expect(t.admit(1, 'x', 5001)).toEqual({ run: false, reason: 'disabled', until: 5002 });
    expect(t.admit(2, 'x', 5001)).toEqual({ run: true, reenabled: false });
    expect(t.disabledCount(5001)).toBe(1);
    expect(t.admit(1, 'x', 5002)).toEqual({ run: true, reenabled: true });
    expect(t.disabledCount(5002)).toBe(0);
  });

  it('a message that hung the sandbox is refused for the window, a soft timeout is not', () => {
    const t = createStrikeTracker(policy);
    t.record(1, 'hard', true, 0);
    t.record(1, 'soft', false, 0);
    expect(t.admit(1, 'hard', 500)).toEqual({ run: false, reason: 'repeat' });
    expect(t.admit(1, 'soft', 500)).toEqual({ run: true, reenabled: false });
    expect(t.admit(1, 'hard', 1000)).toEqual({ run: true, reenabled: false });
  });
});
