import { WafermeshError } from '../errors.ts';
import baseline from '../../shaders/baseline.wgsl?raw';
import matvec from '../../shaders/matvec.wgsl?raw';
import mesh_step from '../../shaders/mesh_step.wgsl?raw';

/**
 * Every kernel's WGSL, imported one way everywhere (Vite `?raw`: the demo, vitest and the CLI's
 * module runner share it). Keys are the file names under shaders/ without `.wgsl`.
 */
export const SHADERS = {
  baseline,
  matvec,
  mesh_step,
} as const;

export type ShaderName = keyof typeof SHADERS;

/**
 * Compiles a kernel's module, labelled with its name, and refuses it with file:line:column and
 * the offending source line if the compiler reports an error.
 */
export async function compileShader(device: GPUDevice, name: ShaderName, code: string = SHADERS[name]): Promise<GPUShaderModule> {
  // Scoped so a broken module is reported once, here, with its line, rather than again as an
  // uncaptured error. The scope is only around the module's creation: nothing else is caught.
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: name, code });
  const scoped = device.popErrorScope();
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  const validation = await scoped;
  if (errors.length > 0) {
    throw new WafermeshError('shader-compile', formatCompilationMessage(`shaders/${name}.wgsl`, code, errors[0]));
  }
  if (validation) {
    throw new WafermeshError('shader-compile', `shaders/${name}.wgsl: ${validation.message.replace(/\s+/g, ' ').trim()}`);
  }
  return module;
}

/** "shaders/x.wgsl:12:5: <message> — `<source line>`" */
export function formatCompilationMessage(file: string, code: string, m: GPUCompilationMessage): string {
  const line = code.split('\n')[m.lineNum - 1]?.trim() ?? '';
  const msg = m.message.replace(/\s+/g, ' ').trim();
  return `${file}:${m.lineNum}:${m.linePos}: ${msg} — \`${line}\``;
}
