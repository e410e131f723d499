import type { RuleChainJson } from '@rivulet/rule-engine';

/**
 * The root chain every tenant starts with, in ThingsBoard's export shape: device profile (the alarm
 * rules of the device's profile; every message goes on by Success, as in ThingsBoard's root chain) ->
 * message type switch ->
 * save time series / save client attributes / log RPC from device / log other / RPC call request
 * (messages of type RPC_CALL_FROM_SERVER_TO_DEVICE go to the device). As in ThingsBoard, a device's
 * own RPC request is only logged: answering it takes a chain with an RPC call reply node.
 */
export function defaultRootChain(): RuleChainJson {
  const node = (type: string, name: string, configuration: Record<string, unknown>, x: number, y: number) => ({
    type,
    name,
    debugMode: false,
    configurationVersion: 0,
    configuration,
    additionalInfo: { layoutX: x, layoutY: y },
  });
  return {
    ruleChain: { name: 'Root Rule Chain', root: true, debugMode: false },
    metadata: {
      firstNodeIndex: 0,
      nodes: [
        node('rivulet.action.deviceProfile', 'Device Profile Node', { persistAlarmRulesState: false, fetchAlarmRulesStateOnStart: false }, 100, 150),
        node('rivulet.filter.msgTypeSwitch', 'Message Type Switch', {}, 350, 150),
        node('rivulet.action.saveTimeseries', 'Save Timeseries', { defaultTTL: 0, useServerTs: false }, 800, 50),
        node('rivulet.action.saveAttributes', 'Save Client Attributes', { scope: 'CLIENT_SCOPE', notifyDevice: false }, 800, 150),
        node('rivulet.action.log', 'Log RPC from Device', { level: 'info' }, 800, 250),
        node('rivulet.action.log', 'Log Other', { level: 'info' }, 800, 350),
        node('rivulet.action.rpcCallRequest', 'RPC Call Request', { timeoutInSeconds: 60 }, 800, 450),
      ],
      connections: [
        { fromIndex: 0, toIndex: 1, type: 'Success' },
        { fromIndex: 1, toIndex: 2, type: 'Post telemetry' },
        { fromIndex: 1, toIndex: 3, type: 'Post attributes' },
        { fromIndex: 1, toIndex: 4, type: 'RPC Request from Device' },
        { fromIndex: 1, toIndex: 5, type: 'Other' },
        { fromIndex: 1, toIndex: 6, type: 'RPC Request to Device' },
      ],
    },
  };
}
