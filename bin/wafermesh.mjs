#!/usr/bin/env node
// `npx wafermesh …`: runs src/cli/main.ts through Vite's module runner, the same loader the demo
// and the tests use (TypeScript and `?raw` WGSL imports), so there is no separate build step.
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let server;
let code = 1;
try {
  const { createServer, createServerModuleRunner } = await import('vite');
  server = await createServer({
    root,
    configFile: resolve(root, 'vite.config.ts'),
    logLevel: 'error',
    appType: 'custom',
    server: { middlewareMode: true, hmr: false, ws: false, watch: null },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  const runner = createServerModuleRunner(server.environments.ssr, { hmr: false });
  const { main } = await runner.import('/src/cli/main.ts');
  code = await main(process.argv.slice(2));
  await runner.close();
} catch (e) {
  // main() reports its own errors; this is only for failures to start at all.
  console.error(`wafermesh: could not start: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
  if (process.env.WAFERMESH_DEBUG) console.error(e);
} finally {
  await server?.close();
}
process.exit(code);
