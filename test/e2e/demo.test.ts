import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
// Screenshots of each run; the README's copies in docs/screenshots are refreshed from these by hand.
const SHOTS = resolve(ROOT, 'test-output/screenshots');
const CHROMIUM = '/usr/bin/chromium';

let server: PreviewServer;
let browser: Browser;
let noWebgpu: Browser;
let base = '';

/** Chromium without a GPU: SwiftShader's WebGPU, and no traffic to the closed network. */
const ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-angle=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const contexts: { close(): Promise<void> }[] = [];

async function open(query: string, webgpu = true): Promise<{ page: Page; errors: string[] }> {
  // One page at a time: earlier pages are closed so their engines free the CPU.
  while (contexts.length) await contexts.pop()!.close();
  const context = await (webgpu ? browser : noWebgpu).newContext({ viewport: { width: 1280, height: 1000 } });
  contexts.push(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}${query}`);
  return { page, errors };
}

const textOf = (page: Page, engine: string) => page.locator(`[data-testid=generated-text][data-engine=${engine}]`).textContent();

describe('the demo in headless Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash tools/setup.sh\` (it installs Debian's chromium)`);
    // vitest runs with NODE_ENV=test, which would make Vite bundle Lit's development build.
    process.env.NODE_ENV = 'production';
    await build({ root: ROOT, logLevel: 'error', mode: 'production' });
    server = await preview({ root: ROOT, preview: { port: 0, host: '127.0.0.1' }, logLevel: 'error' });
    base = server.resolvedUrls!.local[0];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    // Without the WebGPU flags and with the GPU off, Chromium offers no adapter at all.
    noWebgpu = await chromium.launch({ executablePath: CHROMIUM, args: [...ARGS.filter((a) => !/webgpu|vulkan|angle/i.test(a)), '--disable-gpu'], headless: true });
    mkdirSync(SHOTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await noWebgpu?.close();
    await server?.close();
  });

  it('autoplays from the URL and the wafer pane, on the mesh engine, writes what `generate --engine mesh` writes, its link words measured on the fabric', async () => {
    const q = '?model=wm-stories&prompt=Once%20upon%20a%20time&tokens=24&temperature=0&mesh=8x8&preset=wse-3&allreduce=tree&autoplay=1&speed=8';
    const { page, errors } = await open(q);
    await page.locator('[data-testid=generated-text][data-engine=mesh][data-done=true]').waitFor({ timeout: 120_000 });
    const mesh = await textOf(page, 'mesh');
    const gpu = await textOf(page, 'gpu');
    const cli = spawnSync(process.execPath, [resolve(ROOT, 'bin/wafermesh.mjs'), 'generate', '--engine', 'mesh', '--mesh', '8x8', '--prompt', 'Once upon a time', '--tokens', '24', '--temperature', '0', '--json'], { encoding: 'utf8' });
    const want = JSON.parse(cli.stdout).text;
    expect(mesh).toBe(want);
    expect(gpu).toBe(want);
    expect(await page.locator('[data-testid=wafer-engine]').textContent()).toMatch(/^Mesh engine: words move only between neighbouring cores.*measured/);
    // The last token's figures: counted on the fabric, every phase as the closed form says.
    const figures = await page.locator('[data-testid=wafer-figures]').innerText();
    expect(figures).toMatch(/words moved \(measured\)\s*[\d,]+/);
    expect(figures).toMatch(/phases measured = modelled\s*(\d+) of \1\b/);
    await page.screenshot({ path: resolve(SHOTS, 'race.png'), fullPage: true });
    await page.locator('wm-wafer-view').screenshot({ path: resolve(SHOTS, 'wafer.png') });
    await page.locator('wm-gpu-view').screenshot({ path: resolve(SHOTS, 'gpu.png') });
    expect(await page.locator('[data-testid=no-webgpu]').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('steps single phases, then tokens, then plays and pauses', async () => {
    const { page, errors } = await open('?model=wm-stories&prompt=Once&tokens=8&mesh=8x8');
    const stepPhase = page.locator('[data-testid=step-phase]');
    await expect.poll(() => stepPhase.isEnabled(), { timeout: 60_000 }).toBe(true);
    const label = page.locator('[data-testid=phase-label]');
    const figures = page.locator('[data-testid=wafer-figures]');
    // The fabric's steps: a compute pass, then a fabric phase with what it moved, measured.
    await stepPhase.click();
    await expect.poll(() => label.textContent(), { timeout: 30_000 }).toMatch(/^phase 1 of \d+ at position 0: embed_load — compute: .*nothing moves on the fabric$/);
    await stepPhase.click();
    await expect.poll(() => label.textContent(), { timeout: 30_000 }).toMatch(/^phase 2 of \d+ at position 0: → embedding: column allreduce — fabric: /);
    expect(await figures.innerText()).toMatch(/words on links \(measured\)\s*[1-9][\d,]*[\s\S]*measured = modelled\s*yes/);
    await page.locator('wm-wafer-view').screenshot({ path: resolve(SHOTS, 'wafer-phase.png') });
    await page.locator('[data-testid=step-token]').click();
    await expect.poll(async () => (await page.locator('[data-testid=generated-text][data-engine=mesh]').getAttribute('data-count')) ?? '0', { timeout: 60_000 }).toBe('1');
    await page.locator('[data-testid=play]').click();
    await page.locator('[data-testid=pause]').click();
    expect(errors).toEqual([]);
  });

  it('says plainly when WebGPU is missing and still decodes with the CPU reference', async () => {
    const { page, errors } = await open('?model=wm-stories&prompt=Once&tokens=6&autoplay=1&speed=8', false);
    await page.locator('[data-testid=no-webgpu]').waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-testid=no-webgpu]').textContent()).toMatch(/WebGPU is not available here \(no-webgpu: /);
    expect(await page.locator('[data-testid=wafer-engine]').textContent()).toMatch(/closed form \(modelled\) — without WebGPU the CPU reference decodes this pane/);
    await page.locator('[data-testid=generated-text][data-engine=mesh][data-done=true]').waitFor({ timeout: 60_000 });
    expect((await textOf(page, 'mesh'))!.length).toBeGreaterThan(5);
    expect(errors).toEqual([]);
  });

  it('components render from their properties alone (fixtures in the real browser)', async () => {
    const { page, errors } = await open('?model=random:dim=32,hidden=64,layers=1,heads=2,kv=1,vocab=64,seq=32&prompt=&tokens=2&mesh=2x2');
    await page.locator('wm-app').waitFor();
    const text = await page.evaluate(async () => {
      const bars = document.createElement('wm-time-bars');
      bars.parts = { compute: 1e-6, 'HBM: weights': 3e-6 };
      const fit = document.createElement('wm-fit-report');
      fit.fit = {
        fits: false, width: 2, height: 1, sramBytes: 1024, weightWords: Float32Array.of(300, 300), kvWords: Float32Array.of(0, 0),
        scratchWords: Float32Array.of(10, 10), context: 0, seqLen: 16, fullest: { row: 0, col: 1, bytes: 1240 }, smallestFittingMesh: '4x2', error: 'does-not-fit: test',
      };
      document.body.append(bars, fit);
      await Promise.all([bars.updateComplete, fit.updateComplete]);
      return [bars.shadowRoot!.textContent!.replace(/\s+/g, ' '), fit.shadowRoot!.textContent!.replace(/\s+/g, ' ')];
    });
    expect(text[0]).toMatch(/compute\s*1\.00 µs.*HBM: weights\s*3\.00 µs/);
    expect(text[1]).toMatch(/does not fit on 2×1 cores of 1 KB: weights 117\.2%.*smallest mesh of this shape with the full context: 4x2\..*does-not-fit: test/);
    expect(errors).toEqual([]);
  });

  it('draws a 64×64 wafer (frame rate measured, not asserted)', async () => {
    const { page } = await open('?model=wm-stories&prompt=Once&tokens=4&mesh=64x64');
    const step = page.locator('[data-testid=step-token]');
    await expect.poll(() => step.isEnabled(), { timeout: 120_000 }).toBe(true);
    await step.click();
    await expect.poll(async () => (await page.locator('[data-testid=generated-text][data-engine=mesh]').getAttribute('data-count')) ?? '0', { timeout: 120_000 }).toBe('1');
    const fps = await page.evaluate(
      () =>
        new Promise<number>((done) => {
          let n = 0;
          const t0 = performance.now();
          const f = () => (performance.now() - t0 < 2000 ? (n++, requestAnimationFrame(f)) : done((1000 * n) / (performance.now() - t0)));
          requestAnimationFrame(f);
        }),
    );
    const engine = (await page.locator('[data-testid=wafer-engine]').textContent()) ?? '';
    console.log(`wafer view, 64x64 cores with a token's traffic animated: ${fps.toFixed(1)} frames/s in headless Chromium on SwiftShader (${engine.startsWith('Mesh engine') ? 'mesh engine, measured on the fabric' : 'CPU stand-in, modelled'})`);
    await page.locator('wm-wafer-view').screenshot({ path: resolve(SHOTS, 'wafer-64x64.png') });
    expect(fps).toBeGreaterThan(0);
  });

  it('shows bad URL values and a model that does not fit as messages, and stays usable', async () => {
    const { page } = await open('?mesh=0x0&preset=tpu');
    await expect.poll(() => page.locator('[data-testid=url-message]').count()).toBe(2);
    const { page: p2 } = await open('?model=wm-stories&mesh=2x2');
    await p2.locator('[data-testid=fit-error]').waitFor({ timeout: 60_000 });
    expect(await p2.locator('[data-testid=fit-error]').textContent()).toMatch(/does-not-fit: the model does not fit a 2x2 mesh/);
    // Still usable: choose a mesh that fits and load.
    await p2.locator('select[name=mesh]').selectOption('8x8');
    await p2.locator('[data-testid=apply]').click();
    await expect.poll(() => p2.locator('[data-testid=fit-report]').innerText(), { timeout: 60_000 }).toMatch(/^fits on 8×8 cores/);
    expect(p2.url()).toMatch(/mesh=8x8/);
  });
});
