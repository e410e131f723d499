import { BadRequestError, NotFoundError, withMsg, type JsonValue } from '@rivulet/core';
import { defineNode, Relation, type DeviceInfo } from '@rivulet/rule-engine';
import { z } from 'zod';
import { MsgSource, putValues, requireCapability, tbBool } from '../util/data';

const FIELDS: Readonly<Record<string, (d: DeviceInfo) => JsonValue>> = {
  id: (d) => d.id,
  name: (d) => d.name,
  type: (d) => d.type,
  deviceProfileName: (d) => d.type,
  label: (d) => d.label,
  createdTime: (d) => d.createdTime,
};

/**
 * Adds fields of the originating device (name, type, label, id, createdTime) under the names of
 * `dataMapping` (field -> target key). Fields a device does not have (and a null label) are left
 * out, or written as "" unless ignoreNullStrings.
 */
export const originatorFieldsNode = defineNode({
  type: 'rivulet.enrichment.originatorFields',
  aliases: ['org.thingsboard.rule.engine.metadata.TbGetOriginatorFieldsNode'],
  category: 'enrichment',
  name: 'originator fields',
  description: 'Adds the originator device\'s name, type, label... to the metadata or data.',
  configSchema: z.looseObject({
    dataMapping: z.record(z.string(), z.string().min(1)).optional(),
    /** ThingsBoard before 3.6. */
    fieldsMapping: z.record(z.string(), z.string().min(1)).optional(),
    ignoreNullStrings: tbBool().default(false),
    fetchTo: MsgSource.default('METADATA'),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  requires: ['devices'],
  create(config, services) {
    const mapping = Object.entries(config.dataMapping ?? config.fieldsMapping ?? { name: 'originatorName', type: 'originatorType' });
    return {
      async process(msg) {
        if (msg.originator.entityType !== 'DEVICE') {
          throw new BadRequestError(`Originator fields are read for DEVICE originators; this one is ${msg.originator.entityType}`);
        }
        const devices = requireCapability(services, 'devices', 'originator fields');
        const device = await devices.get(msg.tenantId, msg.originator.id);
        if (!device) throw new NotFoundError(`Device ${msg.originator.id} not found`);
        const values: Array<[string, JsonValue]> = [];
        for (const [field, target] of mapping) {
          const read = FIELDS[field];
          const v = read ? read(device) : null;
          if (v === null || v === undefined || v === '') {
            if (!config.ignoreNullStrings && read) values.push([target, '']);
            continue;
          }
          values.push([target, v]);
        }
        return [{ relation: Relation.SUCCESS, msg: withMsg(msg, putValues(msg, config.fetchTo, values, 'Fetching to data')) }];
      },
    };
  },
});
