import type { Lesson } from './lesson.ts';
import { memoryBound } from './01-memory-bound.ts';
import { weightsBesideCompute } from './02-weights-beside-compute.ts';
import { theMesh } from './03-the-mesh.ts';
import { collectives } from './04-collectives.ts';
import { kvCache } from './05-kv-cache.ts';
import { prefillDecode } from './06-prefill-decode.ts';
import { realScale } from './07-real-scale.ts';
import { measuredModelled } from './08-measured-modelled.ts';

/** The lessons, in order: `/?lesson=N` opens LESSONS[N - 1]. One file each in this folder. */
export const LESSONS: Lesson[] = [memoryBound, weightsBesideCompute, theMesh, collectives, kvCache, prefillDecode, realScale, measuredModelled];
