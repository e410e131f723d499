import { AsyncLocalStorage } from 'node:async_hooks';
import { ErrorCode, NotFoundError, RivuletError } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { requireCapability, tbBool } from '../util/data';

/** How deep chains may call chains (a chain calling itself is cut here). */
export const MAX_CHAIN_DEPTH = 8;

// The nesting depth travels with the message's async context, across chains: each call adds one.
const depth = new AsyncLocalStorage<number>();

/**
 * Sends the message into another rule chain of the tenant (ThingsBoard's TbRuleChainInputNode) and
 * waits for it there. What reaches an output node of that chain comes back and leaves this node by
 * the output node's name; a message that ends inside it (no output node) is done; a failure inside
 * it is this node's Failure. The called chain is compiled once and reused (the ruleChains service).
 */
export const ruleChainNode = defineNode({
  type: 'rivulet.flow.ruleChain',
  aliases: ['org.thingsboard.rule.engine.flow.TbRuleChainInputNode'],
  category: 'flow',
  name: 'rule chain',
  description: 'Runs the message through another rule chain; its output nodes become this node\'s relations.',
  configSchema: z.looseObject({
    ruleChainId: z.string().min(1),
    /** ThingsBoard: use the device profile's chain instead; Rivulet has no profiles, so it is ignored. */
    forwardMsgToDefaultRuleChain: tbBool().default(false),
  }),
  configVersion: 0,
  relations: [Relation.FAILURE],
  relationsDynamic: true,
  requires: ['ruleChains'],
  create(config, services) {
    return {
      async process(msg) {
        const chains = requireCapability(services, 'ruleChains', 'rule chain');
        const level = depth.getStore() ?? 0;
        if (level >= MAX_CHAIN_DEPTH) throw new RivuletError(ErrorCode.BAD_REQUEST, `Rule chains call each other more than ${MAX_CHAIN_DEPTH} deep (a loop?)`);
        const chain = await chains.get(msg.tenantId, config.ruleChainId);
        if (!chain) throw new NotFoundError(`Rule chain ${config.ruleChainId} not found`);
        const outcome = await depth.run(level + 1, () => chain.run(msg));
        if (!outcome.ok) throw new RivuletError(ErrorCode.INTERNAL, `Rule chain "${chain.name}" failed: ${outcome.error ?? 'Failure'}`);
        return (outcome.outputs ?? []).map((r) => ({ relation: r.relation, msg: r.msg }));
      },
    };
  },
});
