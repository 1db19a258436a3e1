#!/usr/bin/env node
// `node tools/soak/run.mjs [options]`: decodes to the context limit again and again on every engine
// for a while, and opens and closes demo sessions, reporting memory, live GPU buffers and tokens/s
// at the start and at the end. Runs tools/soak/soak.ts through Vite's module runner, as
// bin/wafermesh.mjs runs the CLI. Options: see soak.ts. Not part of `npm test`.
import { runMain } from '../../bin/module-runner.mjs';

process.exit(await runMain('/tools/soak/soak.ts', process.argv.slice(2), 'soak'));
