import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/catalog.ts';
import { allreduceIds, demoModels, isPlacement, MAX_URL_PROMPT, PLACEMENTS, modelHasTokenizer, parseState, RACE_MODES, serializeState, waferPresets } from '../../src/ui/url-state.ts';

const KEYS = ['model', 'prompt', 'tokens', 'temperature', 'top_p', 'seed', 'mesh', 'preset', 'allreduce', 'autoplay', 'speed', 'lesson', 'race', 'mode', 'placement'];

/**
 * Any address, however odd, gives a valid state (a bad value falls back to its default, with a
 * message naming it): parseState never throws, and what it gives survives a round trip.
 */
describe('the URL state parser, fuzzed', () => {
  it('random query strings give a valid state and messages, never an exception; the state round-trips through the URL', () => {
    const value = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.integer({ min: -5, max: 2000 }).map(String),
      fc.double().map(String),
      fc.tuple(fc.integer({ min: -1, max: 99 }), fc.integer({ min: -1, max: 99 })).map(([w, h]) => `${w}x${h}`),
      fc.constantFrom('', ' ', '1', 'NaN', 'Infinity', '1e999', '0x10', 'a\nb', '%', '%E0%A4%A', ...demoModels(CATALOG), ...waferPresets(CATALOG), ...allreduceIds(CATALOG), ...RACE_MODES, 'random:dim=8', 'file', ...PLACEMENTS, 'pipelined:0', 'pipelined:12', 'Pipelined', 'subgrid', 'monolithic', 'disaggregated'),
    );
    const pair = fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.string()), value, fc.boolean());
    const query = fc.oneof(
      fc.array(pair, { maxLength: 10 }).map((ps) => '?' + ps.map(([k, v, enc]) => (enc ? `${encodeURIComponent(k)}=${encodeURIComponent(v)}` : `${k}=${v}`)).join('&')),
      fc.string(),
      fc.string({ unit: 'binary' }),
    );
    fc.assert(
      fc.property(query, (search) => {
        const { state, errors } = parseState(search, CATALOG);
        for (const e of errors) {
          expect(typeof e).toBe('string');
          expect(e.length).toBeGreaterThan(0);
          // One line, and short: a bad value is shown escaped and cut, whatever it was.
          expect(e).not.toMatch(/[\u0000-\u001f\u007f\u2028\u2029]/);
          expect(e.length).toBeLessThan(400);
        }
        expect(demoModels(CATALOG).includes(state.model) || state.model.startsWith('random:')).toBe(true);
        expect(waferPresets(CATALOG)).toContain(state.preset);
        expect(allreduceIds(CATALOG)).toContain(state.allreduce);
        expect(RACE_MODES).toContain(state.race);
        expect(isPlacement(state.placement)).toBe(true);
        // The pipelined placement never goes with the disaggregated mode (the KV hand-off is the whole mesh's).
        if (state.serving === 'disaggregated') expect(state.placement).toBe('whole');
        expect(Number.isInteger(state.tokens) && state.tokens >= 1 && state.tokens <= 1024).toBe(true);
        expect(state.temperature >= 0 && state.temperature <= 10).toBe(true);
        expect(state.topP > 0 && state.topP <= 1).toBe(true);
        expect(Number.isInteger(state.seed) && state.seed >= 0).toBe(true);
        expect(state.speed >= 1e-4 && state.speed <= 100).toBe(true);
        expect(Number.isInteger(state.lesson) && state.lesson >= 0).toBe(true);
        expect([state.mesh.width, state.mesh.height].every((n) => Number.isInteger(n) && n >= 1 && n <= 64)).toBe(true);
        expect(state.prompt.length).toBeLessThanOrEqual(MAX_URL_PROMPT);
        if (state.prompt !== '') expect(modelHasTokenizer(state.model)).toBe(true);
        // What the page writes back to the address bar reads back the same, without a message.
        expect(parseState(serializeState(state), CATALOG)).toEqual({ state, errors: [] });
      }),
      { numRuns: 500, seed: 14, verbose: 1 },
    );
  });
});
