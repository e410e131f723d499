import { describe, expect, it } from 'vitest';
import { aliasTarget, emptyConfiguration, kindOf, sourcesOf, specOf, widgetsOf, withLayout, withoutWidget, withWidget, type JsonObject, type TbWidget } from './model';
import { aggregationInterval, describeTimewindow, MAX_INTERVALS, resolveWindow } from './timewindow';
import { insertPoint } from './data';

const DAY = 86_400_000;
let n = 0;
const ids = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;

describe('dashboard JSON model', () => {
  it('maps ThingsBoard widget types, new FQNs and old bundle/type aliases, to our widgets', () => {
    const w = (o: Partial<TbWidget>): TbWidget => ({ config: {}, ...o });
    expect(kindOf(w({ typeFullFqn: 'system.time_series_chart' }))).toBe('chart');
    expect(kindOf(w({ bundleAlias: 'charts', typeAlias: 'basic_timeseries' }))).toBe('chart');
    expect(kindOf(w({ typeFullFqn: 'system.cards.value_card' }))).toBe('card');
    expect(kindOf(w({ typeFullFqn: 'system.digital_gauges.digital_thermometer' }))).toBe('gauge');
    expect(kindOf(w({ typeFullFqn: 'system.cards.entities_table' }))).toBe('table');
    expect(kindOf(w({ typeFullFqn: 'system.alarm_widgets.alarms_table' }))).toBe('alarms');
    expect(kindOf(w({ typeFullFqn: 'system.maps_v2.openstreetmap' }))).toBeNull();
  });

  it('resolves aliases: one device, a list, a device type; anything else is unsupported', () => {
    expect(aliasTarget({ id: 'a', alias: 'a', filter: { type: 'singleEntity', singleEntity: { entityType: 'DEVICE', id: 'd1' } } })).toEqual({ kind: 'ids', ids: ['d1'] });
    expect(aliasTarget({ id: 'a', alias: 'a', filter: { type: 'entityList', entityType: 'DEVICE', entityList: ['d1', 'd2'] } })).toEqual({ kind: 'ids', ids: ['d1', 'd2'] });
    expect(aliasTarget({ id: 'a', alias: 'a', filter: { type: 'deviceType', deviceTypes: ['pump'], deviceNameFilter: 'P' } })).toEqual({ kind: 'deviceType', types: ['pump'], nameFilter: 'P' });
    expect(aliasTarget({ id: 'a', alias: 'a', filter: { type: 'relationsQuery' } }).kind).toBe('unsupported');
    expect(aliasTarget(undefined).kind).toBe('unsupported');
  });

  it('adds, edits, places and removes widgets in place, keeping what it does not understand', () => {
    const base: JsonObject = { ...emptyConfiguration('T'), settings: { custom: 'kept' }, widgets: { other: { typeFullFqn: 'system.maps_v2.openstreetmap', config: { x: 1 } } } };
    const spec = { kind: 'chart' as const, title: 'Climate', deviceIds: ['d1', 'd2'], keys: [{ name: 't' }, { name: 'h' }], units: '°C', decimals: 1, min: null, max: null };
    const { config, id } = withWidget(base, null, spec, ids);
    expect(config.settings).toEqual({ custom: 'kept' });
    expect(base.widgets).toEqual({ other: { typeFullFqn: 'system.maps_v2.openstreetmap', config: { x: 1 } } });
    const placed = widgetsOf(config).find((p) => p.id === id)!;
    expect(placed.widget.typeFullFqn).toBe('system.time_series_chart');
    expect(placed.layout).toEqual({ row: 0, col: 0, sizeX: 12, sizeY: 6 });
    expect(sourcesOf(config, placed.widget)).toEqual([{ target: { kind: 'ids', ids: ['d1', 'd2'] }, keys: expect.arrayContaining([expect.objectContaining({ name: 't', units: '°C', decimals: 1 })]) }]);
    expect(specOf(config, placed.widget, 'chart')).toEqual({ ...spec, keys: [expect.objectContaining({ name: 't' }), expect.objectContaining({ name: 'h' })] });
    // Edited to one device: the widget's own alias becomes a singleEntity; no second alias.
    const edited = withWidget(config, id, { ...spec, deviceIds: ['d3'] }, ids).config;
    expect(Object.keys(edited.entityAliases as object)).toHaveLength(1);
    expect(Object.values(edited.entityAliases as Record<string, { filter: unknown }>)[0]!.filter).toEqual({ type: 'singleEntity', resolveMultiple: false, singleEntity: { entityType: 'DEVICE', id: 'd3' } });
    const moved = withLayout(edited, [{ id, row: 3, col: 12, sizeX: 6, sizeY: 4 }]);
    expect(widgetsOf(moved).find((p) => p.id === id)!.layout).toEqual({ row: 3, col: 12, sizeX: 6, sizeY: 4 });
    const removed = withoutWidget(moved, id);
    expect(widgetsOf(removed).map((p) => p.id)).toEqual(['other']);
  });
});

describe('time window', () => {
  it('never splits a range into more than 1000 aggregation intervals, and rounds the interval', () => {
    expect(aggregationInterval(365 * DAY)).toBe(12 * 3_600_000);
    expect(aggregationInterval(DAY)).toBe(120_000);
    expect(aggregationInterval(3_600_000, 60_000)).toBe(60_000);
    expect(aggregationInterval(60_000)).toBe(1000);
    for (const range of [1000, 3_600_000, 7 * DAY, 30 * DAY, 365 * DAY, 10 * 365 * DAY]) expect(range / aggregationInterval(range)).toBeLessThanOrEqual(MAX_INTERVALS);
  });

  it('reads realtime, history (last and fixed) and aggregation from ThingsBoard shapes', () => {
    const now = 1_000 * DAY;
    expect(resolveWindow({ realtime: { timewindowMs: 60_000 } }, now)).toMatchObject({ mode: 'realtime', startTs: now - 60_000, endTs: now, agg: 'NONE' });
    const year = resolveWindow({ selectedTab: 1, history: { historyType: 0, timewindowMs: 365 * DAY }, aggregation: { type: 'AVG' } }, now);
    expect(year).toMatchObject({ mode: 'history', agg: 'AVG', interval: 12 * 3_600_000, limit: 731 });
    expect(resolveWindow({ selectedTab: 1, history: { historyType: 1, fixedTimewindow: { startTimeMs: 5, endTimeMs: 10 } } }, now)).toMatchObject({ startTs: 5, endTs: 10 });
    expect(resolveWindow({ aggregation: { type: 'NONE', limit: 10_000_000 } }, now).limit).toBe(100_000);
    expect(describeTimewindow({ selectedTab: 1, history: { timewindowMs: 365 * DAY }, aggregation: { type: 'MAX' } })).toBe('History: last 365 d, MAX per 12 h');
  });

  it('keeps live points in time order whatever order they arrive in', () => {
    const pts: Array<[number, number | null]> = [];
    for (const ts of [10, 30, 20, 40, 30, 5]) insertPoint(pts, ts, ts);
    expect(pts.map((p) => p[0])).toEqual([5, 10, 20, 30, 40]);
  });
});
