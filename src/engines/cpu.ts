import type { KvCache } from '../model/kv.ts';
import type { MachineTrace } from '../cost/model.ts';
import type { WaferProgram } from '../mesh/program.ts';
import type { FabricDecode } from '../mesh/programs/decode-fabric.ts';
import { ReferenceTransformer } from '../model/reference.ts';
import type { Model } from '../model/weights.ts';
import type { Machine, PassInfo } from './machine.ts';

/**
 * The CPU reference behind the machine interface. It may stand in for another machine's plan (the
 * demo without WebGPU): then it has that plan's passes, and its trace is the plan's, read off the
 * program (on the wafer, the fabric decode's closed form) — modelled, since nothing was counted.
 */
export interface StandIn {
  readonly plan: 'mesh' | 'gpu';
  readonly wafer?: WaferProgram;
  readonly decode?: FabricDecode;
  readonly passes: readonly PassInfo[];
  readonly trace: (token: number, pos: number, perLink: boolean) => MachineTrace;
}

export class CpuEngine implements Machine {
  readonly engine = 'cpu' as const;
  readonly plan: 'mesh' | 'gpu' | null;
  readonly wafer: WaferProgram | null;
  readonly decode: FabricDecode | null;
  readonly description: string;
  readonly passes: readonly PassInfo[];
  readonly liveBuffers = 0;
  private ref: ReferenceTransformer;
  private last: { token: number; pos: number } | undefined;

  constructor(model: Model, private readonly standIn?: StandIn) {
    this.ref = new ReferenceTransformer(model);
    this.plan = standIn?.plan ?? null;
    this.wafer = standIn?.wafer ?? null;
    this.decode = standIn?.decode ?? null;
    this.passes = standIn?.passes ?? [{ name: 'forward', layer: null }];
    this.description = `CPU reference (TypeScript, float32 storage)${standIn ? `, standing in for the ${standIn.plan} plan` : ''}`;
  }

  get config() {
    return this.ref.config;
  }

  get context(): number {
    return this.ref.config.seqLen;
  }

  async forward(token: number, pos: number): Promise<Float32Array> {
    const logits = this.ref.forward(token, pos);
    this.last = { token, pos };
    return logits;
  }

  /**
   * The prompt as one batch (the reference's prefill): positions startPos … startPos+T−1 enter the
   * KV cache; returns the logits of the last one, (vocab,). A plan costs one token at a time, so a
   * prefill leaves no trace (lastTrace() is undefined until the next forward).
   */
  async prefill(tokens: readonly number[], startPos: number): Promise<Float32Array> {
    const all = this.ref.prefill(tokens, startPos);
    const V = this.ref.config.vocabSize;
    this.last = undefined;
    return all.slice((tokens.length - 1) * V);
  }

  /** The KV cache of the first `positions` positions (a prefill's hand-off to another machine). */
  async kvCache(positions: number): Promise<KvCache> {
    return this.ref.kvCache(positions);
  }

  /** Takes over a KV cache another machine computed; decoding continues at kv.positions. */
  async importKv(kv: KvCache): Promise<void> {
    this.ref.loadKv(kv);
    this.last = undefined;
  }

  /** The reference has no passes of its own: the last pass computes the whole token. */
  async stepPass(token: number, pos: number, pass: number): Promise<Float32Array | undefined> {
    return pass === this.passes.length - 1 ? this.forward(token, pos) : undefined;
  }

  lastTrace(perLink = false): MachineTrace | undefined {
    return this.last && this.standIn ? this.standIn.trace(this.last.token, this.last.pos, perLink) : undefined;
  }

  reset(): void {
    this.ref.reset();
    this.last = undefined;
  }

  dispose(): void {}
}
