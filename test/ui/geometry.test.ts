import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coreAt, coreRect, layoutWafer, linkSegment } from '../../src/ui/geometry.ts';

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

