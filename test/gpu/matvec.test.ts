import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { GpuResources } from '../../src/gpu/resources.ts';
import { gpuMatvec } from '../../src/gpu/kernels.ts';
import { compileShader, SHADERS } from '../../src/gpu/shaders.ts';
import { matvec } from '../../src/model/ops.ts';
import { Rng } from '../../src/model/rng.ts';
import { checkTensor } from '../helpers/check.ts';
import { testGpu } from '../helpers/gpu.ts';

function randomArray(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => rng.nextNormal());
}

describe('matvec kernel on the software driver', () => {
  afterAll(async () => (await testGpu()).destroy());

  it('has a real adapter (not skipped)', async () => {
    const ctx = await testGpu();
    console.log(`GPU tests run on: ${ctx.adapterName} — ${ctx.driver.detail}`);
    expect(ctx.device).toBeDefined();
  });

  it('matches the CPU reference on stories260K-sized shapes', async () => {
    const res = new GpuResources(await testGpu());
    const rng = new Rng(1);
    for (const [n, d] of [
      [64, 64],
      [64, 172],
      [172, 64],
      [64, 512],
    ]) {
      const w = randomArray(n * d, rng);
      const x = randomArray(n, rng);
      const want = new Float32Array(d);
      matvec(want, x, w, n, d);
      checkTensor(`matvec ${d}x${n}`, await gpuMatvec(res, w, x, n, d), want, { atol: 1e-4, rtol: 1e-4 });
      expect(res.liveBuffers, 'buffers left behind by a matvec').toBe(0);
    }
    res.dispose();
  });

  it('matches the CPU reference on random shapes (property)', async () => {
    const res = new GpuResources(await testGpu());
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), fc.integer(), async (n, d, seed) => {
        const rng = new Rng(seed);
        const w = randomArray(n * d, rng);
        const x = randomArray(n, rng);
        const want = new Float32Array(d);
        matvec(want, x, w, n, d);
        checkTensor(`matvec ${d}x${n}`, await gpuMatvec(res, w, x, n, d), want, { atol: 1e-4, rtol: 1e-4 });
      }),
      { numRuns: 25, seed: 20261126 },
    );
    res.dispose();
  });

  it('caches pipelines per override constants and frees every buffer on dispose', async () => {
    const res = new GpuResources(await testGpu());
    const a = await res.pipeline('matvec', { N: 8, D: 8 });
    const b = await res.pipeline('matvec', { D: 8, N: 8 });
    const c = await res.pipeline('matvec', { N: 8, D: 16 });
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    res.storage('a', 64);
    res.storage('b', new Float32Array(4));
    expect(res.liveBuffers).toBe(2);
    res.dispose();
    expect(res.liveBuffers).toBe(0);
    expect(() => res.storage('c', 4)).toThrow(/disposed/);
  });

  it('reports a WGSL compile error with file:line:column and the source line', async () => {
    const ctx = await testGpu();
    const code = SHADERS.matvec.replace('out[row] = (s0 + s1) + (s2 + s3);', 'out[row] = s0 + undefined_name;');
    const line = code.split('\n').findIndex((l) => l.includes('undefined_name')) + 1;
    await expect(compileShader(ctx.device, 'matvec', code)).rejects.toThrow(
      new RegExp(`^shader-compile: shaders/matvec\\.wgsl:${line}:\\d+: .*undefined_name.* — \`out\\[row\\] = s0 \\+ undefined_name;\`$`),
    );
    ctx.check(); // reported once, by compileShader: nothing is left uncaptured
    await expect(compileShader(ctx.device, 'matvec')).resolves.toBeDefined();
  });

  it('surfaces an uncaptured GPU error instead of swallowing it', async () => {
    const { nodeGpu } = await import('../../src/gpu/node.ts');
    const ctx = await nodeGpu();
    ctx.device.createBuffer({ label: 'too big', size: 1, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
    await ctx.device.queue.onSubmittedWorkDone();
    await new Promise((r) => setTimeout(r, 50));
    expect(() => ctx.check()).toThrow(/gpu-error: GPU error: .*/);
    ctx.destroy();
  });
});
