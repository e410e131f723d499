import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '@rivulet/storage';
import { buildOpenApiDocument, pathParams, routeDocProblems } from './openapi';
import { ok, type RouteDef } from './router';
import { createTestStorage, startTestApi, type TestApi } from './test-storage';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { summary: string; parameters: Array<{ name: string; in: string; schema: unknown }>; responses: Record<string, { content?: unknown }>; requestBody?: unknown; security?: unknown[] }>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
};

/** Every $ref in the document, to check each resolves. */
function refs(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) refs(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') out.push(x);
      else refs(x, out);
    }
  }
  return out;
}

describe('OpenAPI document', () => {
  let storage: Storage;
  let t: TestApi;
  let doc: Doc;

  beforeAll(async () => {
    storage = await createTestStorage();
    t = await startTestApi(storage);
    const r = await t.request('GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    doc = r.body as Doc;
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  it('is OpenAPI 3.1 with the X-Authorization scheme', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes['X-Authorization']).toEqual(expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-Authorization' }));
  });

  it('documents every registered RouteDef: summary, path parameters, body, 200 answer, error shape', () => {
    expect(t.api.routes.length).toBeGreaterThan(40);
    const undocumented: string[] = [];
    for (const route of t.api.routes) {
      const name = `${route.method} ${route.path}`;
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      if (!op) {
        undocumented.push(`${name}: not in the document`);
        continue;
      }
      // What a RouteDef must declare (see RouteDoc in router.ts): a later route without them fails here.
      undocumented.push(...routeDocProblems(route));
      expect(op.parameters.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(pathParams(route.path));
      // the error shape, unless the route declares its own 400 (ThingsBoard's claim answers a bare "FAILURE")
      if (route.responses?.[400]) expect(JSON.stringify(op.responses['400']?.content)).toContain('$ref');
      else expect(op.responses['400']?.content).toEqual({ 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } });
      if (route.public) expect(op.security).toEqual([]);
      else expect(op.responses['401']).toBeDefined();
      if (route.body) expect(op.requestBody).toBeDefined();
    }
    expect(undocumented).toEqual([]);
  });

  it('resolves every $ref', () => {
    for (const ref of refs(doc)) {
      const name = ref.replace('#/components/schemas/', '');
      expect(doc.components.schemas[name], ref).toBeDefined();
    }
  });

  it('fails for a route without schemas (the check above is not vacuous)', () => {
    const bare: RouteDef = { method: 'GET', path: '/api/thing/{thingId}', handler: async () => ok() };
    const d = buildOpenApiDocument([bare]) as unknown as Doc;
    // It still appears (path parameter as a plain string), but the check above reports it.
    expect(d.paths['/api/thing/{thingId}']?.get?.parameters).toEqual([{ name: 'thingId', in: 'path', required: true, schema: { type: 'string' } }]);
    expect(routeDocProblems(bare)).toEqual([
      'GET /api/thing/{thingId}: no summary',
      'GET /api/thing/{thingId}: no response schema (null for an empty body)',
      'GET /api/thing/{thingId}: no schema for path parameter {thingId}',
    ]);
    expect(routeDocProblems({ method: 'POST', path: '/api/thing', handler: async () => ok(), summary: 's', response: null })).toEqual(['POST /api/thing: no body schema (null when it takes none)']);
  });

  it('serves the docs page and Swagger UI from node_modules, with a CSP that allows only its own files', async () => {
    const page = await fetch(`${t.url}/api/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('/api/docs/swagger-ui-bundle.js');
    const bundle = await fetch(`${t.url}/api/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
    const init = await (await fetch(`${t.url}/api/docs/rivulet-init.js`)).text();
    expect(init).toContain("url: '/api/openapi.json'");
  });
});
