/**
 * tenantId -> id -> value. Nested rather than keyed by `${tenantId}/${id}`: building that string per
 * message costs about twenty times the two lookups (measured: ~1.6 µs against ~85 ns). Used by the
 * per-message caches (profile routing, the device profile node's lookup).
 */
export class TenantMap<T> {
  private readonly byTenant = new Map<string, Map<string, T>>();
  size = 0;
  get(tenantId: string, id: string): T | undefined {
    return this.byTenant.get(tenantId)?.get(id);
  }
  set(tenantId: string, id: string, value: T): void {
    let m = this.byTenant.get(tenantId);
    if (!m) this.byTenant.set(tenantId, (m = new Map()));
    if (!m.has(id)) this.size++;
    m.set(id, value);
  }
  delete(tenantId: string, id: string): void {
    const m = this.byTenant.get(tenantId);
    if (!m?.delete(id)) return;
    this.size--;
    if (m.size === 0) this.byTenant.delete(tenantId);
  }
  /** Drops the first entry of the first tenant (roughly the oldest). */
  evictOne(): void {
    for (const [tenantId, m] of this.byTenant) {
      const id = m.keys().next().value;
      if (id !== undefined) this.delete(tenantId, id);
      return;
    }
  }
  clear(): void {
    this.byTenant.clear();
    this.size = 0;
  }
}
