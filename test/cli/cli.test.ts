import { totalmem } from 'node:os';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeCheckpoint } from '../../src/model/checkpoint.ts';
import { randomModel } from '../../src/model/random.ts';
import { writeTokenizer } from '../../src/model/tokenizer.ts';
import { STORIES260K_PATH, testTokenizer } from '../helpers/models.ts';
import { expectOneLineError } from '../helpers/cli.ts';

const ROOT = resolve(__dirname, '../..');
const BIN = resolve(ROOT, 'bin/wafermesh.mjs');
const dir = mkdtempSync(join(tmpdir(), 'wm-cli-'));

/** Runs `wafermesh args…` in the directory `cwd` (undefined: the test's own). */
function cliIn(cwd: string | undefined, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cli(...args: string[]) {
  return cliIn(undefined, ...args);
}


const gqaSeparate = randomModel(
  { dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, seqLen: 48, sharedClassifier: false },
  5,
);
const gqaPath = join(dir, 'gqa.bin');
writeFileSync(gqaPath, writeCheckpoint(gqaSeparate));
const tokPath = join(dir, 'tok.bin');
writeFileSync(tokPath, writeTokenizer(testTokenizer(300, [' ', 'a', 'b', ' a', 'ab'])));

describe('wafermesh generate', () => {
  it('prints 256 greedy ids for stories260K as JSON', () => {
    const r = cli('generate', '--engine', 'cpu', '--model', STORIES260K_PATH, '--tokens', '256', '--temperature', '0', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ids).toHaveLength(256);
    expect(out.ids.slice(0, 6)).toEqual([461, 461, 401, 401, 401, 461]);
    expect(out.prompt).toBe('');
    expect(out.timings.tokens_per_s).toBeGreaterThan(0);
    expect(out.text).toBeUndefined();
  });

  it('stops at seq_len forward passes and reports why', () => {
    const r = cli('generate', '--model', gqaPath, '--tokens', '500', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.timings.forward_passes).toBeLessThanOrEqual(48);
    expect(out.stop === 'context' ? out.ids.length === 48 : out.stop === 'bos').toBe(true);
  });

  it('runs a separate-classifier GQA checkpoint with a tokenizer and a prompt', () => {
    const r = cli('generate', '--model', gqaPath, '--tokenizer', tokPath, '--prompt', 'ab a', '--tokens', '10', '--temperature', '0.8', '--seed', '3', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.prompt).toBe('ab a');
    expect(out.prompt_ids[0]).toBe(1);
    expect(typeof out.text).toBe('string');
    // Same seed, same ids; the text streams without --json.
    const again = JSON.parse(cli('generate', '--model', gqaPath, '--tokenizer', tokPath, '--prompt', 'ab a', '--tokens', '10', '--temperature', '0.8', '--seed', '3', '--json').stdout);
    expect(again.ids).toEqual(out.ids);
    const plain = cli('generate', '--model', gqaPath, '--tokenizer', tokPath, '--prompt', 'ab a', '--tokens', '10', '--temperature', '0.8', '--seed', '3');
    expect(plain.stdout).toBe(`ab a${out.text}\n`);
  });

  describe('refuses bad input with one line and a non-zero exit', () => {
    const good = readFileSync(gqaPath);
    it('a truncated checkpoint', () => {
      const p = join(dir, 'trunc.bin');
      writeFileSync(p, good.subarray(0, 1000));
      expectOneLineError(cli('generate', '--model', p), /^wafermesh generate: .*trunc\.bin is 1000 bytes but its header .* implies \d+; the file is truncated/);
    });
    it('a header that disagrees with the file size', () => {
      const p = join(dir, 'header.bin');
      const b = Buffer.from(good);
      b.writeInt32LE(3, 8); // n_layers 2 -> 3
      writeFileSync(p, b);
      expectOneLineError(cli('generate', '--model', p), /header \(32, 64, 3, .*\) implies \d+/);
    });
    it('NaN weights', () => {
      const p = join(dir, 'nan.bin');
      const b = Buffer.from(good);
      b.writeFloatLE(NaN, 28 + 4 * 1234);
      writeFileSync(p, b);
      expectOneLineError(cli('generate', '--model', p), /weight token_embedding_table\[1234\] is NaN/);
    });
    it('an unknown model name', () => {
      expectOneLineError(cli('generate', '--model', 'stories15M'), /^wafermesh generate: model "stories15M" is neither a known name \(wm-stories, stories260K\), a random:<spec>, nor an existing file \(did you mean stories260K\?\)$/);
    });
    it('a missing file', () => {
      expectOneLineError(cli('generate', '--model', join(dir, 'nope.bin')), /^wafermesh generate: checkpoint .*nope\.bin does not exist/);
    });
    it('a prompt longer than the context', () => {
      expectOneLineError(
        cli('generate', '--model', gqaPath, '--tokenizer', tokPath, '--prompt', 'x'.repeat(60)),
        /^wafermesh generate: the prompt is \d+ tokens with BOS but the context \(seq_len\) is 48/,
      );
    });
    it('a prompt without a tokenizer', () => {
      expectOneLineError(cli('generate', '--model', 'stories260K', '--prompt', 'Once'), /^wafermesh generate: a prompt needs a tokenizer/);
    });
    it('a tokenizer of the wrong vocabulary', () => {
      expectOneLineError(cli('generate', '--tokenizer', tokPath), /has 300 tokens but the model's vocabulary has 512/);
    });
    it('nonsense options', () => {
      expectOneLineError(cli('generate', '--tokens', 'many'), /--tokens many is not a whole number/);
      expectOneLineError(cli('generate', '--temperature', '-1'), /^wafermesh generate: --temperature -1 must be 0 or more \(0 = greedy\)$/);
      expectOneLineError(cli('generate', '--engine', 'tpu'), /--engine tpu is not one of cpu, gpu, mesh/);
      expectOneLineError(cli('generate', '--frobnicate'), /^wafermesh generate: unknown option --frobnicate; see `wafermesh generate --help`$/);
      expectOneLineError(cli('dance'), /unknown command "dance"/);
    });
  });
});

describe('wafermesh info', () => {
  it('names the adapter and driver', () => {
    const r = cli('info', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.driver.name).toMatch(/lavapipe|swiftshader|hardware|user|system/);
    expect(out.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(Array.isArray(out.features)).toBe(true);
    // The largest mesh: a row of 48 KB cores in one buffer; on a CPU driver, as many as host memory
    // holds twice (the emulated SRAM and the host's copy it is loaded from).
    const bytes = Math.min(out.limits.maxStorageBufferBindingSize, out.limits.maxBufferSize);
    expect(out.largest_mesh.widest_row).toBe(Math.floor(bytes / 49152));
    expect(out.largest_mesh.bytes_per_buffer).toBe(bytes);
    if (out.driver.software) {
      expect(out.largest_mesh.cores).toBe(Math.floor(totalmem() / (2 * 49152)));
      expect(out.largest_mesh.square).toMatch(/^\d+x\d+$/);
    } else {
      expect(out.largest_mesh.cores).toBeNull();
    }
  });
});

describe('wafermesh fit', () => {
  it('places stories260K on 8x8 48 KB cores and prints the map', () => {
    const r = cli('fit', '--model', 'stories260K', '--mesh', '8x8');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fullest core \(\d,\d\): \d+ of 49152 bytes/);
    expect(r.stdout).toMatch(/fits: yes/);
    expect(r.stdout.split('\n').filter((l) => /^ {2}[0-9#]{8}$/.test(l))).toHaveLength(8);
  });

  it('says stories260K does not fit 2x2 cores of 48 KB, and which mesh would', () => {
    const r = cli('fit', '--model', 'stories260K', '--mesh', '2x2', '--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.fits).toBe(false);
    expect(out.fullest_core.bytes).toBeGreaterThan(49152);
    expect(out.smallest_fitting_mesh).toMatch(/^(\d+)x\1$/);
    expect(out.occupancy).toEqual(['##', '##']);
  });

  it('refuses an absurd mesh in one line', () => {
    expectOneLineError(cli('fit', '--mesh', '0x5'), /^wafermesh fit: --mesh 0x5: each side must be 1…2048 cores$/);
    expectOneLineError(cli('fit', '--mesh', '5x5', '--preset', 'h100'), /^wafermesh fit: --preset h100 is not one of wse-3\b.*; see `wafermesh fit --help`$/);
  });
});

describe('wafermesh generate --engine mesh', () => {
  it('gives the CPU reference\'s ids, with the fabric words and steps measured per token equal to the closed form, and the modelled cycles', () => {
    const mesh = cli('generate', '--model', 'stories260K', '--engine', 'mesh', '--mesh', '8x8', '--tokens', '40', '--json');
    expect(mesh.code, mesh.stderr).toBe(0);
    const out = JSON.parse(mesh.stdout);
    const c = JSON.parse(cli('generate', '--model', 'stories260K', '--engine', 'cpu', '--tokens', '40', '--json').stdout);
    expect(out.engine).toBe('mesh');
    expect(out.ids).toEqual(c.ids);
    // 50 compute passes and 50 fabric phases a token.
    expect(out.mesh.passes_per_token).toBe(100);
    expect(out.mesh.measured_fabric_words_per_token).toBeGreaterThan(0);
    expect(out.mesh.measured_fabric_words_per_token).toBe(out.mesh.modelled_fabric_words_per_token);
    expect(out.mesh.measured_fabric_steps_per_token).toBe(out.mesh.modelled_fabric_steps_per_token);
    expect(out.mesh.fabric_phases_equal_to_model).toBe(true);
    expect(out.mesh.modelled_cycles_per_token).toBeGreaterThan(0);
    expect(out.mesh.modelled_tokens_per_s).toBeCloseTo(1.1e9 / out.mesh.modelled_cycles_per_token, 0);
    expect(out.mesh.sram_peak_bytes_per_core).toBeLessThanOrEqual(49152);
  });

  it('refuses a model that does not fit, an unknown allreduce and an engine it does not have, in one line', () => {
    expectOneLineError(cli('generate', '--model', 'stories260K', '--engine', 'mesh', '--mesh', '2x2'), /^wafermesh generate: .* core \(\d,\d\) needs \d+ bytes .* but has 49152; the smallest 1:1 mesh that fits with the full context is \d+x\d+/);
    expectOneLineError(cli('generate', '--engine', 'mesh', '--allreduce', 'star'), /--allreduce star is not one of chain, ring, ktree/);
    expectOneLineError(cli('generate', '--model', 'stories260K', '--engine', 'fabric'), /--engine fabric is not one of cpu, gpu, mesh/);
  });

  it('trace --json: the fabric decode step by step, compute passes and fabric phases, its cycles the sum of theirs', () => {
    const r = cli('trace', '--model', 'stories260K', '--mesh', '8x8', '--pos', '3', '--json');
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout);
    const kinds = t.phases.map((p: { kind: string }) => p.kind);
    expect(kinds.filter((k: string) => k === 'transfer')).toHaveLength(50);
    expect(kinds.filter((k: string) => k === 'compute')).toHaveLength(50);
    expect(t.phases.reduce((a: number, p: { cycles: number }) => a + p.cycles, 0)).toBeCloseTo(t.cycles, 6);
    const b = t.breakdown_cycles;
    expect(b.compute + b.hops + b.serialisation + b.ramps).toBeCloseTo(t.cycles, 6);
    expect(b.ramps).toBeGreaterThan(0);
    // Colours at once within the preset's 24, per phase and over the token; routes per core counted.
    expect(t.routing.colours).toBe(24);
    expect(t.routing.max_colours_at_once).toBeGreaterThan(0);
    expect(t.routing.max_colours_at_once).toBeLessThanOrEqual(24);
    expect(t.routing.max_routes_per_core).toBeGreaterThan(0);
    const fabricPhases = t.phases.filter((p: { kind: string }) => p.kind === 'transfer');
    expect(Math.max(...fabricPhases.map((p: { colours_at_once: number }) => p.colours_at_once))).toBe(t.routing.max_colours_at_once);
    expect(t.phases.find((p: { name: string }) => p.name === 'L0 q, k, v: reduce-scatter and gather').steps).toBeGreaterThan(0);
  });

  it('trace --measure --json: every phase modelled beside measured, equal link by link, no non-neighbour access', () => {
    const r = cli('trace', '--model', 'stories260K', '--mesh', '8x8', '--pos', '9', '--measure', '--json');
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout);
    // The embedding; per layer Σx², q/k/v, scores, column maxima and sums, wo, Σx², w1/w3, w2; Σx²,
    // logits, and the next token's maximum and id.
    expect(t.phases.length).toBe(1 + 9 * 5 + 2 + 2);
    for (const p of t.phases) {
      expect(p.links_equal, p.name).toBe(true);
      expect(p.first_difference).toBeNull();
      expect(p.measured.steps).toBe(p.modelled.steps);
      expect(p.measured.link_words).toBe(p.modelled.link_words);
      expect(p.measured.nonneighbour_accesses).toBe(0);
      // No word waited for a link: one word a register a step where words moved.
      expect(p.measured.max_queue).toBe(p.measured.link_words > 0 ? 1 : 0);
    }
    expect(t.totals.measured.link_words).toBeGreaterThan(0);
    expect(t.totals.measured.max_queue).toBe(1);
  });
});

describe('a mesh whose KV cache holds less than seq_len', () => {
  it('stops at the context it holds, with stop "context", not an error', () => {
    const fit = JSON.parse(cli('fit', '--model', 'stories260K', '--mesh', '5x5', '--json').stdout);
    expect(fit.fits).toBe(true);
    expect(fit.context).toBeLessThan(512);
    const r = cli('generate', '--model', 'stories260K', '--engine', 'mesh', '--mesh', '5x5', '--tokens', '512', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.stop).toBe('context');
    expect(out.ids).toHaveLength(fit.context);
    expect(out.mesh.context).toBe(fit.context);
  });
});

describe('wafermesh predict', () => {
  it('prints tokens/s, the bound and every assumption as JSON', () => {
    const r = cli('predict', '--model', 'llama-3.1-8b', '--hardware', 'h100', '--precision', 'fp8', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tokens_per_s).toBeGreaterThan(0);
    expect(out.ms_per_token).toBeCloseTo(1000 / out.tokens_per_s, 1);
    expect(out.bound).toMatch(/HBM/);
    expect(out.assumptions.length).toBeGreaterThan(3);
    expectOneLineError(cli('predict', '--hardware', 'tpu'), /--hardware tpu is not one of wse-3, .*\bh100\b/);
    expectOneLineError(cli('predict', '--precision', 'int3'), /--precision int3 is not one of/);
  });
});

describe('wafermesh bench', () => {
  it('measures the engines and writes JSON Lines and markdown', () => {
    const json = join(dir, 'bench.jsonl');
    const md = join(dir, 'bench.md');
    const r = cli('bench', '--suite', 'engines', '--engines', 'cpu,gpu,mesh,c', '--tokens', '2', '--repeats', '1', '--json', json, '--md', md);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wafermesh bench — .*commit/m);
    expect(r.stdout).toMatch(/^adapter: /m);
    const rows = readFileSync(json, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => x.engine)).toEqual(['cpu', 'gpu', 'mesh', 'c']);
    for (const x of rows) {
      expect(x.error).toBeUndefined();
      expect(x.tokens_per_s).toBeGreaterThan(0);
    }
    expect(rows[1].offchip_bytes_per_token).toBeGreaterThan(1e6);
    expect(rows[2].fabric_words_per_token).toBeGreaterThan(0);
    expect(rows[2].max_abs_dlogit).toBeLessThan(1e-3);
    expect(readFileSync(md, 'utf8')).toMatch(/\| engines \| mesh \| stories260K \| 8x8 \|/);
  });

  it('runs the C decode on a model given as a checkpoint path', () => {
    // Once failed with ENOENT "…stories260K.bin.bin": the C decode's temporary checkpoint was
    // named after the model's name, which here is a relative path.
    const model = relative(ROOT, STORIES260K_PATH); // ../shared/models/stories260K.bin
    const json = join(dir, 'bench-c.jsonl');
    const r = cliIn(ROOT, 'bench', '--engines', 'c', '--model', model, '--suite', 'engines', '--tokens', '2', '--repeats', '1', '--json', json);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const rows = readFileSync(json, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(1);
    expect(rows[0].error).toBeUndefined();
    expect(rows[0].engine).toBe('c');
    expect(rows[0].model).toBe(model);
    expect(rows[0].tokens_per_s).toBeGreaterThan(0);
  });
});
