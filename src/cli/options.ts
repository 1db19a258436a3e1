import { existsSync, statSync, accessSync, constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CATALOG, allreduceIds, hardwareIds, modelEntry, runnableModels } from '../catalog.ts';
import { ENGINES } from '../engines/index.ts';
import { WafermeshError } from '../errors.ts';
import { DEFAULT_PRESET, MESH_LIMITS, meshFromPreset, parseMeshSize, type MeshConfig } from '../mesh/config.ts';
import type { Choices, OptionValues } from './command.ts';
import { emulatedPlacement } from '../mesh/pipelined.ts';
import type { EmulatedPlacement } from '../mesh/programs/decode.ts';

/** Parses a numeric option, refusing anything that is not a finite number. */
export function numberOption(name: string, v: string | boolean | undefined, fallback: number, integer = false): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new WafermeshError('bad-option', `--${name} ${String(v)} is not ${integer ? 'a whole number' : 'a number'}`);
  }
  return n;
}

/** Edit distance, for "did you mean …" (small strings only). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length];
}

/** ` (did you mean X?)` for the closest of `candidates` to `value` (case-insensitive), or '' when none is close. */
export function didYouMean(value: string, candidates: readonly string[]): string {
  const v = value.trim().toLowerCase();
  if (v === '') return '';
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const cl = c.toLowerCase();
    // A shared prefix of 4 or more counts as close (llama-9 → llama-3.1-8b).
    const d = cl.startsWith(v) || v.startsWith(cl) ? 1 : Math.min(distance(v, cl), commonPrefix(v, cl) >= 4 ? 2 : Infinity);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(v.length / 3)) ? ` (did you mean ${best}?)` : '';
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

const presetDescription = (id: string) => CATALOG.hardware.find((h) => h.id === id)?.description;
const modelDescription = (id: string) => modelEntry(id)?.description;

/**
 * The catalog's ids an option takes, read from src/catalog.ts each time they are asked for (help
 * text, and the check main.ts makes before a command runs).
 */
export const CHOICES = {
  /** `--preset`: a wafer. */
  wafer: { values: () => hardwareIds('wafer'), describe: presetDescription, heading: 'wafer presets' },
  /** `--gpu-preset`: an off-chip GPU. */
  gpu: { values: () => hardwareIds('gpu'), describe: presetDescription, heading: 'GPU presets' },
  /** `predict --hardware`: either kind. */
  hardware: { values: () => hardwareIds(), describe: presetDescription, heading: 'hardware presets' },
  allreduce: { values: () => allreduceIds(), aliases: ['tree'], describe: (id: string) => CATALOG.allreduce.find((a) => a.id === id)?.description, heading: 'allreduce algorithms' },
  /** `generate --engine`. */
  engine: { values: () => ENGINES },
  /** `generate --wafer-prefill`: the prompt token by token, or the wafer prefill on the fabric (MeshGEMM). */
  waferPrefill: { values: () => ['token', 'gemm'] },
  /** Models whose weights are here (generate, bench). */
  runnableModel: { values: () => runnableModels().map((m) => m.id), or: 'a checkpoint PATH or random:<spec>', describe: modelDescription, heading: 'models' },
  /** Models whose shape is known, weights or not (fit, trace, predict). */
  anyModel: { values: () => CATALOG.models.map((m) => m.id), or: 'a checkpoint PATH or random:<spec>', describe: modelDescription, heading: 'models' },
} satisfies Record<string, Choices>;

/**
 * What an option does, for `--help`, where its command gives no line of its own (Command.descriptions).
 * Shared by name, so these say what the option means wherever it appears.
 */
export const OPTION_HELP: Record<string, string> = {
  model: 'the model: a name below, a llama2.c checkpoint PATH, or random:dim=64,layers=2,… (a seeded random model)',
  mesh: 'the wafer: WIDTHxHEIGHT cores, e.g. 8x8 or 6x10',
  preset: 'the wafer core (SRAM, clock, link width) from the catalog',
  sram: 'SRAM bytes per core, overriding the preset (a multiple of 4)',
  allreduce: 'how allreduces run on the fabric: chain, ring or ktree',
  json: 'print one JSON object instead of text',
  hardware: 'the hardware preset to predict for: a wafer or a GPU from the catalog',
  chips: 'how many chips (wafers or GPUs) the model is split over',
  precision: 'bytes per weight and KV value: fp32, fp16 or fp8',
  context: 'positions in the KV cache (default: the model\'s seq_len, up to 1024)',
  placement:
    'where the layers go on the emulated mesh: whole (every layer tiled over the whole mesh) or pipelined (each group of layers on a block of its own, x handed from block to block; pipelined:G for G layers a block, else the fewest that fit)',
};

/** `--placement` for the emulated mesh: whole or pipelined[:G]; predict's other kinds are refused in one line. */
export function placementOption(v: string | boolean | undefined): EmulatedPlacement {
  return emulatedPlacement(v === undefined ? undefined : String(v));
}

/** The options every command that places a model on a mesh takes. */
export const MESH_OPTIONS = {
  mesh: { type: 'string', default: '8x8' },
  preset: { type: 'string', default: DEFAULT_PRESET },
  sram: { type: 'string' },
} as const;

export const MESH_CHOICES = { preset: CHOICES.wafer };

/** `--mesh WxH`, checked against the emulator's limits with the option's own name in the message. */
export function meshSizeOption(name: string, s: string): { width: number; height: number } {
  let size: { width: number; height: number };
  try {
    size = parseMeshSize(s);
  } catch {
    throw new WafermeshError('bad-option', `--${name} "${s}" is not WIDTHxHEIGHT, e.g. 8x8 or 6x10`);
  }
  const L = MESH_LIMITS;
  for (const side of [size.width, size.height]) {
    if (side < 1 || side > L.maxSide) throw new WafermeshError('bad-option', `--${name} ${s}: each side must be 1…${L.maxSide} cores`);
  }
  if (size.width * size.height > L.maxCores) throw new WafermeshError('bad-option', `--${name} ${s} is ${size.width * size.height} cores; at most ${L.maxCores}`);
  return size;
}

/** `--sram BYTES`, checked with the option's name (not the mesh's field) in the message. */
export function sramOption(v: string | boolean | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = numberOption('sram', v, 0, true);
  const L = MESH_LIMITS;
  if (n % 4 !== 0 || n < L.minSram || n > L.maxSram) {
    throw new WafermeshError('bad-option', `--sram ${n} is out of range; use a multiple of 4 from ${L.minSram} to ${L.maxSram} bytes per core`);
  }
  return n;
}

/** The mesh `--mesh WxH --preset NAME [--sram BYTES]` describe, validated. */
export function meshOption(v: OptionValues): MeshConfig {
  const size = meshSizeOption('mesh', String(v.mesh));
  return meshFromPreset(String(v.preset), size.width, size.height, sramOption(v.sram));
}

/**
 * A file the command will write (`--json FILE`), or the prefix of files (`--svg PREFIX`), checked
 * before any work: its directory exists and can be written, and a file's path is not a directory.
 */
export function outputPathOption(name: string, path: string, prefix = false): string {
  if (path.trim() === '') throw new WafermeshError('bad-option', `--${name} needs a file name`);
  const full = resolve(path);
  const dir = path.endsWith('/') ? full : dirname(full);
  if (!existsSync(dir)) throw new WafermeshError('bad-option', `--${name} ${path}: the directory ${dir} does not exist; create it or write elsewhere`);
  if (!statSync(dir).isDirectory()) throw new WafermeshError('bad-option', `--${name} ${path}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new WafermeshError('bad-option', `--${name} ${path}: the directory ${dir} cannot be written`);
  }
  // A prefix (`--svg out/bench-`) may name a directory to write into; a file may not.
  if (!prefix && (path.endsWith('/') || (existsSync(full) && statSync(full).isDirectory()))) {
    throw new WafermeshError('bad-option', `--${name} ${path} is a directory; give a file name`);
  }
  return path;
}
