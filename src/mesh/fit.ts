import { oneLine } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import type { MeshConfig } from './config.ts';
import { place, refuseIfNotFits, smallestFittingMesh, type Placement } from './placement.ts';

/** Whether and how a model fits a mesh: the one summary `fit` and the demo's fit report read. */
export interface FitSummary {
  readonly placement: Placement;
  readonly fits: boolean;
  /** Positions the KV cache holds (0 when it does not fit). */
  readonly context: number;
  /** The longest context SRAM allows (null when unbounded). */
  readonly maxContext: number | null;
  readonly fullest: { readonly row: number; readonly col: number; readonly bytes: number; readonly weightBytes: number; readonly scratchBytes: number; readonly kvBytes: number };
  readonly totalWeightBytes: number;
  /** The smallest mesh of the same aspect that fits with the full context, when this one does not. */
  readonly smallestFittingMesh: MeshConfig | null;
  /** The one-line refusal when it does not fit. */
  readonly error: string | null;
}

export function fitSummary(model: ModelConfig, mesh: MeshConfig): FitSummary {
  const p = place(model, mesh);
  const bigger = p.fits && p.context >= model.seqLen ? undefined : smallestFittingMesh(model, mesh);
  let error: string | null = null;
  try {
    refuseIfNotFits(p);
  } catch (e) {
    error = oneLine(e);
  }
  const f = p.fullest;
  return {
    placement: p,
    fits: p.fits,
    context: p.fits ? p.context : 0,
    maxContext: Number.isFinite(p.maxContext) ? p.maxContext : null,
    fullest: { row: f.row, col: f.col, bytes: f.totalWords * 4, weightBytes: f.weightWords * 4, scratchBytes: f.scratchWords * 4, kvBytes: f.kvWordsPerSlot * f.kvSlots * 4 },
    totalWeightBytes: p.cores.reduce((n, c) => n + c.weightWords * 4, 0),
    smallestFittingMesh: bigger ?? null,
    error,
  };
}
