import { WafermeshError } from '../errors.ts';
import { DEFAULT_PRESET, meshFromPreset, parseMeshSize, type MeshConfig } from '../mesh/config.ts';

/** Parses a numeric option, refusing anything that is not a finite number. */
export function numberOption(name: string, v: string | boolean | undefined, fallback: number, integer = false): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new WafermeshError('bad-option', `--${name} ${String(v)} is not ${integer ? 'a whole number' : 'a number'}`);
  }
  return n;
}

/** The options every command that places a model on a mesh takes. */
export const MESH_OPTIONS = {
  mesh: { type: 'string', default: '8x8' },
  preset: { type: 'string', default: DEFAULT_PRESET },
  sram: { type: 'string' },
} as const;

/** The mesh `--mesh WxH --preset NAME [--sram BYTES]` describe, validated. */
export function meshOption(v: Record<string, string | boolean | undefined>): MeshConfig {
  const size = parseMeshSize(String(v.mesh));
  const sram = v.sram === undefined ? undefined : numberOption('sram', v.sram, 0, true);
  return meshFromPreset(String(v.preset), size.width, size.height, sram);
}
