/** Topic names and registry keys of the Kafka broadcast (STYLE.md convention 1: names are constants). */
export interface BroadcastTopics {
  /** Fan-out: every process reads it from the latest offset, in a group of its own. */
  readonly fanout: string;
  /** Compacted session registry: `s/<nodeId>/<deviceId>` claims, `n/<nodeId>` heartbeats. */
  readonly sessions: string;
  /** Directed messages to one process. */
  node(nodeId: string): string;
}

export function broadcastTopics(prefix = ''): BroadcastTopics {
  return {
    fanout: `${prefix}rivulet.broadcast`,
    sessions: `${prefix}rivulet.sessions`,
    node: (nodeId) => `${prefix}rivulet.node.${nodeId}`,
  };
}

const NODE_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** Node ids become topic names and registry keys: letters, digits, ".", "_", "-". */
export function checkNodeId(nodeId: string): string {
  if (!NODE_ID.test(nodeId)) throw new Error(`invalid broadcast nodeId ${JSON.stringify(nodeId)}: use 1-100 letters, digits, ".", "_" or "-"`);
  return nodeId;
}

/** A default node id from the host name and process id (RIVULET_NODE_ID unset). */
export function defaultNodeId(hostname: string, pid: number): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 80) || 'host';
  return `${host}-${pid}`;
}

export type RegistryKey = { kind: 'session'; nodeId: string; deviceId: string } | { kind: 'node'; nodeId: string };

export function sessionKey(nodeId: string, deviceId: string): string {
  return `s/${nodeId}/${deviceId}`;
}

export function nodeKey(nodeId: string): string {
  return `n/${nodeId}`;
}

/** Parses a registry key; undefined for anything else (ignored, never fatal). */
export function parseRegistryKey(key: string): RegistryKey | undefined {
  if (key.startsWith('n/')) {
    const nodeId = key.slice(2);
    return NODE_ID.test(nodeId) ? { kind: 'node', nodeId } : undefined;
  }
  if (key.startsWith('s/')) {
    const slash = key.indexOf('/', 2);
    if (slash < 0) return undefined;
    const nodeId = key.slice(2, slash);
    const deviceId = key.slice(slash + 1);
    return NODE_ID.test(nodeId) && deviceId !== '' ? { kind: 'session', nodeId, deviceId } : undefined;
  }
  return undefined;
}
