/** A telemetry value for display: numbers with the widget's decimals and unit, anything else as sent. */
export function formatValue(value: string | number | null | undefined, decimals: number | null | undefined, units?: string): string {
  if (value === null || value === undefined || value === '') return '—';
  const n = typeof value === 'number' ? value : Number(value);
  const text = typeof value === 'string' && (value.trim() === '' || !Number.isFinite(n)) ? value : decimals !== null && decimals !== undefined ? n.toFixed(decimals) : String(n);
  return units ? `${text} ${units}` : text;
}

export function formatTime(ts: number): string {
  return new Date(ts).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

/** "12 s ago", "3 min ago", or the time. */
export function ago(ts: number, now = Date.now()): string {
  const s = Math.round((now - ts) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return formatTime(ts);
}
