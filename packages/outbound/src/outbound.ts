import type { Logger } from '@rivulet/core';
import type { OutboundService } from '@rivulet/rule-engine';
import { checkedHttp, createCheckedAgents } from './http';
import { checkedMqtt } from './mqtt';
import { createOutboundPolicy, type OutboundPolicy, type OutboundPolicyOptions } from './policy';

export interface OutboundOptions extends OutboundPolicyOptions {
  logger: Logger;
}

/** The `outbound` capability of rule nodes, every connection checked against one policy. */
export function createOutbound(options: OutboundOptions): OutboundService & { readonly policy: OutboundPolicy; close(): void } {
  const policy = createOutboundPolicy(options);
  const agents = createCheckedAgents(policy);
  return {
    policy,
    http: (request) => checkedHttp(agents, request),
    mqtt: (mqttOptions) => checkedMqtt(policy, options.logger, mqttOptions),
    precheck: (host) => policy.precheck(host),
    async check(host) {
      await policy.resolve(host);
    },
    /** Closes the pooled HTTP connections. */
    close: () => agents.destroy(),
  };
}
