import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WafermeshError } from '../errors.ts';
import { acquireGpu, type DriverInfo, type GpuContext } from './device.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Where `tools/setup.sh` unpacks lavapipe from Mesa 25 (Debian bookworm-backports). */
export const LAVAPIPE_DIR = join(ROOT, '.cache', 'lavapipe');
const LAVAPIPE_LIB = join(LAVAPIPE_DIR, 'root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so');
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const SYSTEM_ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

interface Candidate {
  driver: DriverInfo;
  /** VK_ICD_FILENAMES for this try; undefined = the loader's own discovery. */
  icd: string | undefined;
}

const HOW_TO_FIX =
  'install a Vulkan driver: run `bash tools/setup.sh` (lavapipe from Mesa 25, or Chromium\'s SwiftShader with `apt-get install -y chromium libvulkan1`)';

/**
 * Candidates in order of preference: what the user named (VK_ICD_FILENAMES or WAFERMESH_DRIVER),
 * a hardware driver, the project's lavapipe (Mesa 25), then Chromium's SwiftShader. Debian 12's
 * own lavapipe (Mesa 22) is rejected by Dawn, so the system's software ICDs come last.
 */
function candidates(): Candidate[] {
  const want = process.env.WAFERMESH_DRIVER ?? 'auto';
  const user = process.env.VK_ICD_FILENAMES;
  const lavapipe: Candidate | undefined = existsSync(LAVAPIPE_LIB)
    ? { driver: { name: 'lavapipe', detail: `Mesa 25 lavapipe from ${LAVAPIPE_DIR}`, software: true }, icd: lavapipeIcd() }
    : undefined;
  const swiftshader: Candidate | undefined = existsSync(SWIFTSHADER_ICD)
    ? { driver: { name: 'swiftshader', detail: SWIFTSHADER_ICD, software: true }, icd: SWIFTSHADER_ICD }
    : undefined;
  const system: Candidate = { driver: { name: 'system', detail: 'Vulkan loader default', software: false }, icd: undefined };
  switch (want) {
    case 'auto':
      if (user) return [{ driver: { name: 'user', detail: `VK_ICD_FILENAMES=${user}`, software: false }, icd: user }];
      return [hardware(), lavapipe, swiftshader].filter((c): c is Candidate => c !== undefined);
    case 'lavapipe':
      if (!lavapipe) throw new WafermeshError('no-driver', `WAFERMESH_DRIVER=lavapipe but ${LAVAPIPE_LIB} is missing; run \`bash tools/setup.sh\``);
      return [lavapipe];
    case 'swiftshader':
      if (!swiftshader) throw new WafermeshError('no-driver', `WAFERMESH_DRIVER=swiftshader but ${SWIFTSHADER_ICD} is missing; run \`apt-get install -y chromium libvulkan1\``);
      return [swiftshader];
    case 'system':
      return [system];
    default:
      throw new WafermeshError('no-driver', `WAFERMESH_DRIVER=${want} is unknown; use auto, lavapipe, swiftshader or system`);
  }
}

/** The system's hardware ICDs only (software ones are tried through our own candidates). */
function hardware(): Candidate | undefined {
  // Without a GPU device node the hardware ICDs can only fail (and the loader says so loudly).
  const gpuNodes = (existsSync('/dev/dri') ? readdirSync('/dev/dri').filter((n) => n.startsWith('renderD')) : []).length +
    (existsSync('/dev/nvidiactl') ? 1 : 0);
  if (gpuNodes === 0) return undefined;
  const files: string[] = [];
  for (const dir of SYSTEM_ICD_DIRS) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) if (n.endsWith('.json') && !/lvp|swiftshader/i.test(n)) files.push(join(dir, n));
  }
  if (files.length === 0) return undefined;
  return { driver: { name: 'hardware', detail: files.join(':'), software: false }, icd: files.join(':') };
}

/** Writes an ICD manifest pointing at the unpacked lavapipe library (its path is absolute). */
function lavapipeIcd(): string {
  const dir = join(tmpdir(), 'wafermesh');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'lvp_icd.json');
  writeFileSync(file, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: LAVAPIPE_LIB, api_version: '1.3.0' } }));
  return file;
}

/**
 * A device in Node through Dawn (the `webgpu` package), picking a working Vulkan driver by itself.
 * Throws a one-line error naming what was tried when none gives an adapter.
 */
export async function nodeGpu(): Promise<GpuContext> {
  // Dawn's Vulkan backend complains loudly without one; it needs no real directory contents.
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = join(tmpdir(), `wafermesh-xdg-${process.getuid?.() ?? 0}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const list = candidates();
  const tried: string[] = [];
  const before = process.env.VK_ICD_FILENAMES;
  for (const c of list) {
    if (c.icd === undefined) delete process.env.VK_ICD_FILENAMES;
    else process.env.VK_ICD_FILENAMES = c.icd;
    try {
      const gpu = create([]) as GPU;
      const ctx = await acquireGpu(gpu, c.driver);
      if (ctx) {
        // A "hardware" ICD may still turn out to be a CPU implementation; say which.
        if (c.driver.name === 'hardware' && /llvmpipe|swiftshader|software/i.test(ctx.adapterInfo.description + ctx.adapterInfo.architecture)) {
          c.driver.software = true;
        }
        return ctx;
      }
      tried.push(`${c.driver.name}: no adapter`);
    } catch (e) {
      tried.push(`${c.driver.name}: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      if (before === undefined) delete process.env.VK_ICD_FILENAMES;
      else process.env.VK_ICD_FILENAMES = before;
    }
  }
  throw new WafermeshError(
    'no-webgpu',
    `no WebGPU adapter could be had in Node (${tried.length ? tried.join('; ') : 'no Vulkan driver found'}); ${HOW_TO_FIX}`,
  );
}
