// Vite's module runner over the project (TypeScript and `?raw` WGSL imports, the loader the demo and
// the tests use): imports `entry` (a path from the project root), calls its `main(argv)` and
// returns its exit code. Used by bin/wafermesh.mjs and tools/scale/run.mjs.
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function runMain(entry, argv, name) {
  let server;
  let code = 1;
  try {
    const { createServer, createServerModuleRunner } = await import('vite');
    server = await createServer({
      root: ROOT,
      configFile: resolve(ROOT, 'vite.config.ts'),
      logLevel: 'error',
      appType: 'custom',
      server: { middlewareMode: true, hmr: false, ws: false, watch: null },
      optimizeDeps: { noDiscovery: true, include: [] },
    });
    const runner = createServerModuleRunner(server.environments.ssr, { hmr: false });
    const { main } = await runner.import(entry);
    code = await main(argv);
    await runner.close();
  } catch (e) {
    // main() reports its own errors; this is only for failures to start at all.
    console.error(`${name}: could not start: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
    if (process.env.WAFERMESH_DEBUG) console.error(e);
  } finally {
    await server?.close();
  }
  return code;
}
