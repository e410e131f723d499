import { describe, expect, it } from 'vitest';
import { actionable, alarmRequest, DEFAULT_FILTERS, nextSort, statusLabel } from './alarm-query';

describe('alarm table query', () => {
  it('asks the tenant-wide list with only the filters that are set', () => {
    expect(alarmRequest(DEFAULT_FILTERS)).toEqual({ path: '/api/alarms', query: { pageSize: 20, page: 0, sortProperty: 'createdTime', sortOrder: 'DESC' } });
    expect(alarmRequest({ ...DEFAULT_FILTERS, severity: 'MAJOR', status: 'UNACK', textSearch: '  heat ', page: 2 }).query).toEqual({
      pageSize: 20,
      page: 2,
      sortProperty: 'createdTime',
      sortOrder: 'DESC',
      severity: 'MAJOR',
      searchStatus: 'UNACK',
      textSearch: 'heat',
    });
  });

  it("asks one device's alarms from the originator endpoint, never sending status and searchStatus together", () => {
    const r = alarmRequest({ ...DEFAULT_FILTERS, deviceId: 'a1b2', status: 'CLEARED' });
    expect(r.path).toBe('/api/alarm/DEVICE/a1b2');
    expect(r.query.searchStatus).toBe('CLEARED');
    expect('status' in r.query).toBe(false);
  });

  it('sorts a new column descending first and flips the same one', () => {
    expect(nextSort({ sortProperty: 'createdTime', sortOrder: 'DESC' }, 'severity')).toEqual({ sortProperty: 'severity', sortOrder: 'DESC' });
    expect(nextSort({ sortProperty: 'severity', sortOrder: 'DESC' }, 'severity')).toEqual({ sortProperty: 'severity', sortOrder: 'ASC' });
    expect(nextSort({ sortProperty: 'severity', sortOrder: 'ASC' }, 'severity')).toEqual({ sortProperty: 'severity', sortOrder: 'DESC' });
  });

  it('offers a bulk action only for the selected alarms it still applies to', () => {
    const a = (id: string, acknowledged: boolean, cleared: boolean) => ({ id: { id }, acknowledged, cleared });
    const alarms = [a('1', false, false), a('2', true, false), a('3', true, true), a('4', false, false)];
    const { toAck, toClear } = actionable(alarms, new Set(['1', '2', '3']));
    expect(toAck.map((x) => x.id.id)).toEqual(['1']);
    expect(toClear.map((x) => x.id.id)).toEqual(['1', '2']);
    expect(statusLabel(a('x', true, false))).toBe('Active, acknowledged');
  });
});
