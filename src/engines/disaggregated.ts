import { CATALOG } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { kvDim } from '../model/config.ts';
import type { Decodable } from './generate.ts';
import type { KvImport, Machine } from './machine.ts';

/**
 * The links a disaggregated hand-off crosses, at the preset hardware: the network between the
 * prefill machine and the wafer's system, then the wafer's edge I/O. The KV cache crosses both;
 * the slower one sets the time. The figures and their sources live in the catalog (`CATALOG.links`).
 */
export const HANDOFF_LINKS = CATALOG.links;

/** One hand-off of a disaggregated generation: the prompt prefilled on one machine, its KV cache taken over by the other. */
export interface Handoff {
  readonly positions: number;
  /** KV-cache bytes that cross the network (float32 keys and values of every layer and position). */
  readonly bytes: number;
  /** Measured wall clock on this machine: the prefill, and the KV cache's export and import. */
  readonly prefillMs: number;
  readonly handoffMs: number;
  /** Modelled at the preset hardware: the slower link's time, plus the wafer's fabric phases when it decodes. */
  readonly modelledMs: number;
  /** When the wafer decodes: what entered at its edge and what its fabric moved, per phase. */
  readonly wafer?: KvImport;
  /** When the wafer prefilled: what its fabric carried out to its edge, per phase. */
  readonly waferOut?: KvImport;
}

/**
 * Prefill on one machine, decode on another: the prompt runs as a batch where the first machine
 * can (Machine.prefill, else one token at a time), its KV cache is converted to the second's
 * layout and handed over (the wafer takes it in at its edge and moves it over the fabric), and
 * the second decodes from there. Generation drives it like any machine (generate with `prefill`),
 * and its ids equal a run on either alone.
 */
export class Disaggregated implements Decodable {
  readonly handoffs: Handoff[] = [];
  constructor(
    readonly prefiller: Machine,
    readonly decoder: Machine,
  ) {
    if (!prefiller.kvCache) throw new WafermeshError('bad-option', `the ${prefiller.engine} engine cannot hand over its KV cache; prefill on cpu, gpu or mesh`);
    if (!decoder.importKv) throw new WafermeshError('bad-option', `the ${decoder.engine} engine cannot take over a KV cache; decode on cpu, gpu or mesh`);
    const a = prefiller.config;
    const b = decoder.config;
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new WafermeshError('bad-option', 'the prefill and decode machines hold different models; load the same model on both');
    if (decoder.greedy) this.greedy = (token, pos, fed) => decoder.greedy!(token, pos, fed);
  }

  get config() {
    return this.decoder.config;
  }

  get context(): number {
    return Math.min(this.prefiller.context, this.decoder.context);
  }

  reset(): void {
    this.prefiller.reset();
    this.decoder.reset();
  }

  forward(token: number, pos: number): Promise<Float32Array> {
    return this.decoder.forward(token, pos);
  }

  greedy?: (token: number, pos: number, fed: boolean) => Promise<number>;

  /** The prompt on the prefill machine, then its KV cache to the decode machine; returns the last prompt position's logits. */
  async prefill(tokens: readonly number[], startPos: number): Promise<Float32Array> {
    if (startPos !== 0) throw new WafermeshError('internal', 'a disaggregated prefill starts at position 0');
    const t0 = performance.now();
    let logits: Float32Array;
    if (this.prefiller.prefill) logits = await this.prefiller.prefill(tokens, 0);
    else {
      logits = new Float32Array(0);
      for (let p = 0; p < tokens.length; p++) logits = await this.prefiller.forward(tokens[p], p);
    }
    const t1 = performance.now();
    const kv = await this.prefiller.kvCache!(tokens.length);
    const waferOut = this.prefiller.lastExport;
    const wafer = (await this.decoder.importKv!(kv)) ?? undefined;
    const t2 = performance.now();
    const c = this.config;
    const bytes = 2 * c.nLayers * tokens.length * kvDim(c) * 4;
    const { network, waferEdge } = HANDOFF_LINKS;
    // The network's latency and bytes, or the wafer edge's bytes (every copy the wafer keeps), whichever is slower;
    // then the fabric phases that carry them in (not overlapped with the I/O in this model).
    const onNetwork = network.latencyS.value + bytes / network.bytesPerS.value;
    const edge = (w: KvImport | undefined) => (w ? (w.edgeWords * 4) / waferEdge.bytesPerS.value : 0);
    const cycles = (w: KvImport | undefined, m: Machine) => {
      const hz = m.wafer?.mesh.clockHz;
      return w && hz ? w.fabricCycles / hz : 0;
    };
    // The links in series stream at the slowest one's pace; the fabric phases on either wafer are not overlapped with them.
    const modelledMs = (Math.max(onNetwork, edge(wafer), edge(waferOut)) + cycles(wafer, this.decoder) + cycles(waferOut, this.prefiller)) * 1e3;
    this.handoffs.push({ positions: tokens.length, bytes, prefillMs: t1 - t0, handoffMs: t2 - t1, modelledMs, ...(wafer ? { wafer } : {}), ...(waferOut ? { waferOut } : {}) });
    return logits;
  }
}
