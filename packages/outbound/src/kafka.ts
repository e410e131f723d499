import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { connectChecked } from './connect';
import type { OutboundPolicy } from './policy';

/**
 * kafkajs's `socketFactory` option: every broker connection (bootstrap and the brokers the cluster
 * names in its metadata) goes through connectChecked. A producer built for rule nodes must use it.
 */
export function checkedKafkaSocketFactory(policy: OutboundPolicy) {
  return ({ host, port, ssl, onConnect }: { host: string; port: number; ssl?: boolean | ConnectionOptions; onConnect: () => void }): Socket => {
    const tls = ssl ? (typeof ssl === 'object' ? ssl : {}) : undefined;
    const socket = connectChecked(policy, { host, port, ...(tls ? { tls } : {}) });
    socket.once(tls ? 'secureConnect' : 'connect', onConnect);
    return socket;
  };
}

/** "host:port,host:port" (a Kafka node's bootstrapServers) as hosts; the port defaults to 9092. */
export function parseBrokers(list: string | readonly string[]): Array<{ host: string; port: number }> {
  const items = typeof list === 'string' ? list.split(',') : list;
  return items
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(s.startsWith('[') || (s.match(/:/g) ?? []).length <= 1 ? s : `[${s}]`);
      return { host: m?.[1] ?? s, port: m?.[2] ? Number(m[2]) : 9092 };
    });
}
