import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/catalog.ts';
import { allreduceIds, defaultState, isPlacement, PLACEMENTS, demoModels, MAX_URL_PROMPT, modelHasTokenizer, parseState, promptClearedMessage, RACE_MODES, serializeState, waferPresets } from '../../src/ui/url-state.ts';

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
    for (const model of demoModels(CATALOG)) expect(parseState(serializeState({ ...DEFAULT, model, prompt: '' }), CATALOG).errors).toEqual([]);
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

  it("takes the CLI's alias tree for the K-tree, without a message", () => {
    expect(parseState('?allreduce=tree', CATALOG)).toEqual({ state: { ...DEFAULT, allreduce: 'ktree' }, errors: [] });
  });

  it('offers the random model once (it used to appear twice once chosen)', () => {
    const models = demoModels(CATALOG);
    expect(new Set(models).size).toBe(models.length);
    expect(models.filter((m) => m === CATALOG.demoRandomModel)).toHaveLength(1);
  });

  it('clears the prompt of a model without a tokenizer, with a message, instead of failing on it', () => {
    const { state, errors } = parseState(serializeState({ ...DEFAULT, model: CATALOG.demoRandomModel }), CATALOG);
    expect(state.prompt).toBe('');
    expect(state.model).toBe(CATALOG.demoRandomModel);
    expect(errors).toEqual([promptClearedMessage(CATALOG.demoRandomModel)]);
    expect(errors[0]).toMatch(/^the prompt was cleared: random:.* has no tokenizer/);
    expect(modelHasTokenizer('file', {})).toBe(false);
    expect(modelHasTokenizer('file', { tokenizer: new ArrayBuffer(4) })).toBe(true);
    expect(modelHasTokenizer(CATALOG.defaults.model)).toBe(true);
    // A model with a tokenizer keeps its prompt.
    expect(parseState('?prompt=Hello', CATALOG)).toEqual({ state: { ...DEFAULT, prompt: 'Hello' }, errors: [] });
  });

  it('says so when a URL prompt is cut to its limit, and not before', () => {
    const long = 'a'.repeat(MAX_URL_PROMPT + 500);
    const cut = parseState(`?prompt=${long}`, CATALOG);
    expect(cut.state.prompt).toHaveLength(MAX_URL_PROMPT);
    expect(cut.errors).toEqual([`prompt is 2,500 characters; it was cut to the first 2,000`]);
    expect(parseState(`?prompt=${'b'.repeat(MAX_URL_PROMPT)}`, CATALOG).errors).toEqual([]);
  });

  it('keeps the lesson and the race mode in the URL, and refuses a race it does not know', () => {
    const s = { ...DEFAULT, lesson: 3, race: 'llama-8b' as const, speed: 0.001 };
    expect(serializeState(s)).toMatch(/race=llama-8b.*lesson=3/);
    expect(parseState(serializeState(s), CATALOG)).toEqual({ state: s, errors: [] });
    for (const r of RACE_MODES) expect(parseState(`?race=${r}`, CATALOG).state.race).toBe(r);
    const bad = parseState('?race=f1&lesson=-2&speed=0', CATALOG);
    expect(bad.state.race).toBe('emulated');
    expect(bad.errors).toEqual(['speed=0 is not in 0.0001…100; using the default', 'lesson=-2 is not a lesson number; using the default', 'race=f1 is not emulated, llama-8b or seed; using emulated']);
  });

  it('keeps the placement in the URL (whole is the default and not written), refuses one the wafer does not run, and falls back to whole with the disaggregated mode', () => {
    expect(DEFAULT.placement).toBe('whole');
    expect(serializeState(DEFAULT)).not.toMatch(/placement/);
    for (const placement of [...PLACEMENTS, 'pipelined:3', 'pipelined:9999']) {
      const s = { ...DEFAULT, placement };
      expect(parseState(serializeState(s), CATALOG), placement).toEqual({ state: s, errors: [] });
    }
    expect(serializeState({ ...DEFAULT, placement: 'pipelined:1' })).toMatch(/[?&]placement=pipelined%3A1(&|$)/);
    for (const bad of ['pipelined:0', 'pipelined:-1', 'pipelined:1.5', 'pipelined:', 'subgrid', 'Whole', 'pipelined:10000']) {
      expect(isPlacement(bad), bad).toBe(false);
      expect(parseState(`?placement=${encodeURIComponent(bad)}`, CATALOG), bad).toEqual({
        state: DEFAULT,
        errors: [`placement=${bad} is not whole, pipelined or pipelined:G (G layers a block, 1 or more); using whole`],
      });
    }
    const both = parseState('?mode=disaggregated&placement=pipelined:2', CATALOG);
    expect(both.state).toEqual({ ...DEFAULT, serving: 'disaggregated', placement: 'whole' });
    expect(both.errors).toEqual(["placement=pipelined:2 runs with mode=monolithic only (the KV cache's hand-off into the wafer runs on the whole-mesh placement); using placement=whole"]);
  });
});
