import { type Broadcast, createRpcCaller, RpcChannel } from '@rivulet/broadcast';
import type { RuleRpcService } from '@rivulet/rule-engine';

/**
 * The rule nodes' `rpc` capability on the broadcast: requests to devices and replies to their own
 * requests go to whichever transport holds the device's session, in this process or another.
 */
export function createRuleRpcService(broadcast: Broadcast, options: { pickupTimeoutMs?: number } = {}): RuleRpcService & { close(): void } {
  const caller = createRpcCaller({ broadcast, ...(options.pickupTimeoutMs !== undefined ? { pickupTimeoutMs: options.pickupTimeoutMs } : {}) });
  return {
    sendToDevice: (request) => caller.call(request),
    // the transport process that took the device's request holds its session while it waits
    replyToDevice: (reply) => void broadcast.sendToDevice(RpcChannel.TO_SERVER_REPLY, reply.deviceId, reply),
    close: () => caller.close(),
  };
}
