import { NestExpressApplication } from '@nestjs/platform-express';
import { fileURLToPath } from 'node:url';

/** The page's files: src/dashboard/public, copied beside the build by nest-cli.json's assets. */
const PUBLIC = fileURLToPath(new URL('./public', import.meta.url));

/** Serves the dashboard: `/` is the page, its script and styles live under /dashboard/. */
export function serveDashboard(app: NestExpressApplication): void {
  app.useStaticAssets(PUBLIC, { prefix: '/dashboard/', index: false, maxAge: '1h' });
  app.getHttpAdapter().get('/', (_req, res) => {
    (res as import('express').Response).sendFile('index.html', { root: PUBLIC });
  });
  // Browsers ask for /favicon.ico whatever the page links (the API docs page among them).
  app.getHttpAdapter().get('/favicon.ico', (_req, res) => {
    (res as import('express').Response).type('image/svg+xml').sendFile('favicon.svg', { root: PUBLIC, maxAge: '1d' });
  });
}
