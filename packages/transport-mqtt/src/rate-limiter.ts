/**
 * Per-device message rate as GCRA (the generic cell rate algorithm, a token bucket kept as one
 * number per device): `rate` messages per second with a burst of `rate` messages. Over the rate a
 * message is not refused but scheduled later: the transport holds its acknowledgement (and, as
 * aedes reads the next packets only after the current ones are done, the connection), so a fast
 * device is slowed down and loses nothing.
 */
export interface RateLimiter {
  /** Epoch ms at which this device's next message may go (<= now: at once). Reservations are monotonic per device. */
  reserve(deviceId: string, now: number): number;
  /** Forgets a device (its last session closed). */
  release(deviceId: string): void;
}

export function createRateLimiter(ratePerSecond: number): RateLimiter | undefined {
  if (!(ratePerSecond > 0)) return undefined;
  const interval = 1000 / ratePerSecond;
  // burst tolerance: `rate` messages back to back
  const tolerance = interval * Math.max(0, Math.ceil(ratePerSecond) - 1);
  /** Theoretical arrival time of the next message, per device. */
  const tat = new Map<string, number>();
  return {
    reserve(deviceId, now) {
      const t = Math.max(tat.get(deviceId) ?? now, now);
      tat.set(deviceId, t + interval);
      return t - tolerance;
    },
    release(deviceId) {
      tat.delete(deviceId);
    },
  };
}
