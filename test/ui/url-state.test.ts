import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/catalog.ts';
import { allreduceIds, defaultState, demoModels, parseState, serializeState, waferPresets } from '../../src/ui/url-state.ts';

describe('URL state', () => {
  const DEFAULT = defaultState(CATALOG);

  it('takes its defaults from the catalog', () => {
    expect(DEFAULT.model).toBe(CATALOG.defaults.model);
    expect(DEFAULT.preset).toBe(CATALOG.defaults.wafer);
    expect(DEFAULT.allreduce).toBe(CATALOG.defaults.allreduce);
    expect(parseState('', CATALOG)).toEqual({ state: DEFAULT, errors: [] });
  });

  it('round-trips', () => {
    const s = { ...DEFAULT, prompt: 'A dog & a cat', tokens: 7, mesh: { width: 6, height: 10 }, allreduce: 'ring', autoplay: true };
    expect(parseState(serializeState(s), CATALOG)).toEqual({ state: s, errors: [] });
  });

  it('accepts every id the lists offer: demo models, the random model, wafer presets, allreduce algorithms', () => {
    for (const model of demoModels(CATALOG)) expect(parseState(serializeState({ ...DEFAULT, model }), CATALOG).errors).toEqual([]);
    for (const preset of waferPresets(CATALOG)) expect(parseState(`?preset=${preset}`, CATALOG).state.preset).toBe(preset);
    for (const allreduce of allreduceIds(CATALOG)) expect(parseState(`?allreduce=${allreduce}`, CATALOG).state.allreduce).toBe(allreduce);
    expect(demoModels(CATALOG)).toContain(CATALOG.demoRandomModel);
  });

  it('refuses bad values with a message each, keeping the defaults', () => {
    const { state, errors } = parseState('?mesh=0x9999&preset=tpu&tokens=-4&temperature=abc&model=stories15M', CATALOG);
    expect(state.mesh).toEqual(DEFAULT.mesh);
    expect(state.preset).toBe(CATALOG.defaults.wafer);
    expect(state.tokens).toBe(DEFAULT.tokens);
    expect(errors).toHaveLength(5);
    expect(errors.join('\n')).toMatch(/mesh=0x9999 is not WIDTHxHEIGHT/);
    expect(errors.join('\n')).toMatch(/preset=tpu is unknown/);
  });

  it("lists the catalog's ids in its messages, and refuses a GPU preset, a model the demo does not serve and an unknown allreduce", () => {
    const gpu = CATALOG.hardware.find((h) => h.kind === 'gpu')!.id;
    const notServed = CATALOG.models.find((m) => !m.demo)!.id;
    const { state, errors } = parseState(`?preset=${gpu}&model=${notServed}&allreduce=butterfly`, CATALOG);
    expect(state).toEqual(DEFAULT);
    expect(errors).toEqual([
      `model=${notServed} is not one the demo serves (${CATALOG.models.filter((m) => m.demo).map((m) => m.id).join(', ')} or random:<spec>); drop a checkpoint file instead`,
      `preset=${gpu} is unknown; use one of ${waferPresets(CATALOG).join(', ')}`,
      'allreduce=butterfly is not chain, ring or ktree; using ktree',
    ]);
  });
});
