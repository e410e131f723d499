/**
 * A broadcast process for the tests (kafka-broadcast.test.ts): holds a session of the device named
 * by CHILD_DEVICE, answers RPC like a transport, and prints what it receives as JSON lines.
 * Env: KAFKA_BROKERS, TOPIC_PREFIX, NODE_ID, CHILD_DEVICE.
 */
import { createRpcCaller, LiveChannel, respondToCaller, RpcChannel } from '@rivulet/broadcast';
import { createKafkaBroadcast } from './kafka-broadcast';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const out = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

const b = await createKafkaBroadcast({
  brokers: env('KAFKA_BROKERS'),
  clientId: 'child-node',
  nodeId: env('NODE_ID'),
  topicPrefix: env('TOPIC_PREFIX'),
  heartbeatMs: 300,
  sessionTtlMs: 2000,
});
const device = env('CHILD_DEVICE');
b.subscribe(RpcChannel.TO_DEVICE, (r) => {
  out({ got: 'rpc', deviceId: r.deviceId, method: r.method });
  if (r.deviceId !== device) return;
  respondToCaller(b, r.replyTo, { requestId: r.requestId, deviceId: r.deviceId, delivered: true });
  respondToCaller(b, r.replyTo, { requestId: r.requestId, deviceId: r.deviceId, delivered: true, response: { echo: r.params, from: b.nodeId } });
});
b.subscribe(LiveChannel.TELEMETRY, (e) => out({ got: 'telemetry', event: e }));
b.holdSession(device);
// and the other direction: the child asks a device the parent holds
const caller = createRpcCaller({ broadcast: b, pickupTimeoutMs: 3000 });
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  for (const line of chunk.split('\n').filter(Boolean)) {
    const cmd = JSON.parse(line) as { call?: string };
    if (cmd.call) {
      void caller
        .call({ requestId: `child-${Date.now()}`, tenantId: 't', deviceId: cmd.call, method: 'ping', params: {}, oneway: false, expirationTime: Date.now() + 10_000 })
        .then((outcome) => out({ got: 'outcome', outcome }));
    }
  }
});
out({ ready: b.nodeId });
