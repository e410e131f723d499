/**
 * ThingsBoard's dashboard JSON, read and edited in place. The stored `configuration` stays the
 * source of truth: the page reads widgets, layout, aliases and the time window out of it and edits
 * write back into a copy, so whatever this app does not understand (another state, widget styles,
 * a ThingsBoard-only setting) survives a save, an export and an import unchanged.
 */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A data key as ThingsBoard keeps it in a datasource. */
export interface TbDataKey {
  name: string;
  type: string;
  label?: string;
  color?: string;
  units?: string;
  decimals?: number;
  settings?: JsonObject;
}

export interface TbDatasource {
  type: string;
  name?: string;
  entityAliasId?: string | null;
  /** ThingsBoard before 2.0: a datasource naming the device directly. */
  deviceId?: string;
  filterId?: string | null;
  dataKeys: TbDataKey[];
}

export interface TbWidget {
  id?: string;
  typeFullFqn?: string;
  /** ThingsBoard before 3.6 named a widget type by bundle and alias instead of one FQN. */
  bundleAlias?: string;
  typeAlias?: string;
  isSystemType?: boolean;
  type?: string;
  sizeX?: number;
  sizeY?: number;
  row?: number;
  col?: number;
  config: { [key: string]: unknown } & {
    title?: string;
    datasources?: TbDatasource[];
    settings?: JsonObject;
    units?: string;
    decimals?: number;
  };
}

export interface TbLayoutItem {
  row: number;
  col: number;
  sizeX: number;
  sizeY: number;
}

export interface TbAliasFilter {
  type: string;
  resolveMultiple?: boolean;
  singleEntity?: { entityType: string; id: string };
  entityType?: string;
  entityList?: string[];
  deviceType?: string;
  deviceTypes?: string[];
  deviceNameFilter?: string;
}

export interface TbAlias {
  id: string;
  alias: string;
  filter: TbAliasFilter;
}

/** The widget kinds this app draws; every other widget shows as "not supported" and is kept. */
export type WidgetKind = 'chart' | 'card' | 'gauge' | 'table' | 'alarms';

/** The FQN written for each kind: ThingsBoard's own widget of the same purpose. */
export const KIND_FQN: Record<WidgetKind, string> = {
  chart: 'system.time_series_chart',
  card: 'system.cards.value_card',
  gauge: 'system.analogue_gauges.radial_gauge_canvas_gauges',
  table: 'system.cards.entities_table',
  alarms: 'system.alarm_widgets.alarms_table',
};
export const KIND_TYPE: Record<WidgetKind, string> = { chart: 'timeseries', card: 'latest', gauge: 'latest', table: 'latest', alarms: 'alarm' };
export const KIND_LABEL: Record<WidgetKind, string> = {
  chart: 'Time-series chart',
  card: 'Latest value card',
  gauge: 'Gauge',
  table: 'Entities table',
  alarms: 'Alarm list',
};
export const DEFAULT_SIZE: Record<WidgetKind, { sizeX: number; sizeY: number }> = {
  chart: { sizeX: 12, sizeY: 6 },
  card: { sizeX: 6, sizeY: 3 },
  gauge: { sizeX: 6, sizeY: 5 },
  table: { sizeX: 12, sizeY: 6 },
  alarms: { sizeX: 12, sizeY: 6 },
};

/** The widget's FQN, from `typeFullFqn` or the older bundle/type alias pair. */
export function widgetFqn(w: TbWidget): string {
  if (w.typeFullFqn) return w.typeFullFqn;
  if (w.bundleAlias && w.typeAlias) return `${w.isSystemType === false ? 'tenant' : 'system'}.${w.bundleAlias}.${w.typeAlias}`;
  return '';
}

/** Which of our widgets draws a ThingsBoard widget type, by its FQN (several of theirs map to one of ours). */
export function kindOf(w: TbWidget): WidgetKind | null {
  const fqn = widgetFqn(w);
  const name = fqn.split('.').slice(1).join('.');
  if (name === 'time_series_chart' || /^charts\.(basic_timeseries|timeseries_bars_flot|state_chart)$/.test(name) || name === 'line_chart' || name === 'bar_chart_with_labels') return 'chart';
  if (name === 'cards.entities_table' || name === 'entities_table') return 'table';
  if (name.startsWith('alarm_widgets.')) return 'alarms';
  if (/gauge|thermometer|compass|speedometer/.test(name)) return 'gauge';
  if (/^cards\.(value_card|simple_card|aggregated_value_card|label_widget)$/.test(name) || name === 'value_card') return 'card';
  // A widget of type "timeseries" / "latest" we do not know: draw what it most likely is.
  if (w.type === 'timeseries' && name.startsWith('charts.')) return 'chart';
  return null;
}

export function layoutOf(config: JsonObject): Record<string, TbLayoutItem> {
  const states = (config.states ?? {}) as Record<string, JsonObject>;
  const root = Object.entries(states).find(([, s]) => s.root === true)?.[0] ?? ('default' in states ? 'default' : Object.keys(states)[0]);
  const main = root ? ((states[root]?.layouts as Record<string, JsonObject> | undefined)?.main as JsonObject | undefined) : undefined;
  return ((main?.widgets ?? {}) as unknown as Record<string, TbLayoutItem>) ?? {};
}

/** The columns of the dashboard's grid (ThingsBoard's default is 24). */
export function gridColumnsOf(config: JsonObject): number {
  const states = (config.states ?? {}) as Record<string, JsonObject>;
  for (const s of Object.values(states)) {
    const cols = (((s.layouts as JsonObject | undefined)?.main as JsonObject | undefined)?.gridSettings as JsonObject | undefined)?.columns;
    if (typeof cols === 'number' && cols >= 1 && cols <= 100) return cols;
  }
  return 24;
}

export interface PlacedWidget {
  id: string;
  widget: TbWidget;
  layout: TbLayoutItem;
}

/** Every widget with its place: the root state's layout, else the widget's own size (ThingsBoard's fallbacks). */
export function widgetsOf(config: JsonObject): PlacedWidget[] {
  const widgets = (config.widgets ?? {}) as unknown as Record<string, TbWidget> | TbWidget[];
  const layout = layoutOf(config);
  // ThingsBoard before 2.0 kept widgets as an array.
  const entries: Array<[string, TbWidget]> = Array.isArray(widgets) ? widgets.map((w, i) => [w.id ?? `widget-${i}`, w]) : Object.entries(widgets);
  const cols = gridColumnsOf(config);
  return entries.map(([id, widget]) => {
    const l = layout[id];
    const sizeX = num(l?.sizeX ?? widget.sizeX, 8);
    const sizeY = num(l?.sizeY ?? widget.sizeY, 6);
    return {
      id,
      widget,
      layout: { sizeX: Math.min(sizeX, cols), sizeY, row: num(l?.row ?? widget.row, 0), col: Math.min(num(l?.col ?? widget.col, 0), Math.max(0, cols - 1)) },
    };
  });
}

function num(v: unknown, d: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : d;
}

export function aliasesOf(config: JsonObject): Record<string, TbAlias> {
  return (config.entityAliases ?? {}) as unknown as Record<string, TbAlias>;
}

/** What an alias selects: devices by id, devices of a type, or something this app cannot resolve. */
export type AliasTarget = { kind: 'ids'; ids: string[] } | { kind: 'deviceType'; types: string[]; nameFilter: string } | { kind: 'unsupported'; reason: string };

export function aliasTarget(alias: TbAlias | undefined): AliasTarget {
  if (!alias?.filter) return { kind: 'unsupported', reason: 'alias not found' };
  const f = alias.filter;
  if (f.type === 'singleEntity') {
    if (f.singleEntity?.entityType === 'DEVICE' && typeof f.singleEntity.id === 'string') return { kind: 'ids', ids: [f.singleEntity.id] };
    return { kind: 'unsupported', reason: `entity type ${f.singleEntity?.entityType ?? '?'}` };
  }
  if (f.type === 'entityList') {
    if (f.entityType === 'DEVICE' && Array.isArray(f.entityList)) return { kind: 'ids', ids: f.entityList.filter((x) => typeof x === 'string') };
    return { kind: 'unsupported', reason: `entity type ${f.entityType ?? '?'}` };
  }
  if (f.type === 'deviceType') {
    const types = Array.isArray(f.deviceTypes) ? f.deviceTypes : f.deviceType ? [f.deviceType] : [];
    return { kind: 'deviceType', types, nameFilter: f.deviceNameFilter ?? '' };
  }
  return { kind: 'unsupported', reason: `alias filter "${f.type}"` };
}

/** A datasource's devices are named by an alias (or, in old exports, directly). */
export interface Source {
  target: AliasTarget;
  keys: TbDataKey[];
}

export function sourcesOf(config: JsonObject, w: TbWidget): Source[] {
  const aliases = aliasesOf(config);
  const ds = Array.isArray(w.config.datasources) ? w.config.datasources : [];
  const alarmSource = w.config.alarmSource as unknown as TbDatasource | undefined;
  const list = ds.length === 0 && alarmSource ? [alarmSource] : ds;
  return list.map((d) => ({
    target: d.type === 'device' && d.deviceId ? { kind: 'ids' as const, ids: [d.deviceId] } : d.entityAliasId ? aliasTarget(aliases[d.entityAliasId]) : { kind: 'unsupported' as const, reason: `datasource type "${d.type}"` },
    keys: Array.isArray(d.dataKeys) ? d.dataKeys.filter((k) => typeof k?.name === 'string' && (k.type === 'timeseries' || k.type === undefined)) : [],
  }));
}

// ---- editing ----

/** A random (version 4) uuid; also where crypto.randomUUID is missing (a page served over plain http to another host). */
export function uuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

function rootLayoutRef(config: JsonObject): Record<string, TbLayoutItem> {
  config.states ??= {};
  const states = config.states as Record<string, JsonObject>;
  let root = Object.entries(states).find(([, s]) => s.root === true)?.[0] ?? ('default' in states ? 'default' : Object.keys(states)[0]);
  if (!root) {
    root = 'default';
    states.default = { name: 'default', root: true, layouts: {} };
  }
  const state = states[root]!;
  state.layouts ??= {};
  const layouts = state.layouts as Record<string, JsonObject>;
  layouts.main ??= { widgets: {}, gridSettings: { columns: 24, margin: 10, outerMargin: true, backgroundSizeMode: '100%' } };
  layouts.main.widgets ??= {};
  return layouts.main.widgets as unknown as Record<string, TbLayoutItem>;
}

/** A new configuration with the layout replaced (positions from the grid). */
export function withLayout(config: JsonObject, items: Array<{ id: string } & TbLayoutItem>): JsonObject {
  const next = clone(config);
  const layout = rootLayoutRef(next);
  for (const it of items) {
    const prev = layout[it.id];
    layout[it.id] = { ...(prev ?? {}), row: it.row, col: it.col, sizeX: it.sizeX, sizeY: it.sizeY };
  }
  return next;
}

export function withoutWidget(config: JsonObject, id: string): JsonObject {
  const next = clone(config);
  const widgets = next.widgets as Record<string, Json> | undefined;
  if (widgets && !Array.isArray(widgets)) delete widgets[id];
  delete rootLayoutRef(next)[id];
  return next;
}

/** What the widget editor sets. */
export interface WidgetSpec {
  kind: WidgetKind;
  title: string;
  deviceIds: string[];
  keys: Array<{ name: string; label?: string; color?: string }>;
  units: string;
  decimals: number | null;
  min: number | null;
  max: number | null;
}

export const KEY_COLORS = ['#228be6', '#40c057', '#fa5252', '#fab005', '#7950f2', '#15aabf', '#fd7e14', '#e64980'];

/** The editor's view of an existing widget (devices from its first datasource's alias). */
export function specOf(config: JsonObject, w: TbWidget, kind: WidgetKind): WidgetSpec {
  const sources = sourcesOf(config, w);
  const deviceIds = [...new Set(sources.flatMap((s) => (s.target.kind === 'ids' ? s.target.ids : [])))];
  const seen = new Set<string>();
  const keys = sources.flatMap((s) => s.keys).filter((k) => !seen.has(k.name) && seen.add(k.name));
  const settings = (w.config.settings ?? {}) as JsonObject;
  const firstKey = sources[0]?.keys[0];
  return {
    kind,
    title: typeof w.config.title === 'string' ? w.config.title : '',
    deviceIds,
    keys: keys.map((k) => ({ name: k.name, ...(k.label ? { label: k.label } : {}), ...(k.color ? { color: k.color } : {}) })),
    units: typeof w.config.units === 'string' ? w.config.units : (firstKey?.units ?? ''),
    decimals: typeof w.config.decimals === 'number' ? w.config.decimals : (firstKey?.decimals ?? null),
    min: typeof settings.minValue === 'number' ? settings.minValue : null,
    max: typeof settings.maxValue === 'number' ? settings.maxValue : null,
  };
}

/**
 * Writes a widget (new or edited) from the editor: its devices become one alias of its own
 * (singleEntity for one device, entityList for several) and its keys one datasource on it.
 */
export function withWidget(config: JsonObject, id: string | null, spec: WidgetSpec, newId: () => string): { config: JsonObject; id: string } {
  const next = clone(config);
  if (!next.widgets || Array.isArray(next.widgets)) next.widgets = {};
  const widgets = next.widgets as unknown as Record<string, TbWidget>;
  const widgetId = id ?? newId();
  const prev = widgets[widgetId];
  const aliases = (next.entityAliases ??= {}) as unknown as Record<string, TbAlias>;

  let datasources: TbDatasource[] = [];
  let aliasId: string | null = null;
  if (spec.deviceIds.length > 0) {
    // Reuse the alias this widget already had when no other widget shares it.
    const prevAlias = prev?.config.datasources?.[0]?.entityAliasId ?? (prev?.config.alarmSource as unknown as TbDatasource | undefined)?.entityAliasId;
    const shared = prevAlias ? Object.entries(widgets).some(([wid, w]) => wid !== widgetId && (w.config.datasources ?? []).some((d) => d.entityAliasId === prevAlias)) : true;
    aliasId = prevAlias && !shared ? prevAlias : newId();
    const filter: TbAliasFilter =
      spec.deviceIds.length === 1
        ? { type: 'singleEntity', resolveMultiple: false, singleEntity: { entityType: 'DEVICE', id: spec.deviceIds[0]! } }
        : { type: 'entityList', resolveMultiple: true, entityType: 'DEVICE', entityList: [...spec.deviceIds] };
    aliases[aliasId] = { id: aliasId, alias: spec.title || `Widget ${widgetId.slice(0, 8)}`, filter };
    const dataKeys: TbDataKey[] = spec.keys.map((k, i) => ({
      name: k.name,
      type: 'timeseries',
      label: k.label ?? k.name,
      color: k.color ?? KEY_COLORS[i % KEY_COLORS.length]!,
      settings: {},
      ...(spec.units ? { units: spec.units } : {}),
      ...(spec.decimals !== null ? { decimals: spec.decimals } : {}),
    }));
    datasources = [{ type: 'entity', name: '', entityAliasId: aliasId, filterId: null, dataKeys }];
  }

  const prevConfig = (prev?.config ?? {}) as TbWidget['config'];
  const settings: JsonObject = { ...((prevConfig.settings ?? {}) as JsonObject) };
  if (spec.kind === 'gauge') {
    if (spec.min !== null) settings.minValue = spec.min;
    else delete settings.minValue;
    if (spec.max !== null) settings.maxValue = spec.max;
    else delete settings.maxValue;
  }
  const sameKind = prev ? kindOf(prev) === spec.kind : false;
  const wconfig: TbWidget['config'] = {
    showTitle: true,
    useDashboardTimewindow: true,
    ...(sameKind ? prevConfig : {}),
    title: spec.title,
    settings,
    datasources: spec.kind === 'alarms' ? [] : datasources,
  };
  if (spec.units) wconfig.units = spec.units;
  else delete wconfig.units;
  if (spec.decimals !== null) wconfig.decimals = spec.decimals;
  else delete wconfig.decimals;
  if (spec.kind === 'alarms') {
    if (datasources[0]) wconfig.alarmSource = datasources[0];
    else delete wconfig.alarmSource;
    wconfig.alarmSearchStatus ??= 'ANY';
  }

  const size = DEFAULT_SIZE[spec.kind];
  const base: TbWidget = sameKind && prev ? prev : { sizeX: size.sizeX, sizeY: size.sizeY, config: {} };
  widgets[widgetId] = { ...base, id: widgetId, typeFullFqn: KIND_FQN[spec.kind], type: KIND_TYPE[spec.kind], config: wconfig };
  delete widgets[widgetId]!.bundleAlias;
  delete widgets[widgetId]!.typeAlias;
  delete widgets[widgetId]!.isSystemType;

  const layout = rootLayoutRef(next);
  if (!layout[widgetId]) {
    const cols = gridColumnsOf(next);
    const bottom = Object.values(layout).reduce((m, l) => Math.max(m, (l.row ?? 0) + (l.sizeY ?? 0)), 0);
    layout[widgetId] = { row: bottom, col: 0, sizeX: Math.min(size.sizeX, cols), sizeY: size.sizeY };
  }
  return { config: next, id: widgetId };
}

/** An empty dashboard configuration in ThingsBoard's shape. */
export function emptyConfiguration(title: string): JsonObject {
  return {
    description: '',
    widgets: {},
    states: { default: { name: title, root: true, layouts: { main: { widgets: {}, gridSettings: { columns: 24, margin: 10, outerMargin: true, backgroundSizeMode: '100%' } } } } },
    entityAliases: {},
    filters: {},
    timewindow: { selectedTab: 0, realtime: { realtimeType: 0, timewindowMs: 3_600_000, interval: 1000 }, history: { historyType: 0, timewindowMs: 86_400_000, interval: 60_000 }, aggregation: { type: 'NONE', limit: 50_000 } },
    settings: { stateControllerId: 'entity', showTitle: false, showDashboardsSelect: true, showEntitiesSelect: true, showDashboardTimewindow: true, showDashboardExport: true, toolbarAlwaysOpen: true },
  };
}
