import { LitElement, css, html } from 'lit';
import type { Lesson, Values } from '../lessons/lesson.ts';
import { fillText, type Segment } from '../lessons/values.ts';
import type { AppState } from '../url-state.ts';

/** What the learner's check says: right or not, and why (live numbers), or waiting for the run. */
export type Verdict = { state: 'waiting' } | { state: 'checked'; correct: boolean; answer: number; because: string };

/**
 * One lesson: its chapter and title, paragraphs with live numbers (each labelled measured,
 * modelled, exact…), a "try this" step, and a question answered before running, checked against
 * the live run. It only renders and reports: `lesson-nav` (detail: the lesson number to open, 0 to
 * close), `lesson-try`, `lesson-check` (detail: the choice).
 */
export class WmLesson extends LitElement {
  static override properties = {
    lesson: { attribute: false },
    number: { type: Number },
    count: { type: Number },
    state: { attribute: false },
    values: { attribute: false },
    verdict: { attribute: false },
    busy: { type: Boolean },
    choice: { state: true },
  };
  constructor() {
    super();
    this.lesson = null;
    this.number = 0;
    this.count = 0;
    this.state = null;
    this.values = () => null;
    this.verdict = null;
    this.busy = false;
    this.choice = -1;
  }

  declare lesson: Lesson | null;
  /** 1-based. */
  declare number: number;
  declare count: number;
  /** The demo's state the numbers are for. */
  declare state: AppState | null;
  /** How the lesson reads its numbers now. */
  declare values: Values;
  /** The check's outcome, or null before the learner checks. */
  declare verdict: Verdict | null;
  /** The demo is loading or stepping: the try-this button waits. */
  declare busy: boolean;
  private declare choice: number;

  static override styles = css`
    :host { display: block; }
    article { border: 1px solid var(--wm-border, #ccd); border-radius: 12px; background: var(--wm-surface, #fff); padding: 16px 20px; box-shadow: var(--wm-shadow, none); }
    header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px; }
    .chapter { color: var(--wm-accent-text, #1d4ed8); font-weight: 600; font-size: 12px; letter-spacing: 0.04em; text-transform: uppercase; }
    h2 { margin: 0; font-size: 22px; line-height: 1.25; flex: 1 1 300px; }
    .cols { display: grid; grid-template-columns: minmax(0, 3fr) minmax(260px, 2fr); gap: 20px; margin-top: 10px; }
    p { margin: 0 0 10px; line-height: 1.6; max-width: 70ch; }
    dfn { font-style: normal; font-weight: 600; border-bottom: 1px dotted currentColor; }
    .fig { white-space: nowrap; }
    .fig b { font-variant-numeric: tabular-nums; }
    .tag { font-size: 10px; color: var(--wm-muted, #555); margin-left: 3px; padding: 0 4px; border: 1px solid var(--wm-border, #ccd); border-radius: 8px; vertical-align: 1px; }
    .tag.measured { color: var(--wm-ok, #15803d); border-color: currentColor; }
    .tag.modelled { color: var(--wm-accent-text, #1d4ed8); border-color: currentColor; }
    table { border-collapse: collapse; margin: 4px 0 10px; font-size: 14px; font-variant-numeric: tabular-nums; }
    caption { text-align: left; font-size: 12px; color: var(--wm-muted, #555); padding-bottom: 4px; }
    th, td { padding: 4px 12px 4px 0; text-align: left; border-bottom: 1px solid var(--wm-border, #ccd); }
    thead th { font-size: 12px; color: var(--wm-muted, #555); font-weight: 600; }
    tbody th { font-weight: 600; }
    .try, fieldset { border: 1px solid var(--wm-border, #ccd); border-radius: 10px; padding: 10px 12px; margin: 0 0 12px; background: var(--wm-paper, #fbfbfd); }
    .try h3, legend { font-size: 13px; font-weight: 700; margin: 0 0 4px; padding: 0 4px; }
    .try p { margin-bottom: 8px; }
    fieldset p { margin-bottom: 6px; }
    .choice { display: flex; gap: 8px; align-items: flex-start; padding: 4px 0; cursor: pointer; line-height: 1.4; }
    .choice input { margin-top: 3px; accent-color: var(--wm-accent, #2563eb); }
    button { font: inherit; font-weight: 600; border-radius: 6px; padding: 6px 12px; border: 1px solid var(--wm-border, #c8ccd8); background: var(--wm-surface, #fff); color: var(--wm-text, #222); cursor: pointer; }
    button.primary { background: var(--wm-accent, #2563eb); border-color: var(--wm-accent, #2563eb); color: var(--wm-on-accent, #fff); }
    button:disabled { opacity: 0.45; cursor: default; }
    button:focus-visible, input:focus-visible { outline: 3px solid var(--wm-focus, #2563eb); outline-offset: 1px; }
    .verdict { margin-top: 8px; padding: 8px 10px; border-radius: 8px; line-height: 1.5; }
    .verdict.right { background: var(--wm-ok-soft, #dcfce7); color: var(--wm-ok-text, #14532d); }
    .verdict.wrong { background: var(--wm-warn-soft, #fef3c7); color: var(--wm-warn-text, #713f12); }
    nav { display: flex; gap: 8px; align-items: center; margin-top: 6px; flex-wrap: wrap; }
    nav .sep { flex: 1; }
    @media (max-width: 800px) { .cols { grid-template-columns: 1fr; } }
  `;

  override updated(changed: Map<string, unknown>) {
    if (changed.has('number') && changed.get('number') !== undefined) this.choice = -1;
  }

  private emit(name: string, detail?: unknown) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  private segments(text: string) {
    const l = this.lesson!;
    return fillText(text, l, this.state!, this.values).map((s: Segment) =>
      'term' in s
        ? html`<dfn>${s.term}</dfn>`
        : 'figure' in s
          ? html`<span class="fig" data-figure=${s.figure} data-raw=${s.raw === null ? '' : String(s.raw)}><b>${s.value}</b><span class="tag ${s.label}">${s.label}</span></span>`
          : s.text,
    );
  }

  override render() {
    const l = this.lesson;
    if (!l || !this.state) return html``;
    const q = l.question;
    const v = this.verdict;
    return html`
      <article data-testid="lesson" data-lesson=${String(this.number)} aria-labelledby="title">
        <header>
          <span class="chapter">Lesson ${this.number} of ${this.count}</span>
          <h2 id="title" data-testid="lesson-title">${l.title}</h2>
          <button @click=${() => this.emit('lesson-nav', 0)} aria-label="close the lesson">close ✕</button>
        </header>
        <div class="cols">
          <div data-testid="lesson-body">
            ${l.paragraphs.map((p) => html`<p>${this.segments(p)}</p>`)}
            ${l.table
              ? html`<table>
                  <caption>${this.segments(l.table.caption)}</caption>
                  <thead><tr>${l.table.columns.map((c) => html`<th scope="col">${this.segments(c)}</th>`)}</tr></thead>
                  <tbody>${l.table.rows.map((r) => html`<tr>${r.map((c, i) => (i === 0 ? html`<th scope="row">${this.segments(c)}</th>` : html`<td>${this.segments(c)}</td>`))}</tr>`)}</tbody>
                </table>`
              : ''}
          </div>
          <div>
            <fieldset data-testid="lesson-question">
              <legend>Predict first</legend>
              <p>${this.segments(q.text)}</p>
              ${q.choices.map(
                (c, i) => html`<label class="choice"><input type="radio" name="choice" data-testid="lesson-choice" .value=${String(i)} .checked=${this.choice === i}
                    @change=${() => (this.choice = i)} /><span>${this.segments(c)}</span></label>`,
              )}
              <button class="primary" data-testid="lesson-check" ?disabled=${this.choice < 0} @click=${() => this.emit('lesson-check', this.choice)}>check against the live run</button>
              ${v
                ? v.state === 'waiting'
                  ? html`<div class="verdict" data-testid="lesson-verdict" data-correct="" aria-live="polite">Running it to check…</div>`
                  : html`<div class="verdict ${v.correct ? 'right' : 'wrong'}" data-testid="lesson-verdict" data-correct=${String(v.correct)} data-answer=${String(v.answer)} aria-live="polite">
                      <b>${v.correct ? 'Right.' : `Not quite: the live run says “${q.choices[v.answer]}”.`}</b> ${this.segments(v.because)}
                    </div>`
                : ''}
            </fieldset>
            <section class="try">
              <h3>Try this</h3>
              <p>${this.segments(l.tryThis.text)}</p>
              <button data-testid="lesson-try" ?disabled=${this.busy} @click=${() => this.emit('lesson-try')}>do it</button>
            </section>
          </div>
        </div>
        <nav aria-label="previous and next lesson">
          <button data-testid="lesson-prev" ?disabled=${this.number <= 1} @click=${() => this.emit('lesson-nav', this.number - 1)}>← previous</button>
          <span class="sep"></span>
          <button class="primary" data-testid="lesson-next" ?disabled=${this.number >= this.count} @click=${() => this.emit('lesson-nav', this.number + 1)}>next →</button>
        </nav>
      </article>
    `;
  }
}
customElements.define('wm-lesson', WmLesson);
declare global {
  interface HTMLElementTagNameMap {
    'wm-lesson': WmLesson;
  }
}
