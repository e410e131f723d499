import { MsgType, deviceMsg, type DeviceInfo, type JsonValue, type Logger, type ToDeviceRpcRequest } from '@rivulet/core';
import { Topics, type Queue } from '@rivulet/queue';

/**
 * ThingsBoard's RPC lifecycle messages to the rule engine (TbRpcService.pushRpcMsgToRuleEngine:
 * type `RPC_` + status, originator the device, data the Rpc entity as JSON), for Rivulet's
 * non-persistent server-side RPC, from the transport that sees each step:
 * - RPC_SENT: written to a device session;
 * - RPC_DELIVERED: the device took it (one-way: at once after SENT; two-way: its reply came);
 * - RPC_SUCCESSFUL: one-way delivered, or two-way answered (`response` the device's reply);
 * - RPC_TIMEOUT: a two-way call's reply did not come before its expiration time;
 * - RPC_FAILED: given up (the device disconnected before replying; `response` {"error":...}).
 * No RPC_QUEUED / RPC_EXPIRED / RPC_DELETED: nothing is stored or queued for later.
 * They go the way of every device message (the rule-engine topic, keyed by the device), with the
 * device messages' metadata (deviceName, deviceType, ts). A queue that refuses one is logged, not retried.
 */
export interface RpcEvents {
  sent(device: DeviceInfo, req: ToDeviceRpcRequest): void;
  replied(device: DeviceInfo, requestId: string, response: JsonValue): void;
  failed(device: DeviceInfo, requestId: string, error: string): void;
  timedOut(device: DeviceInfo, requestId: string): void;
  count(): number;
}

type Status = 'SENT' | 'DELIVERED' | 'SUCCESSFUL' | 'TIMEOUT' | 'FAILED';

const TYPE: Record<Status, string> = {
  SENT: MsgType.RPC_SENT,
  DELIVERED: MsgType.RPC_DELIVERED,
  SUCCESSFUL: MsgType.RPC_SUCCESSFUL,
  TIMEOUT: MsgType.RPC_TIMEOUT,
  FAILED: MsgType.RPC_FAILED,
};

export function createRpcEvents(o: { queue: Queue; logger: Logger; now: () => number; enabled: boolean }): RpcEvents {
  let produced = 0;

  /** The Rpc entity's JSON as ThingsBoard writes it (the fields Rivulet knows for a non-persistent call). */
  function rpcEntity(device: DeviceInfo, requestId: string, status: Status, extra: { req?: ToDeviceRpcRequest; response?: JsonValue }, ts: number): JsonValue {
    const { req } = extra;
    return {
      id: { entityType: 'RPC', id: requestId },
      createdTime: ts,
      tenantId: { entityType: 'TENANT', id: device.tenantId },
      deviceId: { entityType: 'DEVICE', id: device.deviceId },
      expirationTime: req?.expirationTime ?? 0,
      request: req
        ? {
            id: req.requestId,
            tenantId: { entityType: 'TENANT', id: req.tenantId },
            deviceId: { entityType: 'DEVICE', id: req.deviceId },
            oneway: req.oneway,
            expirationTime: req.expirationTime,
            // ThingsBoard keeps the params as JSON text
            body: { method: req.method, params: JSON.stringify(req.params) },
            persisted: false,
          }
        : null,
      response: extra.response ?? null,
      status,
      additionalInfo: null,
    };
  }

  function emit(device: DeviceInfo, requestId: string, statuses: Status[], extra: { req?: ToDeviceRpcRequest; response?: JsonValue }): void {
    if (!o.enabled) return;
    const ts = o.now();
    const records = statuses.map((status) => ({
      key: device.deviceId,
      value: deviceMsg(device, TYPE[status], ts, rpcEntity(device, requestId, status, extra, ts), { requestId }),
    }));
    produced += records.length;
    o.queue.produce(Topics.RULE_ENGINE, records).catch((e: unknown) => {
      o.logger.warn({ err: e, tenantId: device.tenantId, deviceId: device.deviceId, requestId }, 'queue rejected rpc lifecycle messages');
    });
  }

  return {
    sent(device, req) {
      // one-way: nothing more will come; taking it is delivering and succeeding
      emit(device, req.requestId, req.oneway ? ['SENT', 'DELIVERED', 'SUCCESSFUL'] : ['SENT'], { req });
    },
    replied(device, requestId, response) {
      emit(device, requestId, ['DELIVERED', 'SUCCESSFUL'], { response });
    },
    failed(device, requestId, error) {
      emit(device, requestId, ['FAILED'], { response: { error } });
    },
    timedOut(device, requestId) {
      emit(device, requestId, ['TIMEOUT'], {});
    },
    count: () => produced,
  };
}
