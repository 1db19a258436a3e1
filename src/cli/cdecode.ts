import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WafermeshError, oneLine } from '../errors.ts';
import { writeCheckpoint } from '../model/checkpoint.ts';
import type { Model } from '../model/weights.ts';
import { PROJECT_ROOT } from './load.ts';

/**
 * The plain C decode (tools/cdecode/decode.c), the bench's yardstick on the same CPU: compiled
 * with `cc` into a temporary folder of its own, fed checkpoints written there, run as a child
 * process. `dispose()` removes the folder.
 */
export class CDecoder {
  private checkpoints = 0;

  private constructor(
    private readonly dir: string,
    private readonly bin: string,
  ) {}

  /** Compiles decode.c; refuses in one line when there is no C compiler. */
  static compile(): CDecoder {
    const dir = mkdtempSync(join(tmpdir(), 'wm-bench-'));
    const bin = join(dir, 'decode');
    try {
      execFileSync('cc', ['-O2', '-o', bin, resolve(PROJECT_ROOT, 'tools/cdecode/decode.c'), '-lm'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw new WafermeshError('no-compiler', `could not compile tools/cdecode/decode.c with cc (${oneLine(e)}); install gcc or leave out engine c`);
    }
    return new CDecoder(dir, bin);
  }

  /**
   * Writes `model` as a llama2.c checkpoint the decoder can read; returns its path. The file is
   * named by a counter, never by the model's name (which may be a path or a random:<spec>).
   */
  writeCheckpoint(model: Model): string {
    const path = join(this.dir, `model-${++this.checkpoints}.bin`);
    writeFileSync(path, writeCheckpoint(model));
    return path;
  }

  /** Runs the C decode once: its ids (stdout) and its own timing (stderr: "N tokens, X tokens/s"). */
  run(checkpoint: string, tokens: number): { ids: number[]; rate: number } {
    const r = spawnSync(this.bin, [checkpoint, String(tokens)], { encoding: 'utf8' });
    const m = /([\d.]+) tokens\/s/.exec(String(r.stderr));
    if (r.status !== 0 || !m) throw new WafermeshError('bad-output', `the C decode failed: ${String(r.stderr).trim() || `exit ${r.status}`}`);
    return { ids: String(r.stdout).trim().split(/\s+/).filter(Boolean).map(Number), rate: Number(m[1]) };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
