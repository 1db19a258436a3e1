#!/usr/bin/env node
// `node tools/scale/run.mjs [options]`: how large a mesh this machine's WebGPU driver emulates, and
// how fast. Runs tools/scale/scale.ts through Vite's module runner (TypeScript and WGSL imports), as
// bin/wafermesh.mjs runs the CLI. Options: see scale.ts.
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { createServer, createServerModuleRunner } from 'vite';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const server = await createServer({
  root,
  configFile: resolve(root, 'vite.config.ts'),
  logLevel: 'error',
  appType: 'custom',
  server: { middlewareMode: true, hmr: false, ws: false, watch: null },
  optimizeDeps: { noDiscovery: true, include: [] },
});
const runner = createServerModuleRunner(server.environments.ssr, { hmr: false });
let code = 1;
try {
  const { main } = await runner.import('/tools/scale/scale.ts');
  code = await main(process.argv.slice(2));
} catch (e) {
  console.error(`scale: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
} finally {
  await runner.close();
  await server.close();
}
process.exit(code);
