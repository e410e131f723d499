export { defineChannel, type Broadcast, type Channel, type EventOf } from './channel';
export { DeviceChannel, LiveChannel, RpcChannel, respondToCaller, type UndeliveredEvent } from './channels';
export { createMemoryBroadcast, type MemoryBroadcastOptions } from './memory-broadcast';
export { createRpcCaller, type RpcCaller, type RpcCallerOptions } from './rpc-caller';
export { LocalSubscribers, SessionHolds } from './local-hub';
