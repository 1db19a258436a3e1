import { ReferenceTransformer } from '../model/reference.ts';
import type { Model } from '../model/weights.ts';
import type { Engine } from './engine.ts';

/** The CPU reference behind the engine interface. */
export class CpuEngine implements Engine {
  readonly name = 'cpu' as const;
  readonly description = 'CPU reference (TypeScript, float32 storage)';
  private ref: ReferenceTransformer;

  constructor(model: Model) {
    this.ref = new ReferenceTransformer(model);
  }

  get config() {
    return this.ref.config;
  }

  get context(): number {
    return this.ref.config.seqLen;
  }

  async forward(token: number, pos: number): Promise<Float32Array> {
    return this.ref.forward(token, pos);
  }

  reset(): void {
    this.ref.reset();
  }

  dispose(): void {}
}
