import { ErrorResponseSchema, JsonSchema } from '@rivulet/api-types';
import { z } from 'zod';
import type { RouteDef } from './router';

type JsonSchemaObject = Record<string, unknown>;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request: a malformed parameter or body (errorCode 30 or 31)',
  401: 'No valid JWT in the X-Authorization header (errorCode 10, or 11 when it expired)',
  403: 'The caller may not do this (errorCode 20)',
  404: 'No such entity in the caller\'s tenant (errorCode 32)',
  409: 'Someone else saved this entity since it was read: a stale version (errorCode 35)',
  413: 'The request body is larger than the cap',
  429: 'Too many requests from this address (errorCode 33)',
};

/** `{deviceId}` names of a path. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
}

/**
 * What a route lacks for a useful entry in the document: a summary, the 200 answer's schema (null for
 * an empty body), a schema for each path parameter. openapi.test.ts requires none for every route.
 */
export function routeDocProblems(route: RouteDef): string[] {
  const name = `${route.method} ${route.path}`;
  const problems: string[] = [];
  if (!route.summary) problems.push(`${name}: no summary`);
  if (route.response === undefined) problems.push(`${name}: no response schema (null for an empty body)`);
  const shape = (route.params?.shape ?? {}) as Record<string, unknown>;
  for (const p of pathParams(route.path)) if (!shape[p]) problems.push(`${name}: no schema for path parameter {${p}}`);
  if ((route.method === 'POST' || route.method === 'PUT') && route.body === undefined) {
    problems.push(`${name}: no body schema (null when it takes none)`);
  }
  return problems;
}

/** operationId: method + path words, e.g. getApiDeviceByDeviceId. */
function operationId(route: RouteDef): string {
  const words = route.path
    .split('/')
    .filter(Boolean)
    .map((s) => {
      const p = /^\{(\w+)\}$/.exec(s);
      const w = p ? `By${(p[1] as string)[0]!.toUpperCase()}${(p[1] as string).slice(1)}` : s.replace(/[^A-Za-z0-9]/g, '');
      return w.length > 0 ? w[0]!.toUpperCase() + w.slice(1) : w;
    });
  return route.method.toLowerCase() + words.join('');
}

/**
 * Named JSON schemas under components.schemas. Request schemas are rendered as zod parses them
 * (io: input), responses as the API writes them (io: output); recursive ones (JsonValue) by $ref.
 */
class Components {
  private readonly input = z.registry<{ id: string }>();
  private readonly output = z.registry<{ id: string }>();
  private readonly inputIds = new Map<z.ZodType, string>();
  private readonly outputIds = new Map<z.ZodType, string>();
  private readonly taken = new Set<string>(['JsonValue', 'ErrorResponse']);

  constructor() {
    for (const reg of [this.input, this.output]) {
      reg.add(JsonSchema, { id: 'JsonValue' });
      reg.add(ErrorResponseSchema, { id: 'ErrorResponse' });
    }
  }

  /** A $ref to the schema, registered under `name` (or the name it already has). */
  ref(schema: z.ZodType, name: string, io: 'input' | 'output'): JsonSchemaObject {
    if (schema === JsonSchema) return { $ref: '#/components/schemas/JsonValue' };
    if (schema === ErrorResponseSchema) return { $ref: '#/components/schemas/ErrorResponse' };
    const ids = io === 'input' ? this.inputIds : this.outputIds;
    let id = ids.get(schema);
    if (id === undefined) {
      id = this.unique(name);
      ids.set(schema, id);
      (io === 'input' ? this.input : this.output).add(schema, { id });
    }
    return { $ref: `#/components/schemas/${id}` };
  }

  private unique(name: string): string {
    let id = name;
    for (let i = 2; this.taken.has(id); i++) id = `${name}${i}`;
    this.taken.add(id);
    return id;
  }

  render(): Record<string, JsonSchemaObject> {
    const out: Record<string, JsonSchemaObject> = {};
    for (const [reg, io] of [[this.input, 'input'], [this.output, 'output']] as const) {
      const { schemas } = z.toJSONSchema(reg, { io, unrepresentable: 'any', target: 'draft-2020-12', uri: (id) => `#/components/schemas/${id}` });
      for (const [id, s] of Object.entries(schemas)) {
        const { $schema: _s, $id: _i, ...rest } = s as JsonSchemaObject;
        out[id] ??= rest;
      }
    }
    // Any JSON value: zod spells it as a recursive anyOf, which is exactly what `{}` admits; the flat
    // form keeps tools that generate data from the schema (schemathesis) out of deep recursion.
    out.JsonValue = { description: 'Any JSON value' };
    return out;
  }
}

/** One JSON schema for a parameter (simple types: no $refs needed). */
function paramSchema(schema: z.ZodType): JsonSchemaObject {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchemaObject;
  return rest;
}

function parameters(route: RouteDef): JsonSchemaObject[] {
  const out: JsonSchemaObject[] = [];
  const shape = (route.params?.shape ?? {}) as Record<string, z.ZodType>;
  for (const name of pathParams(route.path)) {
    const s = shape[name];
    out.push({ name, in: 'path', required: true, schema: s ? paramSchema(s) : { type: 'string' }, ...(s?.description ? { description: s.description } : {}) });
  }
  const query = (route.query?.shape ?? {}) as Record<string, z.ZodType>;
  for (const [name, s] of Object.entries(query)) {
    out.push({ name, in: 'query', required: !s.safeParse(undefined).success, schema: paramSchema(s), ...(s.description ? { description: s.description } : {}) });
  }
  return out;
}

export interface OpenApiInfo {
  readonly title?: string;
  readonly version?: string;
}

/**
 * The OpenAPI 3.1 document of the REST API, from each RouteDef's zod schemas: path and query
 * parameters, request body, the 200 answer, and ThingsBoard's error shape for the error statuses
 * (401/403 on every route behind a JWT, 413 where a body is read, 429 everywhere: the rate limit).
 */
export function buildOpenApiDocument(routes: readonly RouteDef[], info: OpenApiInfo = {}): JsonSchemaObject {
  const components = new Components();
  const paths: Record<string, Record<string, JsonSchemaObject>> = {};
  const errorContent = { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } };
  const tags = new Set<string>();

  for (const route of routes) {
    const id = operationId(route);
    const responses: Record<string, JsonSchemaObject> = {};
    if (route.response === null || route.response === undefined) {
      responses['200'] = { description: route.response === null ? 'Done (empty body)' : 'Done' };
    } else {
      responses['200'] = { description: 'Done', content: { 'application/json': { schema: components.ref(route.response, `${id}Response`, 'output') } } };
    }
    for (const [status, r] of Object.entries(route.responses ?? {})) {
      responses[status] = r.schema === null ? { description: r.description } : { description: r.description, content: { 'application/json': { schema: components.ref(r.schema, `${id}Response${status}`, 'output') } } };
    }
    const errors = [400, 404, 429];
    if (!route.public) errors.push(401, 403);
    if (route.body) errors.push(413);
    if (route.versioned) errors.push(409);
    for (const status of errors.sort()) responses[String(status)] ??= { description: STATUS_TEXT[status], content: errorContent };

    const op: JsonSchemaObject = {
      operationId: id,
      summary: route.summary ?? `${route.method} ${route.path}`,
      tags: [route.tag ?? 'Other'],
      parameters: parameters(route),
      responses,
      ...(route.public ? { security: [] } : {}),
    };
    tags.add(route.tag ?? 'Other');
    if (route.body) {
      op.requestBody = { required: true, content: { 'application/json': { schema: components.ref(route.body, `${id}Request`, 'input') } } };
    }
    (paths[route.path] ??= {})[route.method.toLowerCase()] = op;
  }

  // Links from a route that creates an entity to the routes that take its id.
  for (const source of routes) {
    if (!source.createsId || source.createsId.length === 0) continue;
    const links: Record<string, JsonSchemaObject> = {};
    for (const target of routes) {
      if (target === source) continue;
      const names = pathParams(target.path).filter((p) => source.createsId?.includes(p));
      if (names.length === 0) continue;
      links[operationId(target)] = { operationId: operationId(target), parameters: Object.fromEntries(names.map((n) => [n, '$response.body#/id/id'])) };
    }
    const ok = (paths[source.path]?.[source.method.toLowerCase()]?.responses as Record<string, JsonSchemaObject>)['200'];
    if (ok && Object.keys(links).length > 0) ok.links = links;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: info.title ?? 'Rivulet REST API',
      version: info.version ?? '1',
      description:
        "ThingsBoard's REST API shapes. Log in with POST /api/auth/login and send the token as `X-Authorization: Bearer <token>`. Errors are `{status, message, errorCode, timestamp}`.",
    },
    tags: [...tags].sort().map((name) => ({ name })),
    security: [{ 'X-Authorization': [] }],
    paths,
    components: {
      securitySchemes: {
        'X-Authorization': {
          type: 'apiKey',
          in: 'header',
          name: 'X-Authorization',
          description: 'The JWT from /api/auth/login as `Bearer <token>` (the standard Authorization header is accepted too).',
        },
      },
      schemas: components.render(),
    },
  };
}
