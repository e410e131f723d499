import mqtt, { type MqttClient } from 'mqtt';

/**
 * 100 (or N) MQTT devices, each publishing its points at QoS 1 with a per-device sequence number
 * (`{"ts": base + seq, "values": {"seq": seq}}`), one in flight per device so its order is the
 * order it sends in. A point counts as acknowledged when its PUBACK arrived; one not acknowledged
 * in time (the transport restarting) is sent again, same ts and seq, until it is.
 */
export interface Fleet {
  /** Seqs acknowledged, per device id. */
  readonly acked: ReadonlyMap<string, ReadonlySet<number>>;
  ackedCount(): number;
  /** PUBLISHes sent again after a timeout or a lost connection. */
  resent(): number;
  /** Resolves when every device has every point acknowledged. */
  readonly done: Promise<void>;
  /** The MQTT client of device `i` (for RPC). */
  client(i: number): MqttClient;
  close(): Promise<void>;
}

export interface FleetOptions {
  mqttUrl: string;
  devices: ReadonlyArray<{ id: string; token: string }>;
  pointsPerDevice: number;
  /** Points per second of all devices together (spread evenly). */
  rate: number;
  tsBase: number;
  /** Give up on the run when one point is not acknowledged for this long (default 120 s). */
  stuckMs?: number;
}

const ACK_TIMEOUT_MS = 5_000;

export function startFleet(o: FleetOptions): Fleet {
  const acked = new Map<string, Set<number>>();
  let count = 0;
  let resent = 0;
  let closing = false;
  const clients: MqttClient[] = [];
  const periodMs = (o.devices.length / o.rate) * 1000;
  const runs = o.devices.map(async (d, i) => {
    const set = new Set<number>();
    acked.set(d.id, set);
    const c = mqtt.connect(o.mqttUrl, { username: d.token, clientId: `scale-${i}-${d.id.slice(0, 8)}`, reconnectPeriod: 250, connectTimeout: 5_000, keepalive: 30 });
    c.on('error', () => {}); // reconnects by itself; errors are the restarts we cause
    clients[i] = c;
    // spread the devices' first sends over one period
    await sleep((periodMs * i) / o.devices.length);
    // Paced, never catching up in a burst after a stall (the faults must land while devices publish).
    let due = Date.now();
    for (let seq = 1; seq <= o.pointsPerDevice; seq++) {
      if (due > Date.now()) await sleep(due - Date.now());
      due = Math.max(due, Date.now()) + periodMs;
      const payload = JSON.stringify({ ts: o.tsBase + seq, values: { seq } });
      const since = Date.now();
      for (let attempt = 0; ; attempt++) {
        if (closing) return;
        if (attempt > 0) resent++;
        const ok = await Promise.race([c.publishAsync('v1/devices/me/telemetry', payload, { qos: 1 }).then(() => true, () => false), sleep(ACK_TIMEOUT_MS).then(() => false)]);
        if (ok) break;
        if (Date.now() - since > (o.stuckMs ?? 120_000)) throw new Error(`device ${i} (${d.id}): seq ${seq} not acknowledged for ${o.stuckMs ?? 120_000} ms`);
        await sleep(100);
      }
      set.add(seq);
      count++;
    }
  });
  return {
    acked,
    ackedCount: () => count,
    resent: () => resent,
    done: Promise.all(runs).then(() => undefined),
    client: (i) => clients[i]!,
    async close() {
      closing = true;
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
