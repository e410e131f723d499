import { describe, expect, it } from 'vitest';
import { ToDeviceRpcIds } from './rpc-ids';

describe('ToDeviceRpcIds', () => {
  it('small per-device ids, taken once, gone after expiry', () => {
    const ids = new ToDeviceRpcIds(2);
    const call = (requestId: string) => ({ requestId, oneway: false, expiresAt: 1000 });
    expect(ids.assign('d', call('r1'), 0)).toBe(1);
    expect(ids.assign('d', call('r2'), 0)).toBe(2);
    expect(ids.assign('e', call('r3'), 0)).toBe(1);
    expect(ids.take('d', 1, 10)?.requestId).toBe('r1');
    expect(ids.take('d', 1, 10)).toBeUndefined();
    expect(ids.take('d', 2, 1000)).toBeUndefined();
    // beyond maxPerDevice the oldest call goes
    ids.assign('e', call('r4'), 0);
    ids.assign('e', call('r5'), 0);
    expect(ids.take('e', 1, 0)).toBeUndefined();
    expect(ids.size).toBe(2);
    expect(ids.drop('e').map((c) => c.requestId)).toEqual(['r4', 'r5']);
    expect(ids.size).toBe(0);
  });
});
