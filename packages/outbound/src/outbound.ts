import type { Logger } from '@rivulet/core';
import type { OutboundService } from '@rivulet/rule-engine';
import { checkedHttp } from './http';
import { checkedMqtt } from './mqtt';
import { createOutboundPolicy, type OutboundPolicy, type OutboundPolicyOptions } from './policy';

export interface OutboundOptions extends OutboundPolicyOptions {
  logger: Logger;
}

/** The `outbound` capability of rule nodes, every connection checked against one policy. */
export function createOutbound(options: OutboundOptions): OutboundService & { readonly policy: OutboundPolicy } {
  const policy = createOutboundPolicy(options);
  return {
    policy,
    http: (request) => checkedHttp(policy, request),
    mqtt: (mqttOptions) => checkedMqtt(policy, options.logger, mqttOptions),
    async check(host) {
      await policy.resolve(host);
    },
  };
}
