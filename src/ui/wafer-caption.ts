import type { PhaseEvent, PhaseInfo, SessionInfo, TokenEvent } from '../worker/types.ts';

/**
 * What the wafer pane says about what it shows: which engine decodes it, the step or token drawn,
 * and its figures — each labelled measured (counted by the fabric shader where the words moved) or
 * modelled (the fabric decode's closed form, or the preset hardware's cycles and time). Pure: the
 * components render what this returns.
 */
export interface WaferCaption {
  /** The pane's heading. */
  heading: string;
  /** Which engine decodes the pane and where its link counts come from. */
  engine: string;
  /** The step or token drawn. */
  label: string;
  /** Its figures, each named measured or modelled. */
  figures: { name: string; value: string }[];
}

const n = (x: number) => Math.round(x).toLocaleString('en');

/** What the CPU stand-in's link counts are (no WebGPU: nothing is counted), said the same way everywhere. */
export const MODELLED = 'closed form (modelled)';

function engineLine(info: SessionInfo | null): { heading: string; engine: string } {
  if (!info) return { heading: 'The wafer', engine: '' };
  if (info.mode === 'webgpu') {
    return {
      heading: 'The wafer (mesh engine: link counts measured on the fabric)',
      engine: 'Mesh engine: words move only between neighbouring cores, and the fabric shader counts the words written into every link as they move — the link colours and words below are measured.',
    };
  }
  return {
    heading: `The wafer (${MODELLED})`,
    engine: `Link counts: ${MODELLED} — without WebGPU the CPU reference decodes this pane; the words per link are what the fabric decode's closed form says each phase moves, not counted.`,
  };
}

const stepName = (p: PhaseInfo) => `${p.kind === 'transfer' ? '→ ' : ''}${p.name}${p.layer !== null ? ` (layer ${p.layer})` : ''}`;

function phaseCaption(info: SessionInfo, ev: PhaseEvent): Omit<WaferCaption, 'heading' | 'engine'> {
  const m = ev.measured;
  const step = ev.phases[0];
  const head = `phase ${ev.pass + 1} of ${ev.passes} at position ${ev.pos}: ${ev.phases.map(stepName).join('; ')}`;
  const caption = step?.caption ? ` — ${step.caption}` : '';
  const moves = step?.kind === 'transfer';
  if (info.mode !== 'webgpu') {
    return {
      label: `${head}${caption}${moves ? '' : '; nothing moves on the fabric'}`,
      figures: [
        { name: `words on links (${MODELLED})`, value: n(ev.perLink.reduce((a, b) => a + b, 0)) },
        { name: 'cycles (modelled)', value: n(ev.cycles ?? 0) },
      ],
    };
  }
  if (!m) return { label: `${head}${caption}; nothing moves on the fabric`, figures: [{ name: 'words on links (measured)', value: '0' }] };
  const equal = m.firstDifference === null;
  return {
    label: `${head}${caption}`,
    figures: [
      { name: 'words on links (measured)', value: n(m.words) },
      { name: 'fabric steps (measured)', value: n(m.steps) },
      { name: 'modelled (closed form)', value: `${n(m.modelledWords)} words, ${n(m.modelledSteps)} steps` },
      { name: 'measured = modelled', value: equal ? 'yes' : `no: ${m.firstDifference}` },
    ],
  };
}

function tokenCaption(info: SessionInfo, ev: TokenEvent): Omit<WaferCaption, 'heading' | 'engine'> {
  // Disaggregated, the first token is the GPU's prefill and the hand-off: its modelled time, not the wafer's cycles.
  const cycles = ev.prefill?.handoff
    ? { name: "time to first token (modelled: the GPU's prefill, then the hand-off)", value: `${(ev.prefill.meshTtftSeconds * 1e3).toPrecision(3)} ms` }
    : { name: 'cycles on the preset (modelled)', value: n(ev.meshCost.seconds * info.presetClockHz) };
  const m = ev.measured;
  if (info.mode === 'webgpu' && m) {
    return {
      label: `token ${ev.index + 1} at position ${ev.pos}: all ${info.passes} phases — words measured on the fabric`,
      figures: [
        { name: 'words moved (measured)', value: n(m.words) },
        { name: 'fabric steps (measured)', value: n(m.steps) },
        { name: 'phases measured = modelled', value: `${m.phasesEqual} of ${m.phases}` },
        cycles,
      ],
    };
  }
  return {
    label: `token ${ev.index + 1} at position ${ev.pos}: all ${info.passes} phases — words on links from the closed form`,
    figures: [{ name: `words on links (${MODELLED})`, value: n(ev.perLink.reduce((a, b) => a + b, 0)) }, cycles],
  };
}

/** The disaggregated mode's first token: the wafer took the GPU's KV cache in; its links are the hand-off's fabric phases. */
function handoffCaption(info: SessionInfo, ev: TokenEvent): Omit<WaferCaption, 'heading' | 'engine'> {
  const h = ev.prefill!.handoff!;
  const m = ev.measured;
  const label = `token ${ev.index + 1} at position ${ev.pos}: the GPU's, from its prefill — the wafer took the KV cache of ${h.positions} positions in at its west edge`;
  if (info.mode === 'webgpu' && m) {
    return {
      label: `${label}; the links show the hand-off's ${m.phases} fabric phase${m.phases === 1 ? '' : 's'}, measured`,
      figures: [
        { name: 'hand-off words moved (measured)', value: n(m.words) },
        { name: 'fabric steps (measured)', value: n(m.steps) },
        { name: 'phases measured = modelled', value: `${m.phasesEqual} of ${m.phases}` },
        { name: 'hand-off time (modelled)', value: `${(h.modelledSeconds * 1e6).toPrecision(3)} µs` },
      ],
    };
  }
  return { label: `${label} (the CPU stands in: no fabric phases run)`, figures: [{ name: 'hand-off time (modelled)', value: `${(h.modelledSeconds * 1e6).toPrecision(3)} µs` }] };
}

/** The wafer pane's words for what is drawn: the phase just stepped alone, else the last token revealed, else nothing yet. */
export function waferCaption(info: SessionInfo | null, phase: PhaseEvent | null, lastToken: TokenEvent | null): WaferCaption {
  const e = engineLine(info);
  if (!info) return { ...e, label: 'the wafer, before the first token', figures: [] };
  if (phase) {
    const c = phaseCaption(info, phase);
    return { ...e, ...c, label: phase.token ? `${c.label} (it completes token ${phase.token.index + 1})` : c.label };
  }
  if (lastToken?.prefill?.handoff) return { ...e, ...handoffCaption(info, lastToken) };
  if (lastToken) return { ...e, ...tokenCaption(info, lastToken) };
  return { ...e, label: 'the wafer, before the first token', figures: [] };
}
