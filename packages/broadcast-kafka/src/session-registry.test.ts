import { describe, expect, it } from 'vitest';
import { SessionRegistry } from './session-registry';
import { checkNodeId, defaultNodeId, nodeKey, parseRegistryKey, sessionKey } from './topics';

describe('session registry', () => {
  it('a device is held by the alive nodes that claimed it, never by the asking node itself', () => {
    let now = 1000;
    const r = new SessionRegistry(20_000, () => now);
    r.heartbeat('a', 1000);
    r.heartbeat('b', 1000);
    r.claim('a', 'd1');
    r.claim('b', 'd1');
    r.claim('a', 'd2');
    expect(r.holdersOf('d1', 'x').sort()).toEqual(['a', 'b']);
    expect(r.holdersOf('d1', 'a')).toEqual(['b']);
    r.release('b', 'd1');
    expect(r.holdersOf('d1', 'x')).toEqual(['a']);
    // a's heartbeat ages past the ttl: its claims stop counting without anyone writing
    now = 1000 + 20_001;
    r.heartbeat('b', now);
    expect(r.holdersOf('d1', 'x')).toEqual([]);
    expect(r.silentNodes(20_000)).toEqual(['a']);
    // an older heartbeat (read late) does not move the clock back
    r.heartbeat('b', 0);
    expect(r.alive('b')).toBe(true);
  });

  it('claims of a node that never sent a heartbeat do not count and mark it silent; dropNode forgets it', () => {
    const r = new SessionRegistry(20_000, () => 0);
    r.claim('ghost', 'd1');
    expect(r.holdersOf('d1', 'x')).toEqual([]);
    expect(r.silentNodes(60_000)).toEqual(['ghost']);
    r.dropNode('ghost');
    expect(r.devicesOf('ghost')).toEqual([]);
    expect(r.silentNodes(60_000)).toEqual([]);
  });
});

describe('registry keys and node ids', () => {
  it('round-trips keys; anything else is not a key', () => {
    expect(parseRegistryKey(sessionKey('transport-1', 'f1e2-uuid'))).toEqual({ kind: 'session', nodeId: 'transport-1', deviceId: 'f1e2-uuid' });
    expect(parseRegistryKey(nodeKey('api.1'))).toEqual({ kind: 'node', nodeId: 'api.1' });
    for (const bad of ['', 'x', 's/', 's/node', 's/node/', 'n/', 'n/bad node', 's/bad node/d']) expect(parseRegistryKey(bad)).toBeUndefined();
  });

  it('node ids are topic-safe; the default one is made so', () => {
    expect(() => checkNodeId('a b')).toThrow(/invalid broadcast nodeId "a b"/);
    expect(() => checkNodeId('')).toThrow(/invalid broadcast nodeId/);
    expect(checkNodeId(defaultNodeId('my host:1', 42))).toBe('my-host-1-42');
  });
});
