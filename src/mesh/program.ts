import type { ModelConfig } from '../model/config.ts';
import type { Allreduce } from './collectives.ts';
import type { MeshConfig } from './config.ts';
import type { Placement } from './placement.ts';

/**
 * A model compiled for a mesh: where every weight, KV-cache slot and scratch vector lives
 * (the placement, checked to fit) and which allreduce the collectives use. The decode itself —
 * its compute passes and fabric phases, each with its closed-form cost — is compiled from this by
 * programs/decode-fabric.ts, once, and replayed per token; `fit`, the SRAM image, the trace, the
 * cost model and the demo all read the same program.
 */
export interface WaferProgram {
  readonly model: ModelConfig;
  readonly mesh: MeshConfig;
  readonly placement: Placement;
  readonly allreduce: Allreduce;
}

/**
 * A layer-pipelined placement: the layers in groups of `layersPerBlock`, each group tiled over a
 * block of `width` × `height` cores of its own exactly as a whole mesh of that size is tiled
 * (src/mesh/placement.ts), the blocks a grid of `across` × `down` on the mesh visited in snake
 * order (down the first column of blocks, up the next, …: consecutive blocks share an edge). The
 * first block embeds the token, the last holds the head; x moves from block to block over the
 * fabric and the next token's id returns to the first block.
 */
export interface Pipeline {
  readonly layersPerBlock: number;
  readonly width: number;
  readonly height: number;
  readonly across: number;
  readonly down: number;
  readonly blocks: readonly PipelineBlock[];
}

/** A block's role bits: it embeds the token; it holds the head (final norm, classifier, next id). */
export const ROLE_EMBED = 1;
export const ROLE_HEAD = 2;

export interface PipelineBlock {
  /** The mesh column and row of the block's first core (its north-west corner). */
  readonly x: number;
  readonly y: number;
  /** Its layers: [layerFirst, layerFirst + layerCount). */
  readonly layerFirst: number;
  readonly layerCount: number;
  /** 1: it embeds the token; 2: it holds the head (final norm, classifier, next id); 3: both. */
  readonly role: number;
  /** The block as a mesh of its own: its layers (a model of layerCount layers) placed on width × height cores. */
  readonly program: WaferProgram;
}

export interface WaferProgram {
  /** Present for a layer-pipelined placement; absent: every layer tiled over the whole mesh. */
  readonly pipeline?: Pipeline;
}
