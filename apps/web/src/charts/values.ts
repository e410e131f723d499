/** A value as a chart can draw it: numbers, numeric strings and booleans; anything else is a gap (null). */
export function numericValue(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : v === 'true' ? 1 : v === 'false' ? 0 : null;
  }
  return null;
}
