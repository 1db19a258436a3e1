#!/usr/bin/env node
// `node tools/scale/run.mjs [options]`: how large a mesh this machine's WebGPU driver emulates, and
// how fast. Runs tools/scale/scale.ts through Vite's module runner, as bin/wafermesh.mjs runs the
// CLI. Options: see scale.ts.
import { runMain } from '../../bin/module-runner.mjs';

process.exit(await runMain('/tools/scale/scale.ts', process.argv.slice(2), 'scale'));
