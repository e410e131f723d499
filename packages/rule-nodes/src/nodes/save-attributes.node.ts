import { AttributeScope, BadRequestError, createMsg, msgDoubles, MsgType, toKvObject, type AttributeWrite, type JsonObject } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { tbBool } from '../util/data';

export const saveAttributesNode = defineNode({
  type: 'rivulet.action.saveAttributes',
  aliases: ['org.thingsboard.rule.engine.telemetry.TbMsgAttributesNode'],
  category: 'action',
  name: 'save attributes',
  description: 'Stores the message data as attributes of the originator in the configured scope.',
  configSchema: z.looseObject({
    scope: z.enum([AttributeScope.CLIENT_SCOPE, AttributeScope.SERVER_SCOPE, AttributeScope.SHARED_SCOPE]).default('CLIENT_SCOPE'),
    notifyDevice: tbBool().default(false),
    /** ThingsBoard's: after the save, an ATTRIBUTES_UPDATED message (data the attributes, metadata scope) to the rule engine; not for CLIENT_SCOPE. */
    sendAttributesUpdatedNotification: tbBool().default(false),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config, services) {
    return {
      async process(msg) {
        const data = msg.data;
        if (typeof data !== 'object' || data === null || Array.isArray(data)) {
          throw new BadRequestError('Attributes message data must be a JSON object');
        }
        // A scope in the metadata (as ThingsBoard's REST-originated messages carry) wins over the node's.
        const metaScope = msg.metadata.scope;
        const scope = metaScope === 'CLIENT_SCOPE' || metaScope === 'SERVER_SCOPE' || metaScope === 'SHARED_SCOPE' ? metaScope : config.scope;
        const ts = services.now();
        const kv = toKvObject(data, false);
        const doubles = msgDoubles(msg);
        const items: AttributeWrite[] = [];
        for (const key in kv) {
          const value = kv[key]!;
          // a key the message marks as a double (written 1.0) is stored as one (Msg.doubles)
          const double = doubles !== undefined && typeof value === 'number' && doubles.has(key);
          items.push(double ? { entityId: msg.originator.id, scope, key, value, lastUpdateTs: ts, double } : { entityId: msg.originator.id, scope, key, value, lastUpdateTs: ts });
        }
        await services.attributes.save(items);
        if (config.sendAttributesUpdatedNotification && scope !== AttributeScope.CLIENT_SCOPE && items.length > 0) {
          await services.platformEvents?.enqueue(createMsg({ type: MsgType.ATTRIBUTES_UPDATED, originator: msg.originator, tenantId: msg.tenantId, metadata: { scope }, data: kv as JsonObject, doubles: items.filter((i) => i.double === true).map((i) => i.key) }), msg);
        }
        return [{ relation: Relation.SUCCESS, msg }];
      },
    };
  },
});
