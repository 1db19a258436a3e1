import { WafermeshError } from '../errors.ts';
import type { Model } from '../model/weights.ts';
import { CpuEngine } from './cpu.ts';
import type { Engine, EngineName } from './engine.ts';

/** Engines this build can create; the CLI, the bench and the worker all go through here. */
export const AVAILABLE_ENGINES: readonly EngineName[] = ['cpu'];

export async function createEngine(name: string, model: Model): Promise<Engine> {
  switch (name) {
    case 'cpu':
      return new CpuEngine(model);
    default:
      throw new WafermeshError('unknown-engine', `engine "${name}" is not one of ${AVAILABLE_ENGINES.join(', ')}`);
  }
}
