import { CATALOG, allreduceIds, hardwareIds, runnableModels } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { DEFAULT_PRESET, meshFromPreset, parseMeshSize, type MeshConfig } from '../mesh/config.ts';
import type { Choices, OptionValues } from './command.ts';

/** Parses a numeric option, refusing anything that is not a finite number. */
export function numberOption(name: string, v: string | boolean | undefined, fallback: number, integer = false): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new WafermeshError('bad-option', `--${name} ${String(v)} is not ${integer ? 'a whole number' : 'a number'}`);
  }
  return n;
}

/**
 * The catalog's ids an option takes, read from src/catalog.ts each time they are asked for (help
 * text); the commands validate through the catalog's own lookups, which read it at call time too.
 */
export const CHOICES = {
  /** `--preset`: a wafer. */
  wafer: { values: () => hardwareIds('wafer') },
  /** `--gpu-preset`: an off-chip GPU. */
  gpu: { values: () => hardwareIds('gpu') },
  /** `predict --hardware`: either kind. */
  hardware: { values: () => hardwareIds() },
  allreduce: { values: () => allreduceIds() },
  /** Models whose weights are here (generate, bench). */
  runnableModel: { values: () => runnableModels().map((m) => m.id), or: 'a checkpoint PATH or random:<spec>' },
  /** Models whose shape is known, weights or not (fit, trace, predict). */
  anyModel: { values: () => CATALOG.models.map((m) => m.id), or: 'a checkpoint PATH or random:<spec>' },
} satisfies Record<string, Choices>;

/** The options every command that places a model on a mesh takes. */
export const MESH_OPTIONS = {
  mesh: { type: 'string', default: '8x8' },
  preset: { type: 'string', default: DEFAULT_PRESET },
  sram: { type: 'string' },
} as const;

export const MESH_CHOICES = { preset: CHOICES.wafer };

/** The mesh `--mesh WxH --preset NAME [--sram BYTES]` describe, validated. */
export function meshOption(v: OptionValues): MeshConfig {
  const size = parseMeshSize(String(v.mesh));
  const sram = v.sram === undefined ? undefined : numberOption('sram', v.sram, 0, true);
  return meshFromPreset(String(v.preset), size.width, size.height, sram);
}
