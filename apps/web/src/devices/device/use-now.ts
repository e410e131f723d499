import { useEffect, useState } from 'react';

/** The current time, refreshed every `everyMs` (for "N s ago" labels and sliding windows). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
