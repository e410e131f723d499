import { AttributeScope, BadRequestError, isAttributeScope, withMsg, type JsonValue, type Msg } from '@rivulet/core';
import { defineNode, Relation, type RuleNodeServices } from '@rivulet/rule-engine';
import { z } from 'zod';
import { compileExpression } from '../util/expression';
import { metadataValue, msgTs, objectData, toNumber, tbBool } from '../util/data';
import { dataPath } from '../util/patterns';

const ArgumentType = z.enum(['CONSTANT', 'MESSAGE_BODY', 'MESSAGE_METADATA', 'ATTRIBUTE', 'TIME_SERIES']);

const Argument = z.looseObject({
  name: z.string().min(1).optional(),
  type: ArgumentType,
  key: z.string(),
  attributeScope: z.string().nullish(),
  defaultValue: z.number().nullish(),
});
type Argument = z.infer<typeof Argument>;

/** ThingsBoard's operations (TbRuleNodeMathFunctionType): arity and function; CUSTOM is the formula. */
const OPERATIONS: Record<string, { arity: number; fn: (...a: number[]) => number; integer?: boolean }> = {
  ADD: { arity: 2, fn: (a, b) => a + b },
  SUB: { arity: 2, fn: (a, b) => a - b },
  MULT: { arity: 2, fn: (a, b) => a * b },
  DIV: { arity: 2, fn: (a, b) => a / b },
  SIN: { arity: 1, fn: Math.sin },
  SINH: { arity: 1, fn: Math.sinh },
  COS: { arity: 1, fn: Math.cos },
  COSH: { arity: 1, fn: Math.cosh },
  TAN: { arity: 1, fn: Math.tan },
  TANH: { arity: 1, fn: Math.tanh },
  ACOS: { arity: 1, fn: Math.acos },
  ASIN: { arity: 1, fn: Math.asin },
  ATAN: { arity: 1, fn: Math.atan },
  ATAN2: { arity: 2, fn: Math.atan2 },
  EXP: { arity: 1, fn: Math.exp },
  EXPM1: { arity: 1, fn: Math.expm1 },
  SQRT: { arity: 1, fn: Math.sqrt },
  CBRT: { arity: 1, fn: Math.cbrt },
  GET_EXP: { arity: 1, fn: (a) => (a === 0 ? -1023 : Math.floor(Math.log2(Math.abs(a)))), integer: true },
  HYPOT: { arity: 2, fn: Math.hypot },
  LOG: { arity: 1, fn: Math.log },
  LOG10: { arity: 1, fn: Math.log10 },
  LOG1P: { arity: 1, fn: Math.log1p },
  CEIL: { arity: 1, fn: Math.ceil, integer: true },
  FLOOR: { arity: 1, fn: Math.floor, integer: true },
  FLOOR_DIV: { arity: 2, fn: (a, b) => Math.floor(a / b), integer: true },
  FLOOR_MOD: { arity: 2, fn: (a, b) => a - Math.floor(a / b) * b },
  ABS: { arity: 1, fn: Math.abs },
  MIN: { arity: 2, fn: Math.min },
  MAX: { arity: 2, fn: Math.max },
  POW: { arity: 2, fn: Math.pow },
  SIGNUM: { arity: 1, fn: Math.sign },
  RAD: { arity: 1, fn: (d) => (d * Math.PI) / 180 },
  DEG: { arity: 1, fn: (r) => (r * 180) / Math.PI },
};

const argNames = (args: readonly Argument[]) => args.map((a, i) => a.name ?? String.fromCharCode(120 + i));

const scopeOf = (s: string | null | undefined) => (isAttributeScope(s) ? s : AttributeScope.SERVER_SCOPE);

/**
 * ThingsBoard's math node: an operation (ADD, SQRT, ...) or a CUSTOM formula over arguments read
 * from the data, metadata, the originator's attributes or latest telemetry, or constants; the
 * result goes to the data, metadata, an attribute or a time series point. Formulas are compiled by
 * a small arithmetic parser (no script, no eval) when the chain loads.
 */
export const mathNode = defineNode({
  type: 'rivulet.transformation.math',
  aliases: ['org.thingsboard.rule.engine.math.TbMathNode'],
  category: 'transformation',
  name: 'math',
  description: 'Computes a formula over message keys, attributes or telemetry (no script) and stores or adds the result.',
  configSchema: z
    .looseObject({
      operation: z.enum(['CUSTOM', ...Object.keys(OPERATIONS)] as [string, ...string[]]).default('CUSTOM'),
      arguments: z.array(Argument).min(1).max(16).default([{ name: 'x', type: 'MESSAGE_BODY', key: 'temperature' }]),
      customFunction: z.string().nullish().default('(x - 32) / 1.8'),
      result: z
        .looseObject({
          type: z.enum(['MESSAGE_BODY', 'MESSAGE_METADATA', 'ATTRIBUTE', 'TIME_SERIES']),
          key: z.string().min(1),
          /** Decimal places; 0 gives an integer. */
          resultValuePrecision: z.number().int().min(0).max(15).default(2),
          addToBody: tbBool().default(false),
          addToMetadata: tbBool().default(false),
          attributeScope: z.string().nullish(),
        })
        .default({ type: 'MESSAGE_BODY', key: 'temperatureCelsius', resultValuePrecision: 2, addToBody: false, addToMetadata: false }),
    })
    .superRefine((c, ctx) => {
      if (c.operation === 'CUSTOM') {
        try {
          compileExpression(c.customFunction ?? '', argNames(c.arguments));
        } catch (e) {
          ctx.addIssue({ code: 'custom', path: ['customFunction'], message: (e as Error).message });
        }
      } else if (c.arguments.length !== OPERATIONS[c.operation]!.arity) {
        ctx.addIssue({ code: 'custom', path: ['arguments'], message: `${c.operation} takes ${OPERATIONS[c.operation]!.arity} argument(s)` });
      }
    }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config, services) {
    const names = argNames(config.arguments);
    const op = OPERATIONS[config.operation];
    const formula = op ? undefined : compileExpression(config.customFunction ?? '', names);
    const compute = (values: number[]): number => (op ? op.fn(...values) : formula!(values));
    const precision = op?.integer ? 0 : config.result.resultValuePrecision;

    async function read(arg: Argument, msg: Msg, s: RuleNodeServices): Promise<number> {
      let raw: JsonValue | undefined;
      switch (arg.type) {
        case 'CONSTANT':
          raw = arg.key;
          break;
        case 'MESSAGE_BODY':
          raw = dataPath(msg.data, arg.key);
          break;
        case 'MESSAGE_METADATA':
          raw = msg.metadata[arg.key];
          break;
        case 'ATTRIBUTE':
          raw = (await s.attributes.find(msg.originator.id, scopeOf(arg.attributeScope), [arg.key]))[0]?.value;
          break;
        case 'TIME_SERIES':
          raw = (await s.timeseries.findLatest(msg.originator.id, [arg.key]))[0]?.value;
          break;
      }
      const n = toNumber(raw);
      if (n !== undefined) return n;
      if (arg.defaultValue !== null && arg.defaultValue !== undefined) return arg.defaultValue;
      throw new BadRequestError(`Argument ${arg.name ?? arg.key}: ${arg.type} ${arg.key} is ${raw === undefined ? 'missing' : 'not a number'}`);
    }

    return {
      async process(msg) {
        const values = await Promise.all(config.arguments.map((a) => read(a, msg, services)));
        const raw = compute(values);
        if (!Number.isFinite(raw)) throw new BadRequestError(`The result is not a finite number (${raw})`);
        const value = Number(raw.toFixed(precision));
        const r = config.result;
        let data = msg.data;
        let metadata: Record<string, string> | undefined;
        if (r.type === 'ATTRIBUTE') {
          await services.attributes.save([{ entityId: msg.originator.id, scope: scopeOf(r.attributeScope), key: r.key, value, lastUpdateTs: services.now() }]);
        } else if (r.type === 'TIME_SERIES') {
          await services.timeseries.save([{ entityId: msg.originator.id, key: r.key, ts: msgTs(msg), value }]);
        }
        if (r.type === 'MESSAGE_BODY' || (r.addToBody && (r.type === 'ATTRIBUTE' || r.type === 'TIME_SERIES'))) {
          data = { ...objectData(msg, 'The math node'), [r.key]: value };
        }
        if (r.type === 'MESSAGE_METADATA' || (r.addToMetadata && (r.type === 'ATTRIBUTE' || r.type === 'TIME_SERIES'))) {
          metadata = { ...msg.metadata, [r.key]: metadataValue(value) };
        }
        return [{ relation: Relation.SUCCESS, msg: withMsg(msg, { data, ...(metadata ? { metadata } : {}) }) }];
      },
    };
  },
});
