import { WafermeshError } from '../errors.ts';
import baseline from '../../shaders/baseline.wgsl?raw';
import baseline_prefill from '../../shaders/baseline_prefill.wgsl?raw';
import fabric from '../../shaders/fabric.wgsl?raw';
import gemm_core from '../../shaders/gemm_core.wgsl?raw';
import matvec from '../../shaders/matvec.wgsl?raw';
import mesh_core from '../../shaders/mesh_core.wgsl?raw';
import prefill_core from '../../shaders/prefill_core.wgsl?raw';

/**
 * Every kernel's WGSL, imported one way everywhere (Vite `?raw`: the demo, vitest and the CLI's
 * module runner share it). Keys are the file names under shaders/ without `.wgsl`.
 */
export const SHADERS = {
  baseline,
  baseline_prefill,
  fabric,
  gemm_core,
  matvec,
  mesh_core,
  prefill_core,
} as const;

export type ShaderName = keyof typeof SHADERS;

/**
 * Compiles a kernel's module, labelled with its name, and refuses it with file:line:column and
 * the offending source line if the compiler reports an error. `prelude` is WGSL generated from
 * TypeScript (constants that size arrays or name fields, which `override`s cannot do), put before
 * the file; errors in the file keep the file's own line numbers.
 */
export async function compileShader(device: GPUDevice, name: ShaderName, file: string = SHADERS[name], prelude = ''): Promise<GPUShaderModule> {
  const code = prelude ? `${prelude.replace(/\n?$/, '\n')}${file}` : file;
  const preludeLines = prelude ? code.split('\n').length - file.split('\n').length : 0;
  // Scoped so a broken module is reported once, here, with its line, rather than again as an
  // uncaptured error. The scope is only around the module's creation: nothing else is caught.
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: name, code });
  const scoped = device.popErrorScope();
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  const validation = await scoped;
  if (errors.length > 0) {
    const m = errors[0];
    const inPrelude = m.lineNum <= preludeLines;
    const where = inPrelude ? `shaders/${name}.wgsl (generated prelude)` : `shaders/${name}.wgsl`;
    throw new WafermeshError('shader-compile', formatCompilationMessage(where, code, m, inPrelude ? 0 : preludeLines));
  }
  if (validation) {
    throw new WafermeshError('shader-compile', `shaders/${name}.wgsl: ${validation.message.replace(/\s+/g, ' ').trim()}`);
  }
  return module;
}

/** "shaders/x.wgsl:12:5: <message> — `<source line>`" (`skip`: generated lines before the file's). */
export function formatCompilationMessage(file: string, code: string, m: GPUCompilationMessage, skip = 0): string {
  const line = code.split('\n')[m.lineNum - 1]?.trim() ?? '';
  const msg = m.message.replace(/\s+/g, ' ').trim();
  return `${file}:${m.lineNum - skip}:${m.linePos}: ${msg} — \`${line}\``;
}
