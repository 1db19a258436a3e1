#!/usr/bin/env node
// `npx wafermesh …`: runs src/cli/main.ts through Vite's module runner, the same loader the demo
// and the tests use (TypeScript and `?raw` WGSL imports), so there is no separate build step.
//
// Dawn writes two "…artificially reduced…" warnings about limits nobody here uses straight to
// file descriptor 2 from native code whenever an adapter is made, where no JavaScript can stop
// them. So the command runs in a child process whose stderr passes through a filter that drops
// exactly those lines; everything else (errors, progress) passes through as it comes.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Dawn's notes on limits it lowers; nothing the user can or needs to act on. */
const DAWN_NOISE = /^Warning: \w+ artificially reduced from \d+ to \d+ to fit [^\n]*$/;

if (process.env.WAFERMESH_CHILD !== '1') {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, WAFERMESH_CHILD: '1', ...(process.stderr.isTTY ? { WAFERMESH_STDERR_TTY: '1' } : {}) },
  });
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    const out = parts.filter((l) => !DAWN_NOISE.test(l)).map((l) => `${l}\n`).join('');
    // A partial line that may still become a warning waits for its end; anything else (a progress
    // bar redrawn with \r) goes out now.
    if (pending !== '' && !'Warning: '.startsWith(pending.slice(0, 9)) && !pending.startsWith('Warning: ')) {
      process.stderr.write(out + pending);
      pending = '';
    } else if (out) process.stderr.write(out);
  });
  // Ctrl-C reaches the child through the terminal's process group; the parent waits for its exit.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('error', (e) => {
    console.error(`wafermesh: could not start: ${e.message}`);
    process.exit(1);
  });
  child.on('close', (code, signal) => {
    if (pending !== '' && !DAWN_NOISE.test(pending)) process.stderr.write(pending);
    process.exit(code ?? (signal ? 128 + ({ SIGINT: 2, SIGTERM: 15, SIGKILL: 9 }[signal] ?? 1) : 1));
  });
} else {
  const { runMain } = await import('./module-runner.mjs');
  process.exit(await runMain('/src/cli/main.ts', process.argv.slice(2), 'wafermesh'));
}
