import { createHash } from 'node:crypto';
import { createHttpClient } from './clients';
import type { DeviceConnection } from './clients/types';
import { createRestClient, type FetchFn } from './devices';
import { createDeviceSeries, seededRandom, type Generator, type TemplateSpec } from './templates';

export interface DemoOptions {
  url: string;
  username: string;
  password: string;
  /** Hours of history per device (default 24), one reading every 5 minutes. */
  hours?: number;
  fetch?: FetchFn;
  now?: () => number;
  out: (text: string) => void;
}

interface DemoDevice {
  name: string;
  type: string;
  attributes: Record<string, unknown>;
  template: TemplateSpec;
}

export interface DemoResult {
  devices: Array<{ name: string; id: string; token: string; points: number }>;
  /** The "Rivulet demo" dashboard: `created` false when an earlier run's was updated. */
  dashboard: { id: string; created: boolean };
}

export const DEMO_DASHBOARD_TITLE = 'Rivulet demo';

const DEMO_DEVICES: readonly DemoDevice[] = [
  ...[1, 2, 3].map((i) => ({
    name: `Demo Thermostat ${i}`,
    type: 'thermostat',
    attributes: { model: 'TH-200', firmware: '1.4.2', room: ['Kitchen', 'Office', 'Lab'][i - 1] },
    template: {
      shape: 'ts' as const,
      keys: {
        temperature: { kind: 'walk' as const, start: 19 + i, step: 0.15, min: 15, max: 28 },
        humidity: { kind: 'sine' as const, mid: 45, amplitude: 8, periodMs: 86_400_000, decimals: 1 },
        heating: { kind: 'choice' as const, values: [true, false] },
      },
    },
  })),
  ...[1, 2].map((i) => ({
    name: `Demo Pump ${i}`,
    type: 'pump',
    attributes: { model: 'P-7', firmware: '2.0.1', site: `Station ${i}` },
    template: {
      shape: 'ts' as const,
      keys: {
        pressure: { kind: 'walk' as const, start: 3.5, step: 0.05, min: 2, max: 5 },
        flow: { kind: 'sine' as const, mid: 120, amplitude: 30, periodMs: 43_200_000, decimals: 1 },
        rpm: { kind: 'walk' as const, start: 1450, step: 10, min: 1200, max: 1700, decimals: 0 },
      },
    },
  })),
];

const STEP_MS = 5 * 60_000;
const GROUPS_PER_POST = 48;

function post(conn: DeviceConnection, kind: 'telemetry' | 'attributes', payload: string): Promise<void> {
  return new Promise((resolve, reject) => conn.send(kind, payload, (e) => (e ? reject(e) : resolve())));
}

/**
 * `--demo`: a fresh install gets a few devices with client attributes and a day of readings (sent
 * through the HTTP device API as arrays of {ts, values}, as a device back-filling would), and the
 * "Rivulet demo" dashboard over them (created, or updated when an earlier run left one).
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const rest = createRestClient({ baseUrl: o.url, ...(o.fetch ? { fetch: o.fetch } : {}) });
  await rest.login(o.username, o.password);
  const http = createHttpClient({ url: o.url, maxSockets: 8 });
  const now = (o.now ?? Date.now)();
  const steps = Math.max(1, Math.round(((o.hours ?? 24) * 3_600_000) / STEP_MS));
  const out: Array<{ name: string; id: string; token: string; points: number }> = [];
  try {
    for (const [n, d] of DEMO_DEVICES.entries()) {
      const dev = await rest.ensureDevice(d.name, d.type);
      const conn = await http.connect(dev);
      await post(conn, 'attributes', JSON.stringify(d.attributes));
      const series = createDeviceSeries(d.template, { random: seededRandom(n + 1) });
      let points = 0;
      let batch: string[] = [];
      for (let s = steps - 1; s >= 0; s--) {
        const m = series.next(now - s * STEP_MS);
        batch.push(m.payload);
        points += m.points;
        if (batch.length === GROUPS_PER_POST || s === 0) {
          await post(conn, 'telemetry', `[${batch.join(',')}]`);
          batch = [];
        }
      }
      out.push({ name: d.name, id: dev.id, token: dev.token, points });
      o.out(`  ${d.name.padEnd(18)} id ${dev.id}  token ${dev.token}  ${points} points (${steps} readings of ${Object.keys(d.template.keys).length} keys)\n`);
    }
  } finally {
    await http.close();
  }
  const configuration = demoDashboardConfiguration(DEMO_DEVICES.map((d, i) => ({ ...d, id: out[i]!.id })));
  const existing = await rest.findDashboard(DEMO_DASHBOARD_TITLE);
  const { id: dashboardId } = await rest.saveDashboard({ ...(existing ? { id: existing.id } : {}), title: DEMO_DASHBOARD_TITLE, configuration });
  o.out(
    `Demo data is in: ${out.length} devices, ${steps} readings each (every 5 minutes over ${o.hours ?? 24} h).\n` +
      `Dashboard "${DEMO_DASHBOARD_TITLE}" ${existing ? 'updated' : 'created'}: id ${dashboardId}, one chart per device and a table of latest values.\n` +
      `It is stored in ThingsBoard's dashboard JSON; the web app that renders it comes later. Fetch it with GET /api/dashboard/{id}:\n` +
      `  curl "${o.url}/api/dashboard/${dashboardId}" -H "X-Authorization: Bearer $JWT"\n` +
      `Read the data through the REST API, e.g.\n` +
      `  curl "${o.url}/api/plugins/telemetry/DEVICE/${out[0]?.id}/values/timeseries?keys=temperature" -H "X-Authorization: Bearer $JWT"\n` +
      `or keep them live: run the demo with --save-tokens FILE, then npm run sim -- --protocol http --url ${o.url} --tokens FILE --devices ${out.length}.\n`,
  );
  return { devices: out, dashboard: { id: dashboardId, created: !existing } };
}

/** A uuid derived from a name, so a second run writes the same widget and alias ids (name-based, as RFC 9562 version 5). */
function nameUuid(name: string): string {
  const h = createHash('sha1').update(`rivulet-demo:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Keys a line chart can draw: generators of numbers only (a boolean or text key goes to the table only). */
function isNumeric(g: Generator): boolean {
  return g.kind === 'walk' || g.kind === 'sine' || g.kind === 'counter' || (g.kind === 'choice' && g.values.every((v) => typeof v === 'number'));
}

const KEY_COLORS = ['#2196f3', '#4caf50', '#f44336', '#ffc107', '#607d8b', '#9c27b0'];
const DAY_MS = 86_400_000;
/** ThingsBoard's grid is 24 columns wide: two charts per row under a full-width table. */
const GRID_COLUMNS = 24;
const CHART = { sizeX: 12, sizeY: 6 };
const TABLE = { sizeX: GRID_COLUMNS, sizeY: 6 };

const label = (key: string): string => key.charAt(0).toUpperCase() + key.slice(1);

function dataKey(name: string, index: number): Record<string, unknown> {
  return { name, type: 'timeseries', label: label(name), color: KEY_COLORS[index % KEY_COLORS.length], settings: {} };
}

/**
 * The demo dashboard in ThingsBoard's dashboard JSON (what ThingsBoard exports as `configuration`
 * and imports back): an entity alias per device (singleEntity) and one for all of them (entityList),
 * a time-series line chart per device over its numeric keys, and an entities table of every key's
 * latest value; one state, "default", whose main layout places the widgets.
 */
export function demoDashboardConfiguration(devices: ReadonlyArray<{ id: string; name: string; template: TemplateSpec }>): Record<string, unknown> {
  const timewindow = { realtime: { realtimeType: 0, timewindowMs: DAY_MS, interval: 300_000 }, aggregation: { type: 'NONE', limit: 1000 } };
  const widgets: Record<string, unknown> = {};
  const layout: Record<string, { sizeX: number; sizeY: number; row: number; col: number }> = {};
  const entityAliases: Record<string, unknown> = {};

  const allAlias = nameUuid('alias:all');
  entityAliases[allAlias] = {
    id: allAlias,
    alias: 'Demo devices',
    filter: { type: 'entityList', resolveMultiple: true, entityType: 'DEVICE', entityList: devices.map((d) => d.id) },
  };
  const allKeys = [...new Set(devices.flatMap((d) => Object.keys(d.template.keys)))];
  const tableId = nameUuid('widget:latest');
  widgets[tableId] = {
    id: tableId,
    typeFullFqn: 'system.cards.entities_table',
    type: 'latest',
    ...TABLE,
    config: {
      title: 'Latest values',
      showTitle: true,
      datasources: [{ type: 'entity', name: '', entityAliasId: allAlias, filterId: null, dataKeys: allKeys.map(dataKey) }],
      timewindow: { realtime: { timewindowMs: DAY_MS } },
      useDashboardTimewindow: true,
      settings: { entitiesTitle: 'Latest values', enableSearch: true, displayPagination: true, defaultPageSize: 10, displayEntityName: true, entityNameColumnTitle: 'Device', defaultSortOrder: 'entityName' },
    },
  };
  layout[tableId] = { ...TABLE, row: 0, col: 0 };

  for (const [i, d] of devices.entries()) {
    const aliasId = nameUuid(`alias:${d.id}`);
    entityAliases[aliasId] = { id: aliasId, alias: d.name, filter: { type: 'singleEntity', resolveMultiple: false, singleEntity: { entityType: 'DEVICE', id: d.id } } };
    const keys = Object.entries(d.template.keys).filter(([, g]) => isNumeric(g)).map(([k]) => k);
    const widgetId = nameUuid(`widget:chart:${d.id}`);
    widgets[widgetId] = {
      id: widgetId,
      typeFullFqn: 'system.time_series_chart',
      type: 'timeseries',
      ...CHART,
      config: {
        title: d.name,
        showTitle: true,
        showLegend: true,
        datasources: [{ type: 'entity', name: '', entityAliasId: aliasId, filterId: null, dataKeys: keys.map(dataKey) }],
        timewindow: { realtime: { timewindowMs: DAY_MS } },
        useDashboardTimewindow: true,
        settings: {},
      },
    };
    const perRow = GRID_COLUMNS / CHART.sizeX;
    layout[widgetId] = { ...CHART, row: TABLE.sizeY + Math.floor(i / perRow) * CHART.sizeY, col: (i % perRow) * CHART.sizeX };
  }

  return {
    description: 'Devices created by the simulator\'s --demo: a day of readings per device.',
    widgets,
    states: {
      default: {
        name: DEMO_DASHBOARD_TITLE,
        root: true,
        layouts: { main: { widgets: layout, gridSettings: { backgroundColor: '#eeeeee', columns: GRID_COLUMNS, margin: 10, outerMargin: true, backgroundSizeMode: '100%' } } },
      },
    },
    entityAliases,
    filters: {},
    timewindow: { displayValue: '', selectedTab: 0, hideInterval: false, hideAggregation: false, ...timewindow },
    settings: {
      stateControllerId: 'entity',
      showTitle: true,
      showDashboardsSelect: true,
      showEntitiesSelect: true,
      showDashboardTimewindow: true,
      showDashboardExport: true,
      toolbarAlwaysOpen: true,
    },
  };
}
