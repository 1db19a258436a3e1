import { CATALOG, hardwarePreset, presetSources, type Catalog } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';

/**
 * A wafer: width × height cores in a 2D mesh, each with a private SRAM and a router linked to its
 * four neighbours. Times are in cycles of `clockHz`.
 */
export interface MeshConfig {
  readonly width: number; // cores per row
  readonly height: number; // cores per column
  readonly sramBytes: number; // private SRAM per core
  readonly clockHz: number;
  readonly wordsPerLinkCycle: number; // 32-bit words a link carries per cycle, each direction
  readonly cyclesPerHop: number; // router + wire latency of one hop (α)
  readonly cyclesPerRamp: number; // a word down the ramp into the core, added or stored, and on (β)
  readonly flopsPerCoreCycle: number; // f32 FLOPs one core retires per cycle
  readonly colours: number; // routable colours (virtual channels) per router
}

export interface MeshPreset {
  readonly name: string;
  readonly description: string;
  /** Where each number comes from. */
  readonly sources: string;
  readonly core: Omit<MeshConfig, 'width' | 'height'>;
  /** The full wafer's size, for extrapolation (the emulated mesh is set per run). */
  readonly fullWidth: number;
  readonly fullHeight: number;
  /** One activation hand-off between chained wafers (predict). */
  readonly waferToWaferSeconds: number;
}

export const DEFAULT_PRESET = CATALOG.defaults.wafer;

/** A wafer preset of the catalog, as numbers. */
export function meshPreset(name: string, catalog: Catalog = CATALOG): MeshPreset {
  const p = hardwarePreset(name, 'wafer', catalog);
  const f = p.figures;
  return {
    name: p.id,
    description: p.description,
    sources: presetSources(p),
    core: {
      sramBytes: f.sramBytes.value,
      clockHz: f.clockHz.value,
      wordsPerLinkCycle: f.wordsPerLinkCycle.value,
      cyclesPerHop: f.cyclesPerHop.value,
      cyclesPerRamp: f.cyclesPerRamp.value,
      flopsPerCoreCycle: f.flopsPerCoreCycle.value,
      colours: f.colours.value,
    },
    fullWidth: f.fullWidth.value,
    fullHeight: f.fullHeight.value,
    waferToWaferSeconds: f.waferToWaferSeconds.value,
  };
}

/** Limits that keep an absurd mesh from allocating the machine away. */
// Big enough for a whole WSE-3 (762 × 1172) in `fit` and `trace`; the GPU emulation refuses meshes
// whose SRAM does not fit the adapter's buffers.
export const MESH_LIMITS = { maxSide: 2048, maxCores: 1 << 21, minSram: 1024, maxSram: 64 * 1024 * 1024 };

/** "8x8" → {width: 8, height: 8}. */
export function parseMeshSize(s: string): { width: number; height: number } {
  const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/i.exec(s);
  if (!m) throw new WafermeshError('bad-mesh', `mesh "${s}" is not WIDTHxHEIGHT, e.g. 8x8 or 6x10`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** Validates and freezes a mesh; throws one line naming the bad value and the allowed range. */
export function makeMesh(c: MeshConfig): MeshConfig {
  const check = (name: string, v: number, ok: boolean, range: string) => {
    if (!Number.isFinite(v) || !ok) throw new WafermeshError('bad-mesh', `${name} = ${v} is out of range; use ${range}`);
  };
  const L = MESH_LIMITS;
  check('width', c.width, Number.isInteger(c.width) && c.width >= 1 && c.width <= L.maxSide, `a whole number in 1…${L.maxSide}`);
  check('height', c.height, Number.isInteger(c.height) && c.height >= 1 && c.height <= L.maxSide, `a whole number in 1…${L.maxSide}`);
  check('cores', c.width * c.height, c.width * c.height <= L.maxCores, `at most ${L.maxCores} cores`);
  check('SRAM per core (bytes)', c.sramBytes, Number.isInteger(c.sramBytes) && c.sramBytes % 4 === 0 && c.sramBytes >= L.minSram && c.sramBytes <= L.maxSram, `a multiple of 4 in ${L.minSram}…${L.maxSram} bytes`);
  check('clock (Hz)', c.clockHz, c.clockHz > 0 && c.clockHz <= 1e11, 'a positive clock up to 100 GHz');
  check('link words per cycle', c.wordsPerLinkCycle, c.wordsPerLinkCycle > 0 && c.wordsPerLinkCycle <= 64, '0 < words ≤ 64');
  check('cycles per hop', c.cyclesPerHop, c.cyclesPerHop >= 0 && c.cyclesPerHop <= 1000, '0…1000 cycles');
  check('cycles per ramp relay', c.cyclesPerRamp, c.cyclesPerRamp >= 0 && c.cyclesPerRamp <= 1000, '0…1000 cycles');
  check('colours', c.colours, Number.isInteger(c.colours) && c.colours >= 1 && c.colours <= 1024, 'a whole number of colours in 1…1024');
  check('FLOPs per core per cycle', c.flopsPerCoreCycle, c.flopsPerCoreCycle > 0 && c.flopsPerCoreCycle <= 1e6, 'a positive number');
  return Object.freeze({ ...c });
}

export function meshFromPreset(preset: string, width: number, height: number, sramBytes?: number): MeshConfig {
  const p = meshPreset(preset);
  return makeMesh({ ...p.core, width, height, ...(sramBytes !== undefined ? { sramBytes } : {}) });
}
