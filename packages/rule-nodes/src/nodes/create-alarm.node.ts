import { BadRequestError, withMsg, type JsonValue, type Msg } from '@rivulet/core';
import { defineNode, Relation, type CompiledScript, type RuleAlarm } from '@rivulet/rule-engine';
import { z } from 'zod';
import { compileNodeScript, msgArgs, msgKey, ScriptLang } from '../script/tb-script';
import type { ScriptLang as ScriptLangType } from '../script/tb-script';
import { ALARM_DETAILS_TEMPLATE, AlarmSeverity, alarmMsg, isSeverity } from '../util/alarm';
import { isObject, msgTs, requireCapability, tbBool } from '../util/data';
import { processPattern } from '../util/patterns';

export const CREATED = 'Created';
export const UPDATED = 'Updated';

/** Runs an alarm details script with the previous details in metadata.prevAlarmDetails (ThingsBoard's convention). */
export async function buildDetails(script: CompiledScript | undefined, msg: Msg, previous: RuleAlarm | null): Promise<JsonValue | undefined> {
  if (!script) return undefined;
  const input = previous && previous.details !== null ? withMsg(msg, { metadata: { ...msg.metadata, prevAlarmDetails: JSON.stringify(previous.details) } }) : msg;
  return script.call(msgArgs(input), msgKey(msg));
}

export function alarmScript(
  config: { scriptLang: ScriptLangType; alarmDetailsBuildJs?: string | null | undefined; alarmDetailsBuildTbel?: string | null | undefined; alarmDetailsBuildMvel?: string | null | undefined },
  services: Parameters<typeof compileNodeScript>[0],
): CompiledScript | undefined {
  const js = config.alarmDetailsBuildJs ?? '';
  const tbel = config.alarmDetailsBuildTbel ?? config.alarmDetailsBuildMvel ?? undefined;
  const body = config.scriptLang !== 'JS' && tbel ? tbel : js;
  if (body.trim() === '') return undefined;
  return compileNodeScript(services, { scriptLang: config.scriptLang, jsScript: js, tbelScript: tbel }, 'alarm details');
}

/**
 * Creates an alarm for the originator, or updates its active alarm of the same type (one active
 * alarm per originator and type, held by storage under concurrency). Leaves by Created or Updated
 * with an ALARM message (the alarm as data, metadata isNewAlarm / isExistingAlarm).
 */
export const createAlarmNode = defineNode({
  type: 'rivulet.action.createAlarm',
  aliases: ['org.thingsboard.rule.engine.action.TbCreateAlarmNode'],
  category: 'action',
  name: 'create alarm',
  description: 'Creates or updates the originator\'s active alarm of a type; details from an optional script.',
  configSchema: z.looseObject({
    alarmType: z.string().min(1).default('General Alarm'),
    severity: z.string().min(1).default('CRITICAL'),
    /** severity is a pattern (${metadataKey} / $[dataKey]) resolved per message. */
    dynamicSeverity: tbBool().default(false),
    scriptLang: ScriptLang.default('JS'),
    alarmDetailsBuildJs: z.string().nullish().default(ALARM_DETAILS_TEMPLATE),
    alarmDetailsBuildTbel: z.string().nullish(),
    alarmDetailsBuildMvel: z.string().nullish(),
    /** Take type, severity and details from the message data (an alarm object). */
    useMessageAlarmData: tbBool().default(false),
    overwriteAlarmDetails: tbBool().default(false),
    // Accepted for import; Rivulet has no entity relations to propagate alarms along.
    propagate: tbBool().default(false),
    propagateToOwner: tbBool().default(false),
    propagateToTenant: tbBool().default(false),
    relationTypes: z.array(z.string()).nullish(),
  }).refine((c) => c.dynamicSeverity || c.useMessageAlarmData || isSeverity(c.severity), { message: 'must be CRITICAL, MAJOR, MINOR, WARNING or INDETERMINATE', path: ['severity'] }),
  configVersion: 0,
  relations: [CREATED, UPDATED, Relation.FALSE, Relation.FAILURE],
  requires: ['alarms'],
  create(config, services) {
    const script = alarmScript(config, services);
    const buildScript = !config.useMessageAlarmData || config.overwriteAlarmDetails ? script : undefined;
    return {
      async process(msg) {
        const alarms = requireCapability(services, 'alarms', 'create alarm');
        let type = processPattern(config.alarmType, msg);
        let severity: unknown = config.dynamicSeverity ? processPattern(config.severity, msg) : config.severity;
        let details: JsonValue | undefined;
        if (config.useMessageAlarmData) {
          if (!isObject(msg.data)) throw new BadRequestError('useMessageAlarmData needs an alarm object as the message data');
          if (typeof msg.data.type === 'string' && msg.data.type !== '') type = msg.data.type;
          if (msg.data.severity !== undefined) severity = msg.data.severity;
          if (msg.data.details !== undefined) details = msg.data.details;
        }
        if (!isSeverity(severity)) throw new BadRequestError(`Alarm severity "${String(severity)}" is not one of CRITICAL, MAJOR, MINOR, WARNING, INDETERMINATE`);
        if (buildScript) {
          const previous = await alarms.findActive(msg.tenantId, msg.originator.id, type);
          details = await buildDetails(buildScript, msg, previous);
        }
        const { alarm, created } = await alarms.createOrUpdate({
          tenantId: msg.tenantId,
          type,
          originatorType: msg.originator.entityType,
          originatorId: msg.originator.id,
          severity,
          ...(details !== undefined ? { details } : {}),
          // ThingsBoard starts an alarm at the message's metadata.ts.
          ts: msgTs(msg),
        });
        return [{ relation: created ? CREATED : UPDATED, msg: alarmMsg(msg, alarm, created ? 'isNewAlarm' : 'isExistingAlarm') }];
      },
      destroy: () => script?.destroy(),
    };
  },
});
