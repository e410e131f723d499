import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { type Router } from 'express';
import helmet from 'helmet';

/** Swagger UI's files, from the swagger-ui-dist package (no CDN). */
function swaggerUiDir(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Rivulet REST API</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js"></script>
  <script src="/api/docs/rivulet-init.js"></script>
</body>
</html>
`;

// A script file rather than an inline script, so the page's CSP needs no 'unsafe-inline' for scripts.
const INIT = `window.ui = SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  persistAuthorization: false,
});
`;

/**
 * The browsable API documentation at /api/docs: Swagger UI on /api/openapi.json. Its CSP lets the
 * page load its own scripts, styles and images and call the API on the same origin, nothing else.
 */
export function docsPage(): Router {
  const router = express.Router({ caseSensitive: true });
  router.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: ["'self'"],
          // Swagger UI sets style attributes at run time.
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          fontSrc: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'none'"],
        },
      },
    }),
  );
  const send = (type: string, text: string) => (_req: express.Request, res: express.Response) => {
    res.writeHead(200, { 'content-type': type, 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-cache' });
    res.end(text);
  };
  router.get('/', send('text/html; charset=utf-8', PAGE));
  router.get('/rivulet-init.js', send('application/javascript; charset=utf-8', INIT));
  const dir = swaggerUiDir();
  for (const file of ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png', 'favicon-16x16.png']) {
    router.get(`/${file}`, (_req, res, next) => res.sendFile(file, { root: dir, maxAge: 3_600_000 }, (e) => e && next(e)));
  }
  return router;
}
