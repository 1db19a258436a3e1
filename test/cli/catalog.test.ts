import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG, modelEntry, type HardwarePreset } from '../../src/catalog.ts';
import { commandHelp } from '../../src/cli/main.ts';
import { SUITES } from '../../src/cli/bench/suite.ts';
import { predict } from '../../src/cost/predict.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';

/** The line under `--name` in a command's help that lists its choices, or undefined. */
function choicesOf(help: string, option: string): string | undefined {
  const lines = help.split('\n');
  const i = lines.findIndex((l) => l.trimStart().startsWith(`--${option} `));
  return i >= 0 && /^\s+one of: /.test(lines[i + 1] ?? '') ? lines[i + 1].trim() : undefined;
}

describe('the CLI reads its choices from the catalog when called', () => {
  const wse3 = CATALOG.hardware.find((h) => h.id === 'wse-3')!;
  const extra: HardwarePreset = { ...wse3, id: 'wse-test', description: "a copy of wse-3's figures (a test entry)" };
  const config = modelEntry('llama-3.1-8b')!.config!;

  it('does not list the extra preset before it is added', () => {
    expect(choicesOf(commandHelp('fit'), 'preset')).not.toMatch(/wse-test/);
  });

  describe('with one extra wafer preset pushed into CATALOG.hardware', () => {
    beforeAll(() => {
      CATALOG.hardware.push(extra);
    });
    afterAll(() => {
      CATALOG.hardware.splice(CATALOG.hardware.indexOf(extra), 1);
    });

    it("lists it in fit's help, under --preset", () => {
      expect(choicesOf(commandHelp('fit'), 'preset')).toMatch(/^one of: (.*, )?wse-3, (.*, )?wse-test(, |$)/);
    });

    it("lists it for predict --hardware (any kind) but not for bench's --gpu-preset", () => {
      expect(choicesOf(commandHelp('predict'), 'hardware')).toMatch(/\bwse-test\b.*\bh100\b|\bh100\b.*\bwse-test\b/);
      expect(choicesOf(commandHelp('bench'), 'preset')).toMatch(/\bwse-test\b/);
      expect(choicesOf(commandHelp('bench'), 'gpu-preset')).not.toMatch(/wse-/);
    });

    it('predict accepts it', () => {
      const p = predict('llama-3.1-8b', config, 'wse-test', { precision: 'fp16' });
      expect(p.hardware).toMatch(/wse-test/);
      expect(p.tokens_per_s).toBeGreaterThan(0);
      expect(p.ms_per_token).toBeCloseTo(1000 / p.tokens_per_s, 1);
    });

    it('meshFromPreset makes an 8x8 mesh of it', () => {
      expect(meshFromPreset('wse-test', 8, 8)).toEqual(meshFromPreset('wse-3', 8, 8));
    });
  });

  it('forgets it once removed', () => {
    expect(CATALOG.hardware.some((h) => h.id === 'wse-test')).toBe(false);
    expect(choicesOf(commandHelp('fit'), 'preset')).not.toMatch(/wse-test/);
    expect(() => meshFromPreset('wse-test', 8, 8)).toThrow(/mesh preset "wse-test" is unknown/);
  });
});

describe('wafermesh bench --help', () => {
  it('offers only the suites bench runs', () => {
    const usage = /--suite ([\w|]+)/.exec(commandHelp('bench'))![1];
    expect(usage.split('|')).toEqual([...SUITES]);
    expect(usage).not.toMatch(/quick/);
  });
});

describe('the catalog and the code agree', () => {
  it('every allreduce the catalog offers is one the code implements, and no other', async () => {
    const { allreduceIds } = await import('../../src/catalog.ts');
    const { ALLREDUCE_ALGORITHMS } = await import('../../src/mesh/collectives.ts');
    expect([...allreduceIds()].sort()).toEqual([...ALLREDUCE_ALGORITHMS].sort());
  });
});

describe('the published model shapes', () => {
  it('give the parameter counts their makers publish (within 1%)', async () => {
    const { parameterCount } = await import('../../src/model/config.ts');
    // Published sizes: Llama 2 7B 6.74B, 13B 13.0B, 70B 69.0B; Code Llama 34B 33.7B; Llama 3 8B 8.03B;
    // Llama 3.2 1B 1.24B; Llama 3.1/3.3 70B 70.6B; Qwen2-72B 72.7B (less its 0.01% of q/k/v biases).
    const published: Record<string, number> = {
      'llama-2-7b': 6.74e9,
      'llama-2-13b': 13.0e9,
      'llama-2-70b': 68.98e9,
      'codellama-34b': 33.74e9,
      'llama-3-8b': 8.03e9,
      'llama-3.1-8b': 8.03e9,
      'llama-3.2-1b': 1.236e9,
      'llama-3.1-70b': 70.55e9,
      'llama-3.3-70b': 70.55e9,
      'qwen2-72b': 72.7e9,
    };
    for (const [id, n] of Object.entries(published)) {
      const c = modelEntry(id)!.config!;
      expect(Math.abs(parameterCount(c) / n - 1), `${id}: ${parameterCount(c)} against ${n}`).toBeLessThan(0.01);
    }
  });
});

describe('wafermesh predict --help', () => {
  it('describes every option, the speculative and validation ones included, and lists every kind of preset', () => {
    const help = commandHelp('predict');
    for (const opt of ['validate', 'draft', 'acceptance', 'draft-tokens', 'cores', 'chips', 'json']) expect(help).toMatch(new RegExp(`--${opt} .*\\S{3,}`));
    expect(choicesOf(help, 'hardware')).toMatch(/wse-2, .*h100, h200, b200, .*mi300x, trainium2/);
  });
});
