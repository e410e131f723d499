import { AttributeScope, createMsg, isAttributeScope, MsgType } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { tbBool } from '../util/data';
import { keysOf } from './originator-attributes.node.js';

/** Deletes attributes of the originator (keys may use `${metadata}` / `$[data]` patterns). */
export const deleteAttributesNode = defineNode({
  type: 'rivulet.action.deleteAttributes',
  aliases: ['org.thingsboard.rule.engine.telemetry.TbMsgDeleteAttributesNode', 'org.thingsboard.rule.engine.telemetry.TbMsgDeleteAttributes'],
  category: 'action',
  name: 'delete attributes',
  description: 'Deletes the listed attributes of the originator in the configured scope (a "scope" in the metadata wins).',
  configSchema: z.looseObject({
    scope: z.enum([AttributeScope.CLIENT_SCOPE, AttributeScope.SERVER_SCOPE, AttributeScope.SHARED_SCOPE]).default('SERVER_SCOPE'),
    keys: z.array(z.string().min(1)).min(1).default(['attributeName']),
    sendAttributesDeletedNotification: tbBool().default(false),
    notifyDevice: tbBool().default(false),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config, services) {
    return {
      async process(msg) {
        const scope = isAttributeScope(msg.metadata.scope) ? msg.metadata.scope : config.scope;
        const keys = keysOf(config.keys, msg);
        await services.attributes.delete(msg.originator.id, scope, keys);
        // ThingsBoard's: an ATTRIBUTES_DELETED message (data {"attributes": [keys]}, metadata scope) to the rule engine.
        if (config.sendAttributesDeletedNotification && keys.length > 0) {
          await services.platformEvents?.enqueue(createMsg({ type: MsgType.ATTRIBUTES_DELETED, originator: msg.originator, tenantId: msg.tenantId, metadata: { scope }, data: { attributes: [...keys] } }), msg);
        }
        return [{ relation: Relation.SUCCESS, msg }];
      },
    };
  },
});
