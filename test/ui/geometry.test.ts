import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coreAt, coreRect, layoutWafer, linkSegment } from '../../src/ui/geometry.ts';
import { parseState, serializeState, DEFAULT_STATE } from '../../src/ui/url-state.ts';

describe('wafer view geometry', () => {
  it('finds the core under the centre of every core, on any mesh and canvas', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 100, max: 1200 }), (w, h, px) => {
        const l = layoutWafer(w, h, px, px);
        for (const core of [0, w * h - 1, Math.floor((w * h) / 2)]) {
          const r = coreRect(l, core);
          expect(coreAt(l, r.x + r.size / 2, r.y + r.size / 2)).toBe(core);
          expect(r.x).toBeGreaterThanOrEqual(0);
          expect(r.x + r.size).toBeLessThanOrEqual(px + 1);
        }
      }),
      { numRuns: 100, seed: 5 },
    );
  });

  it('draws links between neighbours and none off the edge', () => {
    const l = layoutWafer(4, 3, 400, 300);
    expect(linkSegment(l, 3 * 4 + 0)).toBeNull(); // core 3 is on the east edge
    expect(linkSegment(l, 0 * 4 + 3)).toBeNull(); // core 0 has no north neighbour
    const east = linkSegment(l, 5 * 4 + 0)!;
    expect(east.x1).toBeGreaterThan(east.x0);
    const south = linkSegment(l, 5 * 4 + 2)!;
    expect(south.y1).toBeGreaterThan(south.y0);
  });
});

describe('URL state', () => {
  it('round-trips', () => {
    const s = { ...DEFAULT_STATE, prompt: 'A dog & a cat', tokens: 7, mesh: { width: 6, height: 10 }, allreduce: 'ring' as const, autoplay: true };
    expect(parseState(serializeState(s))).toEqual({ state: s, errors: [] });
  });

  it('refuses bad values with a message each, keeping the defaults', () => {
    const { state, errors } = parseState('?mesh=0x9999&preset=tpu&tokens=-4&temperature=abc&model=stories15M');
    expect(state.mesh).toEqual(DEFAULT_STATE.mesh);
    expect(state.preset).toBe('wse-3');
    expect(state.tokens).toBe(DEFAULT_STATE.tokens);
    expect(errors).toHaveLength(5);
    expect(errors.join('\n')).toMatch(/mesh=0x9999 is not WIDTHxHEIGHT/);
    expect(errors.join('\n')).toMatch(/preset=tpu is unknown/);
  });
});
