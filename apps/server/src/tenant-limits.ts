import { type Broadcast, LiveChannel } from '@rivulet/broadcast';
import { withOverrides, type Logger, type TenantLimits, type TenantLimitsSource, type TenantProfileEvent } from '@rivulet/core';
import type { Storage, TenantProfile } from '@rivulet/storage';

export interface ProfileTenantLimits extends TenantLimitsSource {
  /** Resolves once every reload asked for so far has finished (tests wait on it after a change). */
  settled(): Promise<void>;
  close(): void;
}

/**
 * The limits of each tenant from its tenant profile, over the global defaults. Answers from memory
 * (transports ask per message): the profiles and every tenant's profile id are loaded at start, and
 * reloaded piecewise when the API announces a change on LiveChannel.TENANT_PROFILES. A tenant this
 * process does not know (yet) gets the default profile's limits, and the global ones before any
 * profile is loaded.
 */
export async function createProfileTenantLimits(options: {
  storage: Storage;
  broadcast: Broadcast;
  global: TenantLimits;
  logger: Logger;
}): Promise<ProfileTenantLimits> {
  const { storage, global, logger } = options;
  /** profile id -> effective limits */
  const profiles = new Map<string, TenantLimits>();
  /** tenant id -> profile id */
  const tenants = new Map<string, string>();
  let defaultId: string | undefined;
  let pending: Promise<void> = Promise.resolve();

  function putProfile(p: TenantProfile): void {
    profiles.set(p.id, withOverrides(global, p.configuration));
    if (p.isDefault) defaultId = p.id;
    else if (defaultId === p.id) defaultId = undefined;
  }

  async function loadProfiles(): Promise<void> {
    const all = await storage.tenantProfiles.list();
    profiles.clear();
    defaultId = undefined;
    for (const p of all) putProfile(p);
  }

  async function loadTenant(tenantId: string): Promise<void> {
    const t = await storage.tenants.get(tenantId);
    if (t) tenants.set(t.id, t.tenantProfileId);
    else tenants.delete(tenantId);
  }

  await loadProfiles();
  for (const a of await storage.tenants.profileAssignments()) tenants.set(a.tenantId, a.tenantProfileId);

  // Reloads run one after another, in the order of the events, so a later change never loses to an
  // earlier read that finished late. A profile change reloads all profiles: a new default unmarks
  // the old one, and they are few.
  const unsubscribe = options.broadcast.subscribe(LiveChannel.TENANT_PROFILES, (e) => {
    const ev = e as TenantProfileEvent;
    const job = ev.kind === 'profile' ? loadProfiles : () => loadTenant(ev.tenantId);
    pending = pending.then(job).catch((err: unknown) => logger.error({ err, event: ev }, 'tenant limits reload failed'));
  });

  return {
    forTenant(tenantId) {
      const profileId = tenants.get(tenantId) ?? defaultId;
      return (profileId !== undefined ? profiles.get(profileId) : undefined) ?? global;
    },
    settled: () => pending,
    close: unsubscribe,
  };
}
