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

// axe-core (a dev dependency) checks each page; serious and critical violations fail the test.
const AXE = resolve(ROOT, 'node_modules/axe-core/axe.min.js');

/** Serious or critical accessibility violations on the page, one line each (axe-core). */
async function axeProblems(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (c: Document, o: object) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
  });
}

/** The CLI's JSON for a command. */
function cliJson(...args: string[]) {
  const r = spawnSync(process.execPath, [resolve(ROOT, 'bin/wafermesh.mjs'), ...args, '--json'], { encoding: 'utf8', cwd: ROOT });
  return JSON.parse(r.stdout);
}

/** A lesson's figure as shown (its raw value), by name.field. */
const figure = (page: Page, name: string) => page.locator(`[data-testid=lesson] [data-figure="${name}"]`).first().getAttribute('data-raw');

describe('the demo in headless Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash tools/setup.sh\` (it installs Debian's chromium)`);
    if (!existsSync(AXE)) throw new Error(`${AXE} is missing: the accessibility check needs axe-core (npm install --save-dev axe-core)`);
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

  it('autoplays from the URL and races: the wafer pane, on the mesh engine, writes what `generate --engine mesh` writes, finishes while the GPU has shown under half, and the GPU then finishes at its own modelled pace', async () => {
    const q = '?model=wm-stories&prompt=Once%20upon%20a%20time&tokens=24&temperature=0&mesh=8x8&preset=wse-3&allreduce=tree&autoplay=1';
    const { page, errors } = await open(q);
    const meshDone = page.locator('[data-testid=generated-text][data-engine=mesh][data-done=true]');
    await meshDone.waitFor({ timeout: 150_000 });
    const atWaferFinish = await page.evaluate(() => {
      const app = document.querySelector('wm-app')!.shadowRoot!;
      const pane = (e: string) => [...app.querySelectorAll('wm-race-pane')].map((p) => p.shadowRoot!.querySelector(`[data-testid=generated-text][data-engine=${e}]`)).find(Boolean) as HTMLElement;
      return { mesh: Number(pane('mesh').dataset.count), meshTotal: Number(pane('mesh').dataset.total), gpu: Number(pane('gpu').dataset.count), t: performance.now() };
    });
    expect(atWaferFinish.mesh).toBe(atWaferFinish.meshTotal);
    expect(atWaferFinish.gpu).toBeLessThan(atWaferFinish.meshTotal / 2);
    // The README's hero: the GPU a third of the way, the wafer long done.
    await expect.poll(async () => Number((await page.locator('[data-testid=generated-text][data-engine=gpu]').getAttribute('data-count')) ?? 0), { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(8);
    await page.screenshot({ path: resolve(SHOTS, 'race.png') });
    // The scale is on screen, and the slower pane takes 10-60 s of it at 1x.
    const clock = page.locator('[data-testid=race-clock]');
    expect(await page.locator('[data-testid=race-scale]').innerText()).toMatch(/^1 s on screen = [\d.]+ (ms|µs|ns|s) of modelled time \([\d,.]+× slower than real time\)$/);
    await page.locator('[data-testid=generated-text][data-engine=gpu][data-done=true]').waitFor({ timeout: 90_000 });
    const gpuSeconds = (await page.evaluate(() => performance.now())) / 1000 - atWaferFinish.t / 1000;
    const scale = Number(await clock.getAttribute('data-scale'));
    const finishMesh = Number(await clock.getAttribute('data-finish-mesh'));
    const finishGpu = Number(await clock.getAttribute('data-finish-gpu'));
    // The GPU's modelled time on the race clock: 10 s at 1x for 24 tokens; frames are at most 0.1 s of clock, so a slow page runs it slower, never faster.
    expect(finishGpu / scale).toBeCloseTo(10, 3);
    expect(gpuSeconds).toBeGreaterThan(7);
    expect(gpuSeconds).toBeLessThan(60);
    // The finish line states the modelled ratio, and it is the modelled times' ratio.
    const summary = page.locator('[data-testid=race-summary]');
    expect(Number(await summary.getAttribute('data-ratio'))).toBeCloseTo(finishGpu / finishMesh, 6);
    expect(finishGpu / finishMesh).toBeGreaterThan(100);
    expect(await summary.innerText()).toMatch(/^Finish: the wafer in [\d.]+ µs, the GPU in [\d.]+ ms \(modelled\): the wafer finished [\d,]+× sooner\.$/);
    expect(await page.locator('wm-race-pane[machine=gpu] >> [data-testid=pane-note]').innerText()).toMatch(/^toy-gpu: an H100 scaled down 16,000× /);
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
    await page.screenshot({ path: resolve(SHOTS, 'race-finished.png'), fullPage: true });
    await page.locator('wm-wafer-view').screenshot({ path: resolve(SHOTS, 'wafer.png') });
    await page.locator('wm-gpu-view').screenshot({ path: resolve(SHOTS, 'gpu.png') });
    expect(await page.locator('[data-testid=no-webgpu]').count()).toBe(0);
    expect(await page.locator('[data-testid=url-message]').count()).toBe(0);
    expect(await axeProblems(page)).toEqual([]);
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
    // The transformer block lights where the phase sits.
    expect(await page.locator('[data-testid=block-diagram] li.on').getAttribute('data-node')).toBe('embed');
    await page.locator('wm-wafer-view').screenshot({ path: resolve(SHOTS, 'wafer-phase.png') });
    await page.locator('[data-testid=step-token]').click();
    await expect.poll(async () => (await page.locator('[data-testid=generated-text][data-engine=mesh]').getAttribute('data-count')) ?? '0', { timeout: 60_000 }).toBe('1');
    // Bug: "step one token" after "step one phase" left the phase's caption; it now says the token.
    expect(await label.textContent()).toMatch(/^token 1 at position \d+: all \d+ phases/);
    expect(await page.locator('[data-testid=block-diagram] li.on').count()).toBe(0);
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
    // Level of detail: links aggregated into heat rings, the SRAM colours still drawn.
    expect(await page.locator('[data-testid=wafer-canvas]').getAttribute('data-detail')).toBe('heat');
    const engine = (await page.locator('[data-testid=wafer-engine]').textContent()) ?? '';
    console.log(`wafer view, 64x64 cores with a token's traffic drawn as heat rings: ${fps.toFixed(1)} frames/s in headless Chromium on SwiftShader (${engine.startsWith('Mesh engine') ? 'mesh engine, measured on the fabric' : 'CPU stand-in, modelled'})`);
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

  it('races at real scale: replayed text at predict\'s Llama-3.1-8B speeds, WSE-3 against H100, in real time', async () => {
    const { page, errors } = await open('?race=llama-8b&autoplay=1');
    const mesh = page.locator('[data-testid=generated-text][data-engine=mesh]');
    await expect.poll(async () => Number((await mesh.getAttribute('data-count')) ?? 0), { timeout: 150_000, interval: 50 }).toBeGreaterThan(0);
    await page.waitForTimeout(2000);
    const counts = await page.evaluate(() => {
      const app = document.querySelector('wm-app')!.shadowRoot!;
      const c = (e: string) => Number(([...app.querySelectorAll('wm-race-pane')].map((p) => p.shadowRoot!.querySelector(`[data-testid=generated-text][data-engine=${e}]`)).find(Boolean) as HTMLElement).dataset.count);
      return { mesh: c('mesh'), gpu: c('gpu'), scale: Number((app.querySelector('[data-testid=race-clock]') as HTMLElement).dataset.scale) };
    });
    const wafer = cliJson('predict', '--model', 'llama-3.1-8b', '--hardware', 'wse-3');
    const h100 = cliJson('predict', '--model', 'llama-3.1-8b', '--hardware', 'h100');
    const want = wafer.tokens_per_s / h100.tokens_per_s;
    console.log(`real-scale race after about 2 s: wafer ${counts.mesh} tokens, GPU ${counts.gpu} (ratio ${(counts.mesh / counts.gpu).toFixed(2)}; predict ${want.toFixed(2)})`);
    expect(counts.scale).toBe(1);
    expect(counts.gpu).toBeGreaterThan(50);
    expect(Math.abs(counts.mesh / counts.gpu / want - 1)).toBeLessThan(0.2);
    expect(await page.locator('wm-race-pane[machine=mesh] >> [data-testid=pane-note]').innerText()).toMatch(/^Llama-3\.1-8B on one WSE-3\. Pre-generated text: /);
    expect(await page.locator('[data-testid=race-scale]').innerText()).toMatch(/of real time \(real time\)/);
    await page.screenshot({ path: resolve(SHOTS, 'race-real-scale.png') });
    // The seed's comparison, labelled published.
    await page.locator('[data-testid=race-mode]').selectOption('seed');
    await page.locator('[data-testid=apply]').click();
    await page.locator('wm-race-pane[machine=gpu] >> text=published tokens/s').waitFor({ timeout: 60_000 });
    expect(page.url()).toMatch(/race=seed/);
    expect(errors).toEqual([]);
  });

  it('walks the lessons: each opens from its URL, quotes the numbers the CLI prints, runs its try-this step, checks its question both ways, and passes the accessibility check', async () => {
    const t0 = Date.now();
    const mark = (what: string) => console.log(`lessons walk: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const { page, errors } = await open('?lesson=1');
    const lesson = page.locator('[data-testid=lesson]');
    const waitFigures = async () => {
      // Every figure not waiting for a live run is filled in.
      await expect.poll(async () => page.locator('[data-testid=lesson-body] [data-figure]:not([data-figure^=live]):not([data-figure^=calc])[data-raw=""]').count(), { timeout: 120_000 }).toBe(0);
    };
    const check = async (choice: number) => {
      await page.locator('[data-testid=lesson-choice]').nth(choice).check();
      await page.locator('[data-testid=lesson-check]').click();
      const v = page.locator('[data-testid=lesson-verdict]:not([data-correct=""])');
      await v.waitFor({ timeout: 120_000 });
      return { correct: await v.getAttribute('data-correct'), answer: Number(await v.getAttribute('data-answer')) };
    };
    // Lesson 1: the GPU's bytes per token; the check needs a decoded token and runs one.
    await expect.poll(() => lesson.getAttribute('data-lesson'), { timeout: 60_000 }).toBe('1');
    expect(await page.locator('[data-testid=lesson-title]').innerText()).toBe('Why decode is memory-bound');
    await waitFigures();
    const right = await check(1);
    expect(right).toEqual({ correct: 'true', answer: 1 });
    expect(await page.locator('[data-testid=lesson-verdict]').innerText()).toMatch(/^Right\. The token just decoded streamed [\d.]+ MB/);
    const wrong = await check(2);
    expect(wrong).toEqual({ correct: 'false', answer: 1 });
    expect(await page.locator('[data-testid=lesson-verdict]').innerText()).toMatch(/^Not quite: the live run says “About all of the weights, once”\./);
    await page.screenshot({ path: resolve(SHOTS, 'lesson-1.png'), fullPage: true });
    mark('lesson 1 checked');
    expect(await axeProblems(page)).toEqual([]);

    // Lesson 2 by "next": fit's numbers as the CLI prints them; the question's check from the figures; its try-this loads the smaller mesh.
    await page.locator('[data-testid=lesson-next]').click();
    await expect.poll(() => lesson.getAttribute('data-lesson')).toBe('2');
    expect(page.url()).toMatch(/lesson=2/);
    await waitFigures();
    const fit = cliJson('fit', '--model', 'wm-stories', '--mesh', '8x8', '--preset', 'wse-3');
    expect(Number(await figure(page, 'fit.fullestBytes'))).toBe(fit.fullest_core.bytes);
    expect(Number(await figure(page, 'fit.totalWeightBytes'))).toBe(fit.total_weight_bytes);
    expect(Number(await figure(page, 'fit.cores'))).toBe(64);
    const l8 = cliJson('predict', '--model', 'llama-3.1-8b', '--hardware', 'wse-3');
    // predict rounds to four significant figures: the page's and the CLI's agree to that (the page runs in Chromium's V8).
    expect(Math.abs(Number(await figure(page, 'l8wse.tokensPerS')) / l8.tokens_per_s - 1)).toBeLessThan(1e-3);
    expect(await check(2)).toEqual({ correct: 'true', answer: 2 });
    expect((await check(0)).correct).toBe('false');
    expect(await axeProblems(page)).toEqual([]);
    // Its try-this loads the smaller mesh (the fit report's refusal itself is tested below, on 2x2; its search for a mesh that fits is slow).
    await page.locator('[data-testid=lesson-try]').click();
    await expect.poll(() => page.url(), { timeout: 30_000 }).toMatch(/mesh=4x4/);
    await expect.poll(() => page.locator('select[name=mesh]').inputValue()).toBe('4x4');

    mark('lesson 2 tried');
    // Lesson 3 opened from its URL with another mesh: that mesh's numbers, as `trace` prints them.
    const { page: p3, errors: e3 } = await open('?lesson=3&mesh=16x16');
    await expect.poll(() => p3.locator('[data-testid=lesson]').getAttribute('data-lesson'), { timeout: 60_000 }).toBe('3');
    await expect.poll(async () => p3.locator('[data-testid=lesson-body] [data-figure]:not([data-figure^=live])[data-raw=""]').count(), { timeout: 120_000 }).toBe(0);
    const t16 = cliJson('trace', '--model', 'wm-stories', '--mesh', '16x16', '--preset', 'wse-3', '--allreduce', 'ktree');
    expect(Number(await figure(p3, 'big.cores'))).toBe(1024);
    expect(Number(await figure(p3, 'trace.cycles'))).toBe(t16.cycles);
    expect(Number(await figure(p3, 'trace.fabricWords'))).toBe(t16.fabric_words);
    expect(Number(await figure(p3, 'trace.hopCycles'))).toBe(t16.breakdown_cycles.hops);
    // Its try-this steps one phase on the wafer.
    await expect.poll(() => p3.locator('[data-testid=lesson-try]').isEnabled(), { timeout: 120_000 }).toBe(true);
    await p3.locator('[data-testid=lesson-try]').click();
    await expect.poll(() => p3.locator('[data-testid=phase-label]').textContent(), { timeout: 60_000 }).toMatch(/^phase 1 of \d+/);
    expect(await axeProblems(p3)).toEqual([]);
    expect(e3).toEqual([]);

    // Lessons 4 to 8, each from its URL: title, numbers filled in, the question answerable, the next link.
    const titles: string[] = [];
    for (let n = 4; n <= 8; n++) {
      const { page: p, errors: e } = await open(`?lesson=${n}&tokens=8`);
      const l = p.locator('[data-testid=lesson]');
      await expect.poll(() => l.getAttribute('data-lesson'), { timeout: 60_000 }).toBe(String(n));
      titles.push(await p.locator('[data-testid=lesson-title]').innerText());
      await expect.poll(async () => p.locator('[data-testid=lesson-body] [data-figure]:not([data-figure^=live]):not([data-figure^=calc])[data-raw=""]').count(), { timeout: 150_000 }).toBe(0);
      if (n === 7) {
        const h = cliJson('predict', '--model', 'llama-3.1-70b', '--hardware', 'h100', '--chips', '8', '--precision', 'fp8');
        await expect.poll(async () => Math.abs(Number(await p.locator('[data-testid=lesson] [data-figure="h70.tokensPerS"]').first().getAttribute('data-raw')) / h.tokens_per_s - 1), { timeout: 60_000 }).toBeLessThan(1e-3);
        expect(p.url()).toMatch(/race=llama-8b/);
      }
      // Its try-this step runs.
      await expect.poll(() => p.locator('[data-testid=lesson-try]').isEnabled(), { timeout: 120_000 }).toBe(true);
      await expect.poll(() => p.locator('[data-testid=play]').isEnabled(), { timeout: 120_000 }).toBe(true);
      await p.locator('[data-testid=lesson-try]').click();
      if (n === 4) await expect.poll(() => p.url(), { timeout: 30_000 }).toMatch(/allreduce=ring/);
      else await expect.poll(async () => Number((await p.locator('[data-testid=generated-text][data-engine=mesh]').getAttribute('data-count')) ?? 0), { timeout: 150_000 }).toBeGreaterThan(0);
      await p.locator('[data-testid=lesson-choice]').nth(0).check();
      await p.locator('[data-testid=lesson-check]').click();
      await p.locator('[data-testid=lesson-verdict]:not([data-correct=""])').waitFor({ timeout: 150_000 });
      expect(await p.locator('[data-testid=lesson-next]').isEnabled()).toBe(n < 8);
      if (n === 8) await p.screenshot({ path: resolve(SHOTS, 'lesson-8.png'), fullPage: true });
      mark(`lesson ${n} checked`);
      expect(await axeProblems(p)).toEqual([]);
      expect(e).toEqual([]);
    }
    expect(titles).toEqual(['Collectives: chain, ring, K-tree', 'Attention and the KV cache on the wafer', 'Prefill against decode', 'Real scale: 8B and 70B on wafers and GPUs', 'What is measured, what is modelled']);
    expect(errors).toEqual([]);
  }, 420_000);

  it('fixes the bugs a new user met: the random model, a failed upload, a long prompt, a cut URL prompt, the drop zone', async () => {
    const { page, errors } = await open('?tokens=2&prompt=' + 'x'.repeat(2400));
    // A URL prompt cut to 2,000 characters is said; a long unbroken prompt does not widen the page.
    await page.locator('[data-testid=url-message]').first().waitFor();
    expect(await page.locator('[data-testid=url-message]').allTextContents()).toEqual(['prompt is 2,400 characters; it was cut to the first 2,000']);
    // Two thousand characters are more tokens than the context: refused in one line, the prompt still shown in both panes.
    await page.locator('[data-testid=error]').waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-testid=error]').innerText()).toMatch(/^prompt-too-long: /);
    expect((await page.locator('[data-testid=prompt-text]').first().textContent())!.length).toBe(2000);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: resolve(SHOTS, 'narrow.png') });
    await page.setViewportSize({ width: 1280, height: 1000 });
    // Choosing the random model clears the prompt (it has no tokenizer) instead of failing, and it is listed once.
    const model = page.locator('select[name=model]');
    const random = (await model.locator('option').allTextContents()).find((o) => o.startsWith('random:'))!;
    await model.selectOption(random);
    await page.locator('[data-testid=apply]').click();
    await expect.poll(() => page.locator('[data-testid=fit-report]').innerText(), { timeout: 60_000 }).toMatch(/^fits on 8×8/);
    expect(await page.locator('[data-testid=error]').count()).toBe(0);
    expect(await page.locator('input[name=prompt]').inputValue()).toBe('');
    expect(await page.locator('[data-testid=url-message]').allTextContents()).toEqual([expect.stringMatching(/^the prompt was cleared: random:.* has no tokenizer/)]);
    expect((await model.locator('option').allTextContents()).filter((o) => o === random)).toHaveLength(1);
    await page.reload();
    await page.locator('[data-testid=fit-report]').waitFor({ timeout: 60_000 });
    expect((await model.locator('option').allTextContents()).filter((o) => o === random)).toHaveLength(1);
    // The drop zone takes dropped files.
    await page.locator('[data-testid=drop-zone]').evaluate((el) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(1000).fill(7)], 'dropped.bin'));
      el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    expect(await page.locator('[data-testid=file-names]').innerText()).toBe('to load: dropped.bin');
    // A failed upload leaves nothing of the previous model: no fit report, a blank wafer, the caption reset.
    await page.locator('[data-testid=apply]').click();
    await page.locator('[data-testid=error]').waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-testid=error]').innerText()).toMatch(/^bad-checkpoint: /);
    expect(await page.locator('[data-testid=fit-report]').count()).toBe(0);
    expect(await page.locator('[data-testid=phase-label]').textContent()).toBe('the wafer, before the first token');
    const painted = () =>
      page.locator('[data-testid=wafer-canvas]').evaluate((c: HTMLCanvasElement) => {
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
        return n;
      });
    await expect.poll(painted, { timeout: 10_000 }).toBe(0);
    expect(errors).toEqual([]);
  });

  it('races prefill then decode: each pane shows its prefill, then its time to first token, modelled at the preset hardware and measured here', async () => {
    const { page, errors } = await open('?model=wm-stories&prompt=Once%20upon%20a%20time&tokens=8&temperature=0&mesh=8x8&autoplay=1');
    const stage = (m: string) => page.locator(`wm-race-pane[machine=${m}] >> [data-testid=pane-stage]`);
    // The GPU's batched prefill takes a visible share of the race clock before its first token.
    await expect.poll(() => stage('gpu').getAttribute('data-stage'), { timeout: 150_000, interval: 50 }).toBe('prefill');
    expect(await page.locator('wm-race-pane[machine=gpu] >> [data-testid=ttft]').innerText()).toMatch(/^prefill: the whole prompt as one batch, 5 positions; first token due at [\d.]+ (ms|µs) \(modelled\)$/);
    await page.locator('[data-testid=generated-text][data-engine=gpu][data-done=true]').waitFor({ timeout: 120_000 });
    await page.locator('[data-testid=generated-text][data-engine=mesh][data-done=true]').waitFor({ timeout: 30_000 });
    for (const [m, how] of [['mesh', 'wse-3, prefill token by token of 5 positions'], ['gpu', 'toy-gpu, batched prefill of 5 positions']]) {
      expect(await stage(m).getAttribute('data-stage')).toBe('done');
      const ttft = page.locator(`wm-race-pane[machine=${m}] >> [data-testid=ttft]`);
      const text = await ttft.innerText();
      expect(text, m).toMatch(/^time to first token: [\d.]+ (ms|µs|ns) modelled \((.*)\) · [\d.]+ (s|ms|µs) measured here \(wall clock on this driver\)$/);
      expect(text, m).toContain(`modelled (${how})`);
      expect(Number(await ttft.getAttribute('data-modelled-s'))).toBeGreaterThan(0);
      expect(Number(await ttft.getAttribute('data-wall-ms'))).toBeGreaterThan(0);
    }
    // The GPU pane's modelled time to first token is the one `generate --engine gpu` prints.
    const gpu = cliJson('generate', '--engine', 'gpu', '--prompt', 'Once upon a time', '--tokens', '2');
    expect(Number(await page.locator('wm-race-pane[machine=gpu] >> [data-testid=ttft]').getAttribute('data-modelled-s')) * 1e3).toBeCloseTo(gpu.timings.modelled_ttft_ms, 3);
    expect(await page.locator('[data-testid=handoff]').count()).toBe(0);
    await page.screenshot({ path: resolve(SHOTS, 'race-prefill.png') });
    expect(errors).toEqual([]);
  });

  it('runs the disaggregated mode from its URL: the GPU prefills, the KV cache crosses to the wafer (bytes, modelled time, the hand-off\'s fabric phases on the wafer), and the wafer writes what `generate --prefill gpu --decode mesh` writes', async () => {
    const q = '?model=wm-stories&prompt=Once%20upon%20a%20time&tokens=12&temperature=0&mesh=8x8&mode=disaggregated&autoplay=1&speed=4';
    const { page, errors } = await open(q);
    expect(await page.locator('select[name=serving]').inputValue()).toBe('disaggregated');
    const meshStage = page.locator('wm-race-pane[machine=mesh] >> [data-testid=pane-stage]');
    // The race clock waits at the hand-off: the wafer shows its phases, measured.
    await expect.poll(() => meshStage.getAttribute('data-stage'), { timeout: 150_000, interval: 50 }).toBe('handoff');
    const phases = page.locator('[data-testid=handoff-phases]');
    await phases.waitFor({ timeout: 5_000 });
    expect(Number(await phases.getAttribute('data-phases'))).toBeGreaterThan(0);
    expect(await phases.innerText()).toMatch(/lands [\d,]+ words on the west edge cores[\s\S]*equal to the closed form/);
    expect(await page.locator('[data-testid=phase-label]').textContent()).toMatch(/the GPU's, from its prefill — the wafer took the KV cache of 5 positions in at its west edge; the links show the hand-off's \d+ fabric phases?, measured$/);
    await page.locator('wm-wafer-view').screenshot({ path: resolve(SHOTS, 'wafer-handoff.png') });
    await page.locator('[data-testid=generated-text][data-engine=mesh][data-done=true]').waitFor({ timeout: 60_000 });
    const cli = spawnSync(process.execPath, [resolve(ROOT, 'bin/wafermesh.mjs'), 'generate', '--prefill', 'gpu', '--decode', 'mesh', '--mesh', '8x8', '--prompt', 'Once upon a time', '--tokens', '12', '--temperature', '0', '--json'], { encoding: 'utf8' });
    const want = JSON.parse(cli.stdout);
    expect(await textOf(page, 'mesh')).toBe(want.text);
    // The GPU decodes nothing: it prefilled and handed over.
    expect(await textOf(page, 'gpu')).toBe('');
    for (const m of ['gpu', 'mesh']) {
      const h = page.locator(`wm-race-pane[machine=${m}] >> [data-testid=handoff]`);
      expect(Number(await h.getAttribute('data-bytes')), m).toBe(want.timings.kv_handoff_bytes);
      expect(Number(await h.getAttribute('data-modelled-s')) * 1e3, m).toBeCloseTo(want.timings.modelled_kv_handoff_ms, 3);
      expect(await h.innerText()).toMatch(/KV cache handed over: [\d,]+ B[\s\S]*hand-off time \(modelled\): [\d.]+ (µs|ms): [\s\S]*hand-off here \(measured\): [\d.]+ (s|ms|µs) wall clock/);
    }
    const ttft = page.locator('wm-race-pane[machine=mesh] >> [data-testid=ttft]');
    expect(await ttft.innerText()).toMatch(/^time to first token: [\d.]+ ms modelled \(the GPU's batched prefill of 5 positions, then the KV cache's hand-off\) · [\d.]+ (s|ms) measured here/);
    expect(Number(await ttft.getAttribute('data-modelled-s')) * 1e3).toBeCloseTo(want.timings.modelled_ttft_ms, 3);
    expect(await page.locator('[data-testid=ttft-alone]').innerText()).toMatch(/^prefilling alone, token by token, the wafer would have it at [\d.]+ µs \(modelled, not run\)$/);
    expect(await page.locator('[data-testid=race-summary]').innerText()).toMatch(/^Finish \(modelled\): the GPU prefilled in [\d.]+ ms, the KV cache crossed in [\d.]+ µs, the wafer's first token at [\d.]+ ms and its last at [\d.]+ ms\.$/);
    expect(page.url()).toMatch(/mode=disaggregated/);
    await page.screenshot({ path: resolve(SHOTS, 'race-disaggregated.png'), fullPage: true });
    expect(await axeProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  // ---- Faults and leaks: a lost GPU device, a dead worker, many runs in one page.

  /** Calls one of wm-app's test hooks in the page. */
  const hook = (page: Page, name: 'loseDevice' | 'killWorker' | 'crashWorker' | 'health' | 'closeSession') =>
    page.evaluate((n) => (document.querySelector('wm-app') as unknown as { testHooks: Record<string, () => unknown> }).testHooks[n](), name);
  const meshCount = async (page: Page) => Number((await page.locator('[data-testid=generated-text][data-engine=mesh]').getAttribute('data-count')) ?? 0);

  it('recovers from a GPU device lost mid-race: a short notice, no reload, the URL kept, and the text after recovery equals an uninterrupted run\'s', async () => {
    const q = '?model=wm-stories&prompt=Once%20upon%20a%20time&tokens=24&temperature=0&mesh=8x8&preset=wse-3&allreduce=tree';
    const { page, errors } = await open(q);
    const step = page.locator('[data-testid=step-token]');
    await expect.poll(() => step.isEnabled(), { timeout: 120_000 }).toBe(true);
    for (let i = 1; i <= 3; i++) {
      await step.click();
      await expect.poll(() => meshCount(page), { timeout: 60_000 }).toBe(i);
    }
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const url = page.url();
    // Play, and lose the device while the engines decode ahead of the clock.
    await page.locator('[data-testid=play]').click();
    expect(await hook(page, 'loseDevice')).toBe(true);
    const notice = page.locator('[data-testid=gpu-recovered]');
    await notice.waitFor({ timeout: 60_000 });
    await page.locator('[data-testid=generated-text][data-engine=gpu][data-done=true]').waitFor({ timeout: 150_000 });
    expect(await notice.count()).toBe(1);
    const said = await notice.innerText();
    expect(said).toMatch(/^GPU recovered: the GPU device was lost\b.*; the engines were rebuilt on a new device and the race resumed at token \d+\.$/);
    expect(Number(/token (\d+)\.$/.exec(said)![1])).toBeGreaterThanOrEqual(4);
    const cli = spawnSync(process.execPath, [resolve(ROOT, 'bin/wafermesh.mjs'), 'generate', '--engine', 'mesh', '--mesh', '8x8', '--prompt', 'Once upon a time', '--tokens', '24', '--temperature', '0', '--json'], { encoding: 'utf8' });
    const want = JSON.parse(cli.stdout).text;
    expect(await textOf(page, 'mesh')).toBe(want);
    expect(await textOf(page, 'gpu')).toBe(want);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(page.url()).toBe(url);
    expect(await page.locator('[data-testid=error]').count()).toBe(0);
    // Still measured on the fabric after the recovery.
    expect(await page.locator('[data-testid=wafer-figures]').innerText()).toMatch(/phases measured = modelled\s*(\d+) of \1\b/);
    await page.screenshot({ path: resolve(SHOTS, 'gpu-recovered.png') });
    console.log(`device lost mid-race: "${said}"`);
    expect(errors.filter((e) => !/device (was )?(lost|destroyed)|Device is lost|destroyed/i.test(e))).toEqual([]);
  }, 300_000);

  it('notices a dead worker within seconds: a call in flight is rejected, not left hanging; the page says so with a restart, and the URL is intact', async () => {
    const { page, errors } = await open('?model=wm-stories&prompt=Once&tokens=6&mesh=8x8&seed=7');
    const step = page.locator('[data-testid=step-token]');
    await expect.poll(() => step.isEnabled(), { timeout: 120_000 }).toBe(true);
    const url = page.url();
    await hook(page, 'killWorker');
    const t0 = Date.now();
    // A call made to the dead worker: it must settle (rejected), once the page notices.
    const pending = page.evaluate(() =>
      (document.querySelector('wm-app') as unknown as { testHooks: { health: () => Promise<unknown> } }).testHooks.health().then(() => 'answered', (e: Error) => e.message),
    );
    const lost = page.locator('[data-testid=worker-lost]');
    await lost.waitFor({ timeout: 20_000 });
    const seconds = (Date.now() - t0) / 1000;
    console.log(`dead worker noticed after ${seconds.toFixed(1)} s`);
    expect(seconds).toBeLessThan(10);
    expect(await pending).toMatch(/^worker-died: the engines' worker stopped \(it has not answered for 5 s\)/);
    expect(await lost.innerText()).toMatch(/^worker-died: the engines' worker stopped \(it has not answered for 5 s\); your settings are kept in the address bar: restart the engines to load them again/);
    expect(page.url()).toBe(url);
    await page.screenshot({ path: resolve(SHOTS, 'worker-lost.png') });
    // Restart: a new worker loads what the URL says, and decodes.
    await page.locator('[data-testid=restart-worker]').click();
    await expect.poll(() => lost.count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => step.isEnabled(), { timeout: 120_000 }).toBe(true);
    await expect.poll(() => page.locator('[data-testid=fit-report]').innerText(), { timeout: 60_000 }).toMatch(/^fits on 8×8 cores/);
    await step.click();
    await expect.poll(() => meshCount(page), { timeout: 60_000 }).toBe(1);
    expect(page.url()).toBe(url);
    expect(await page.locator('[data-testid=error]').count()).toBe(0);
    expect(errors).toEqual([]);
    // An error the worker does not catch: its 'error' event, noticed at once; restart works again.
    const t1 = Date.now();
    await hook(page, 'crashWorker');
    await lost.waitFor({ timeout: 10_000 });
    console.log(`crashed worker noticed after ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    expect(Date.now() - t1).toBeLessThan(3000);
    expect(await lost.innerText()).toMatch(/^worker-died: the engines' worker stopped \(it failed: .*worker-crash: a crash on purpose/);
    await page.locator('[data-testid=restart-worker]').click();
    await expect.poll(() => step.isEnabled(), { timeout: 120_000 }).toBe(true);
    expect(page.url()).toBe(url);
    expect(errors.filter((e) => !/worker-crash: a crash on purpose/.test(e))).toEqual([]);
  }, 180_000);

  it('20 demo runs in one page: the worker\'s live GPU buffers return to their start and its heap stays within 8 MB of the first run\'s', async () => {
    const t0 = Date.now();
    const { page, errors } = await open('?model=wm-stories&prompt=Once&tokens=2&mesh=8x8&speed=100');
    const step = page.locator('[data-testid=step-token]');
    const health = () => hook(page, 'health') as Promise<{ liveBuffers: number; createdBuffers: number }>;
    // The worker's JS heap after a full collection, through the DevTools protocol (workers have no performance.memory).
    const workerHeap = async (): Promise<number> => {
      const cdp = await browser.newBrowserCDPSession();
      try {
        const { targetInfos } = await cdp.send('Target.getTargets');
        const target = targetInfos.filter((t) => t.type === 'worker' && t.title === 'wafermesh-engines').pop()!;
        const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: target.targetId, flatten: false });
        let id = 0;
        const call = (method: string) =>
          new Promise<Record<string, number>>((done) => {
            const mine = ++id;
            const on = (e: { sessionId: string; message: string }) => {
              const m = JSON.parse(e.message);
              if (e.sessionId === sessionId && m.id === mine) {
                cdp.off('Target.receivedMessageFromTarget', on);
                done(m.result);
              }
            };
            cdp.on('Target.receivedMessageFromTarget', on);
            void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: mine, method }) });
          });
        await call('HeapProfiler.collectGarbage');
        return (await call('Runtime.getHeapUsage')).usedSize;
      } finally {
        await cdp.detach();
      }
    };
    const atStart = await health();
    const heaps: number[] = [];
    const live: number[] = [];
    for (let run = 1; run <= 20; run++) {
      if (run > 1) {
        // Another prompt each run: the page loads a new session, closing the last one.
        await page.locator('input[name=prompt]').fill(`Once ${run}`);
        await page.locator('[data-testid=apply]').click();
      }
      // Played to its end (the race clock at 100×).
      await expect.poll(() => step.isEnabled(), { timeout: 120_000 }).toBe(true);
      await page.locator('[data-testid=play]').click();
      await page.locator('[data-testid=generated-text][data-engine=gpu][data-done=true]').waitFor({ timeout: 60_000 });
      live.push((await health()).liveBuffers);
      heaps.push(await workerHeap());
      if (run === 1 || run === 20) console.log(`demo run ${run} done at ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    await hook(page, 'closeSession');
    const atEnd = await health();
    const mb = (b: number) => (b / 1e6).toFixed(2);
    console.log(`20 demo runs in ${((Date.now() - t0) / 1000).toFixed(0)} s: worker heap after run 1 ${mb(heaps[0])} MB, after run 20 ${mb(heaps[19])} MB (max ${mb(Math.max(...heaps))}); live GPU buffers ${atStart.liveBuffers} at start, ${live[0]} while a session is open, ${atEnd.liveBuffers} after closing (${atEnd.createdBuffers} made)`);
    expect(atStart.liveBuffers).toBe(0);
    expect(live[0]).toBeGreaterThan(0);
    // Each open session holds the same buffers, none carried over from the runs before it.
    expect(live).toEqual(new Array(20).fill(live[0]));
    expect(atEnd.liveBuffers).toBe(atStart.liveBuffers);
    expect(atEnd.createdBuffers).toBeGreaterThanOrEqual(20 * live[0]);
    expect(heaps[19] - heaps[0]).toBeLessThan(8e6);
    expect(errors).toEqual([]);
  }, 600_000);
  it('runs the layer-pipelined placement from its URL: the blocks in the fit report and on the wafer (unused cores, a tooltip per block), a hand-off between blocks stepped as a measured fabric phase, and the text `generate --engine mesh --placement pipelined:1` writes', async () => {
    const { page, errors } = await open('?model=wm-stories&prompt=Once%20upon%20a%20time&tokens=12&temperature=0&mesh=12x12&placement=pipelined:1&speed=8');
    const stepPhase = page.locator('[data-testid=step-phase]');
    await expect.poll(() => stepPhase.isEnabled(), { timeout: 120_000 }).toBe(true);
    expect(await page.locator('select[name=placement]').inputValue()).toBe('pipelined:1');
    // Three 6x6 blocks in snake order; the fourth 6x6 of the 12x12 is unused.
    const blocks = page.locator('[data-testid=fit-blocks]');
    expect([await blocks.getAttribute('data-blocks'), await blocks.getAttribute('data-unused')]).toEqual(['3', '36']);
    expect(await blocks.innerText()).toMatch(/^Placement pipelined:1: 1 layer a block, 3 blocks of 6×6 cores on a 2×2 grid[\s\S]*36 cores outside every block are unused\.[\s\S]*block 2 at core \(6,6\): layer 3 of 3 \(head\); fullest core/);
    // A core's tooltip names its block and its place in it; a core outside every block says it is unused (12x12 on the 560-px canvas: 46 px a core from 4 px in).
    const canvas = page.locator('[data-testid=wafer-canvas]');
    const box = (await canvas.boundingBox())!;
    const hover = (r: number, c: number) => canvas.hover({ position: { x: ((4 + 46 * c + 23) / 560) * box.width, y: ((4 + 46 * r + 23) / 560) * box.height } });
    const tip = page.locator('[data-testid=core-tip]');
    await hover(7, 8);
    await expect.poll(() => tip.innerText()).toMatch(/^core \(7, 8\) of 12 × 12\nblock 2 \(layer 3, head\), its core \(1, 2\) of 6 × 6\ntiles of each of its layers/);
    await hover(2, 9);
    await expect.poll(() => tip.innerText()).toMatch(/^core \(2, 9\) of 12 × 12\noutside every block: unused, it holds nothing/);
    await page.locator('[data-testid=fit-report]').hover();
    // Step phase by phase to the first hand-off: a fabric phase, named, measured = modelled, from block 0 to block 1.
    const label = page.locator('[data-testid=phase-label]');
    for (let n = 1; !/hand-off/.test((await label.textContent()) ?? ''); n++) {
      expect(n).toBeLessThan(60);
      await stepPhase.click();
      await expect.poll(() => label.textContent(), { timeout: 30_000 }).toMatch(new RegExp(`^phase ${n} of \\d+ at position 0: `));
    }
    expect(await label.textContent()).toMatch(/: → hand-off: .* \(block 0 to 1\) — fabric: a block's last layer done, x goes to the next block over the fabric/);
    expect(await page.locator('[data-testid=wafer-figures]').innerText()).toMatch(/words on links \(measured\)\s*[1-9][\d,]*[\s\S]*measured = modelled\s*yes/);
    expect(await page.locator('[data-testid=step-where]').textContent()).toBe('fabric phase, from block 0 to block 1');
    await page.locator('wm-wafer-view').screenshot({ path: resolve(SHOTS, 'wafer-pipelined.png') });
    await page.locator('[data-testid=play]').click();
    await page.locator('[data-testid=generated-text][data-engine=mesh][data-done=true]').waitFor({ timeout: 150_000 });
    const want = cliJson('generate', '--engine', 'mesh', '--model', 'wm-stories', '--mesh', '12x12', '--placement', 'pipelined:1', '--prompt', 'Once upon a time', '--tokens', '12', '--temperature', '0');
    expect(await textOf(page, 'mesh')).toBe(want.text);
    expect(page.url()).toMatch(/placement=pipelined%3A1/);
    expect(await axeProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
    // With the disaggregated mode the placement falls back to whole, with a message.
    const { page: p2 } = await open('?model=wm-stories&mode=disaggregated&placement=pipelined:1');
    await expect.poll(() => p2.locator('[data-testid=url-message]').allTextContents()).toEqual(["placement=pipelined:1 runs with mode=monolithic only (the KV cache's hand-off into the wafer runs on the whole-mesh placement); using placement=whole"]);
    expect(await p2.locator('select[name=placement]').inputValue()).toBe('whole');
  }, 400_000);
});
