import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeGpu } from '../../src/gpu/node.ts';
import type { SessionHost } from '../../src/worker/session.ts';
import type { SessionRequest } from '../../src/worker/types.ts';

const ROOT = resolve(__dirname, '../..');

/** The demo's race as a page's URL asks for it: wm-stories (served from public/models/) on 8x8 WSE-3 cores, greedy; `over` on top. */
export function demoRequest(over: Partial<SessionRequest> = {}): SessionRequest {
  return {
    model: 'wm-stories',
    modelBaseUrl: pathToFileURL(resolve(ROOT, 'public/models/')).href + '/',
    mesh: { width: 8, height: 8 },
    preset: 'wse-3',
    allreduce: 'ktree',
    prompt: 'Once upon a time',
    tokens: 12,
    temperature: 0,
    topP: 1,
    seed: 42,
    ...over,
  };
}

/** A served file read as the worker's fetch reads it (file: URLs here). */
export async function fileBytes(url: string): Promise<ArrayBuffer> {
  const b = readFileSync(new URL(url));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** A host whose sessions each take (and destroy) a device of their own; without `gpu`, WebGPU is missing. */
export function sessionHost(gpu = true): SessionHost {
  return { gpu: gpu ? nodeGpu : () => Promise.reject(new Error('no-webgpu: navigator.gpu is missing')), fetchBytes: fileBytes };
}
