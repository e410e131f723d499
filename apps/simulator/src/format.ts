import type { Progress, RunSummary } from './runner';

const nf = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
export const fmt = (n: number): string => (Number.isFinite(n) ? nf.format(n) : 'n/a');
export const ms = (n: number): string => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : 'n/a');

export function progressLine(p: Progress): string {
  return `[${p.elapsedS.toFixed(1).padStart(6)} s] sent ${fmt(p.sent)}  acked ${fmt(p.acked)} (${fmt(p.ackRate)}/s)  in flight ${fmt(p.inflight)}  errors ${fmt(p.errors)}`;
}

export function summaryText(s: RunSummary, label: string): string {
  const lines = [
    `Summary (${label}, ${s.devices} devices, ${s.durationS.toFixed(1)} s)`,
    `  sent          ${fmt(s.sent)} messages (${fmt(s.pointsSent)} points)`,
    `  acknowledged  ${fmt(s.acked)} (${fmt(s.ackedPerS)} msg/s, ${fmt(s.pointsAckedPerS)} points/s)`,
    `  errors        ${fmt(s.errors)}${s.errors > 0 ? `  ${JSON.stringify(s.errorsByCode)}; first: ${s.firstError}` : ''}`,
  ];
  if (s.unanswered > 0) lines.push(`  unanswered    ${fmt(s.unanswered)} (no acknowledgement before the drain timeout)`);
  if (s.lostDevices > 0) lines.push(`  lost devices  ${fmt(s.lostDevices)} (connection gone)`);
  lines.push(`  ack latency   p50 ${ms(s.latencyMs.p50)} ms  p90 ${ms(s.latencyMs.p90)} ms  p99 ${ms(s.latencyMs.p99)} ms  max ${ms(s.latencyMs.max)} ms`);
  return lines.join('\n');
}
