/**
 * What this process knows of the session registry topic: which nodes hold a session of which
 * device, and when each node last sent its heartbeat. A node counts as alive while its last
 * heartbeat is younger than `ttlMs`; the devices of a node that stopped heartbeating (crashed,
 * cut off) stop counting then, without anyone having to write for it.
 */
export class SessionRegistry {
  private readonly holders = new Map<string, Set<string>>();
  private readonly byNode = new Map<string, Set<string>>();
  private readonly heartbeats = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  claim(nodeId: string, deviceId: string): void {
    let nodes = this.holders.get(deviceId);
    if (nodes === undefined) this.holders.set(deviceId, (nodes = new Set()));
    nodes.add(nodeId);
    let devices = this.byNode.get(nodeId);
    if (devices === undefined) this.byNode.set(nodeId, (devices = new Set()));
    devices.add(deviceId);
  }

  release(nodeId: string, deviceId: string): void {
    const nodes = this.holders.get(deviceId);
    if (nodes?.delete(nodeId) && nodes.size === 0) this.holders.delete(deviceId);
    const devices = this.byNode.get(nodeId);
    if (devices?.delete(deviceId) && devices.size === 0) this.byNode.delete(nodeId);
  }

  heartbeat(nodeId: string, at: number): void {
    if (at > (this.heartbeats.get(nodeId) ?? -Infinity)) this.heartbeats.set(nodeId, at);
  }

  /** The node is gone (its heartbeat key was deleted): its claims no longer count either. */
  forgetNode(nodeId: string): void {
    this.heartbeats.delete(nodeId);
  }

  alive(nodeId: string): boolean {
    const at = this.heartbeats.get(nodeId);
    return at !== undefined && this.now() - at <= this.ttlMs;
  }

  /** Alive nodes holding a session of the device, other than `except`. */
  holdersOf(deviceId: string, except: string): string[] {
    const nodes = this.holders.get(deviceId);
    if (nodes === undefined) return [];
    const out: string[] = [];
    for (const n of nodes) if (n !== except && this.alive(n)) out.push(n);
    return out;
  }

  /** Nodes whose last heartbeat is older than `ageMs` (or who have claims but never sent one). */
  silentNodes(ageMs: number): string[] {
    const t = this.now();
    const out = new Set<string>();
    for (const [n, at] of this.heartbeats) if (t - at > ageMs) out.add(n);
    for (const n of this.byNode.keys()) if (!this.heartbeats.has(n)) out.add(n);
    return [...out];
  }

  devicesOf(nodeId: string): string[] {
    return [...(this.byNode.get(nodeId) ?? [])];
  }

  /** Drops everything known of a node (after its keys were deleted). */
  dropNode(nodeId: string): void {
    for (const d of this.devicesOf(nodeId)) this.release(nodeId, d);
    this.heartbeats.delete(nodeId);
  }
}
