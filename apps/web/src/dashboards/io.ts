import type { DashboardDto, DashboardInfoDto } from '@rivulet/api-types';
import { api } from '../api/client';

/**
 * Export and import in ThingsBoard's dashboard export format: the dashboard without its id, tenant
 * and creation time (what ThingsBoard's "Export dashboard" downloads), so a file goes both ways.
 */
export function exportJson(d: DashboardDto): string {
  return JSON.stringify({ title: d.title, image: null, mobileHide: false, mobileOrder: null, configuration: d.configuration, name: d.title, resources: [] }, null, 2);
}

export function fileName(title: string): string {
  return `${title.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'dashboard'}.json`;
}

export async function downloadDashboard(id: string): Promise<void> {
  const d = await api<DashboardDto>(`/api/dashboard/${id}`);
  const url = URL.createObjectURL(new Blob([exportJson(d)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName(d.title);
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Reads an exported file and creates a new dashboard from it (never overwrites one: the id is dropped). */
export async function importDashboard(file: File): Promise<DashboardInfoDto> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await file.text());
  } catch {
    throw new Error(`${file.name} is not JSON`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${file.name} is not a dashboard export (expected a JSON object)`);
  const o = parsed as Record<string, unknown>;
  if (typeof o.title !== 'string' || !o.title.trim()) throw new Error(`${file.name} has no dashboard title`);
  if (o.configuration !== undefined && o.configuration !== null && (typeof o.configuration !== 'object' || Array.isArray(o.configuration)))
    throw new Error(`${file.name}: configuration must be a JSON object`);
  // Everything else of the export goes as it is (the server ignores what it does not keep).
  const { id: _id, ...rest } = o;
  return api<DashboardInfoDto>('/api/dashboard', { method: 'POST', body: rest });
}
