#!/usr/bin/env node
// `node tools/prefill/run.mjs [options]`: the wafer prefill on the fabric against the mesh engine's
// token-by-token prefill, measured on this machine's WebGPU driver. Runs tools/prefill/prefill.ts
// through Vite's module runner, as bin/wafermesh.mjs runs the CLI. Options: see prefill.ts.
import { runMain } from '../../bin/module-runner.mjs';

process.exit(await runMain('/tools/prefill/prefill.ts', process.argv.slice(2), 'prefill'));
