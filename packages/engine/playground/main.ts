// The playground page: an editor checked as you type against POST {path}/check, the catalog from
// GET {path}, and runs as sessions through @enclave-kit/client (streamed logs and tool calls, cancel).
// Everything shown is set as text (never as HTML): tool descriptions, logs and results are data.
import { defaultKeymap, history, historyKeymap, indentWithTab, temporarilySetTabFocusMode } from '@codemirror/commands';
import { javascript } from '@codemirror/lang-javascript';
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import type { Diagnostic } from '@codemirror/lint';
import { forceLinting, lintGutter, lintKeymap, linter } from '@codemirror/lint';
import type { Text } from '@codemirror/state';
import { EditorState, StateEffect } from '@codemirror/state';
import { EditorView, drawSelection, highlightActiveLine, keymap, lineNumbers } from '@codemirror/view';
// The client's sources, bundled into the page: the engine's package must not depend on the client's.
import { EnclaveClientError, createEnclaveClient } from '../../client/src/index.js';
import type { EnclaveCatalog, EnclaveClient, EnclaveEvent, ExecutionResult } from '../../client/src/index.js';
import { agentScript, setToolNames } from './agentscript.js';
import type { CheckAnswer, CheckIssue } from './wire.js';

const HEADERS_KEY = 'enclave-kit.playground.headers';
const CHECK_DELAY_MS = 400;
const HEADERS_DELAY_MS = 400;
const SAMPLE = `// The body of an async function: call your tools with await callTool(name, args),
// read the request's input as \`input\`, and return the result.
console.log('input:', input);
return input;
`;

/** The route the page belongs to: its own URL without `/playground`, so nothing of the request is echoed into the HTML. */
const api = new URL(location.pathname.replace(/\/playground\/?$/, ''), location.origin).toString();

function byId<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`The page has no #${id}.`);
  return found as T;
}

const ui = {
  level: byId('level'),
  limits: byId('limits'),
  catalog: byId('catalog'),
  editor: byId('editor'),
  checkNote: byId('check-note'),
  run: byId<HTMLButtonElement>('run'),
  cancel: byId<HTMLButtonElement>('cancel'),
  status: byId('status'),
  input: byId<HTMLTextAreaElement>('input'),
  inputError: byId('input-error'),
  headers: byId<HTMLTextAreaElement>('headers'),
  headersError: byId('headers-error'),
  logs: byId<HTMLOListElement>('logs'),
  timeline: byId<HTMLOListElement>('timeline'),
  result: byId<HTMLPreElement>('result'),
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className !== undefined) node.className = className;
  return node;
}

function setStatus(text: string): void {
  ui.status.textContent = text;
}

function showFieldError(field: HTMLTextAreaElement, note: HTMLElement, message: string | undefined): void {
  note.hidden = message === undefined;
  note.textContent = message ?? '';
  if (message === undefined) field.removeAttribute('aria-invalid');
  else field.setAttribute('aria-invalid', 'true');
}

// ---- headers: `Name: value` lines, kept in this origin's localStorage --------------------------------

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The headers box as an object, or the first line that is not a header. */
function readHeaders(): { ok: true; headers: Record<string, string> } | { ok: false; message: string } {
  const headers: Record<string, string> = {};
  const lines = ui.headers.value.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!HEADER_NAME.test(name)) return { ok: false, message: `Line ${i + 1} is not a header: write it as Name: value.` };
    headers[name.toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { ok: true, headers };
}

function currentHeaders(): Record<string, string> | undefined {
  const read = readHeaders();
  showFieldError(ui.headers, ui.headersError, read.ok ? undefined : read.message);
  return read.ok ? read.headers : undefined;
}

function storage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined; // storage disabled: the box still works for this visit
  }
}

ui.headers.value = storage()?.getItem(HEADERS_KEY) ?? '';
let headersTimer: ReturnType<typeof setTimeout> | undefined;
ui.headers.addEventListener('input', () => {
  try {
    storage()?.setItem(HEADERS_KEY, ui.headers.value);
  } catch {
    // quota or privacy mode: nothing to keep
  }
  // Once typing pauses: not a catalog request (which counts against a rate limit) per keystroke.
  clearTimeout(headersTimer);
  headersTimer = setTimeout(() => {
    if (currentHeaders() === undefined) return;
    void loadCatalog();
    recheck();
  }, HEADERS_DELAY_MS);
});

// ---- input JSON ---------------------------------------------------------------------------------------

ui.input.value = '{}';

/** The input box as a value (`undefined` when empty); invalid JSON is reported, never sent. */
function readInput(): { ok: true; value: unknown } | { ok: false } {
  const text = ui.input.value.trim();
  if (text === '') {
    showFieldError(ui.input, ui.inputError, undefined);
    return { ok: true, value: undefined };
  }
  try {
    const value: unknown = JSON.parse(text);
    showFieldError(ui.input, ui.inputError, undefined);
    return { ok: true, value };
  } catch (err) {
    showFieldError(ui.input, ui.inputError, `The input is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    return { ok: false };
  }
}
ui.input.addEventListener('input', () => void readInput());

// ---- requests -----------------------------------------------------------------------------------------

/** The refusal of a request in the route's JSON shape, as one line. */
async function refusal(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    return `${res.status} ${body.error?.code ?? ''}: ${body.error?.message ?? res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

/** The catalog request in flight: a newer one (the headers changed) aborts it, so answers never land out of order. */
let catalogRequest: AbortController | undefined;

async function loadCatalog(): Promise<void> {
  const headers = currentHeaders();
  if (headers === undefined) return;
  catalogRequest?.abort();
  const mine = new AbortController();
  catalogRequest = mine;
  const res = await fetch(api, { headers, signal: mine.signal }).catch(() => undefined);
  let catalog: EnclaveCatalog | undefined;
  let why = 'the server did not answer';
  if (res !== undefined) {
    if (res.ok) catalog = (await res.json().catch(() => undefined)) as EnclaveCatalog | undefined;
    why = res.ok ? 'its answer is not a catalog' : await refusal(res);
  }
  if (mine.signal.aborted) return;
  ui.catalog.replaceChildren();
  if (catalog === undefined || !Array.isArray(catalog.tools)) {
    view.dispatch({ effects: setToolNames.of([]) });
    ui.level.textContent = `The catalog is not available (${why}).`;
    ui.limits.textContent = res?.status === 401 ? 'Enter the headers your server authenticates with, e.g. x-user: alice.' : '';
    return;
  }
  showCatalog(catalog);
}

function showCatalog(catalog: EnclaveCatalog): void {
  const { limits } = catalog;
  view.dispatch({ effects: setToolNames.of(catalog.tools.map((t) => t.name)) });
  ui.level.textContent = `Security level ${catalog.securityLevel}`;
  ui.limits.textContent = `Limits: timeout ${limits.timeout} ms, ${limits.maxToolCalls} tool calls, ${limits.maxIterations} iterations.`;
  if (catalog.tools.length === 0) ui.catalog.append(el('p', catalog.openToolNames ? 'A tool handler serves any tool name.' : 'No tools for this user.', 'muted'));
  for (const tool of catalog.tools as (EnclaveCatalog['tools'][number] & { declaration?: string })[]) {
    const item = el('article', undefined, 'tool');
    item.append(el('h3', tool.name));
    if (tool.description) item.append(el('p', tool.description));
    if (tool.sideEffect) item.append(el('p', 'Side effect: changes state outside the script.', 'muted'));
    if (tool.declaration) item.append(details('TypeScript declaration', tool.declaration));
    if (tool.inputSchema) item.append(details('Arguments (JSON Schema)', JSON.stringify(tool.inputSchema, null, 2)));
    if (tool.outputSchema) item.append(details('Result (JSON Schema)', JSON.stringify(tool.outputSchema, null, 2)));
    ui.catalog.append(item);
  }
}

function details(summary: string, text: string): HTMLDetailsElement {
  const d = el('details');
  d.append(el('summary', summary), el('pre', text));
  return d;
}

// ---- the editor, checked as you type ----------------------------------------------------------------

/** An offset of `doc` from a 1-based line and column, clamped into the document. */
function offsetOf(doc: Text, line: number, column: number): number {
  const l = doc.line(Math.min(Math.max(1, line), doc.lines));
  return Math.min(l.from + Math.max(0, column - 1), l.to);
}

function diagnosticOf(doc: Text, issue: CheckIssue, source: string): Diagnostic {
  const from = offsetOf(doc, issue.line, issue.column);
  let to = issue.endLine !== undefined && issue.endColumn !== undefined ? offsetOf(doc, issue.endLine, issue.endColumn) : from;
  // A point would be hard to see: mark to the end of the word, or of the line.
  if (to <= from) to = Math.min(doc.lineAt(from).to, from + Math.max(1, /^[\w$]*/.exec(doc.sliceString(from, doc.lineAt(from).to))?.[0].length ?? 1));
  const quoted = issue.ruleId === 'unknown-tool';
  return {
    from,
    to,
    severity: issue.severity,
    source,
    message: `${issue.message}${issue.hint ? ` ${issue.hint}` : ''}${issue.ruleId ? ` [${issue.ruleId}]` : ''}`,
    actions: (issue.suggestions ?? []).map((name) => ({
      name: `Use ${name}`,
      apply(v: EditorView, start: number, end: number) {
        const quote = quoted ? v.state.doc.sliceString(start, start + 1) : '';
        v.dispatch({ changes: { from: start, to: end, insert: `${quote}${name}${quote}` } });
      },
    })),
  };
}

/** Asks for a new check of an unchanged script (new headers, a run's error to mark). */
const recheckEffect = StateEffect.define<null>();

function recheck(): void {
  view.dispatch({ effects: recheckEffect.of(null) });
  forceLinting(view);
}

/** The last run's error, marked while the script is the one that ran. */
let runMarks: { code: string; issues: CheckIssue[] } | undefined;

async function checkScript(v: EditorView): Promise<Diagnostic[]> {
  const code = v.state.doc.toString();
  const marks = runMarks !== undefined && runMarks.code === code ? runMarks.issues.map((i) => diagnosticOf(v.state.doc, i, 'run')) : [];
  const headers = currentHeaders();
  if (headers === undefined || code.trim() === '') return marks;
  let res: Response;
  try {
    res = await fetch(`${api}/check`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
  } catch {
    ui.checkNote.textContent = 'Check: the server did not answer.';
    return marks;
  }
  if (!res.ok) {
    ui.checkNote.textContent = `Check refused: ${await refusal(res)}`;
    return marks;
  }
  const report = (await res.json()) as CheckAnswer;
  const errors = report.issues.filter((i) => i.severity === 'error').length;
  const warnings = report.issues.length - errors;
  ui.checkNote.textContent = report.issues.length === 0 ? 'Check: no problems.' : `Check: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}.`;
  return [...report.issues.map((i) => diagnosticOf(v.state.doc, i, 'check')), ...marks];
}

/** The CSP nonce of this response: the editor's injected styles carry it. */
const nonce = (document.getElementById('playground-script') as HTMLScriptElement | null)?.nonce ?? '';

const view = new EditorView({
  parent: ui.editor,
  state: EditorState.create({
    doc: SAMPLE,
    extensions: [
      EditorView.cspNonce.of(nonce),
      lineNumbers(),
      history(),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      highlightActiveLine(),
      EditorView.lineWrapping,
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      javascript(),
      agentScript(),
      lintGutter(),
      linter(checkScript, { delay: CHECK_DELAY_MS, needsRefresh: (update) => update.transactions.some((tr) => tr.effects.some((e) => e.is(recheckEffect))) }),
      keymap.of([
        { key: 'Mod-Enter', run: () => (void run(), true) },
        // Tab indents in the editor; Escape, then Tab, moves the focus on (WCAG: no keyboard trap).
        { key: 'Escape', run: temporarilySetTabFocusMode },
        indentWithTab,
        // Ctrl+Shift+M (⌘+Shift+M) lists every issue in a panel, with their fixes; F8 goes to the next.
        ...lintKeymap,
        ...defaultKeymap,
        ...historyKeymap,
      ]),
      EditorView.contentAttributes.of({ 'aria-label': 'AgentScript editor', 'aria-describedby': 'editor-help' }),
    ],
  }),
});

// ---- runs ---------------------------------------------------------------------------------------------

/** Ends the run in progress: cancels its session, or aborts the plain request of a route without sessions. */
let cancelCurrent: (() => Promise<void>) | undefined;

function setRunning(running: boolean): void {
  ui.run.disabled = running;
  ui.cancel.disabled = !running;
}

function addLog(level: string, message: string): void {
  ui.logs.append(el('li', `[${level}] ${message}`, level));
  ui.logs.scrollTop = ui.logs.scrollHeight;
}

const calls = new Map<number, HTMLLIElement>();
/** When the run started (its session_init event), for the timeline's offsets. */
let startedAt: number | undefined;

/** `+N ms` into the run, by the server's clock. */
const offset = (time: number) => `+${Math.max(0, Math.round(time - (startedAt ?? time)))} ms`;

function onEvent(event: EnclaveEvent): void {
  if (event.type === 'session_init') {
    startedAt = event.time;
    setStatus('Running…');
  }
  else if (event.type === 'log') addLog(event.payload.level, event.payload.message);
  else if (event.type === 'tool_call') {
    const item = el('li', `#${event.payload.callId} ${event.payload.tool} … running`, 'pending');
    item.dataset.at = offset(event.time);
    item.prepend(el('span', item.dataset.at, 'at'));
    calls.set(event.payload.callId, item);
    ui.timeline.append(item);
    setStatus(`Running: calling ${event.payload.tool}…`);
  } else if (event.type === 'tool_result') {
    const { callId, tool, ok, durationMs, error } = event.payload;
    const item = calls.get(callId) ?? ui.timeline.appendChild(el('li'));
    item.className = ok ? 'ok' : 'failed';
    item.textContent = `#${callId} ${tool} ${ok ? 'ok' : `failed: ${error?.code ?? ''} ${error?.message ?? ''}`} (${Math.round(durationMs)} ms)`;
    item.prepend(el('span', item.dataset.at ?? offset(event.time - durationMs), 'at'));
  } else if (event.type === 'events_dropped') addLog('warn', `${event.payload.count} earlier log lines were dropped by the server.`);
}

function showResult(result: ExecutionResult, code: string): void {
  const { stats } = result;
  const cost = `${Math.round(stats.duration)} ms, ${stats.toolCallCount} tool call${stats.toolCallCount === 1 ? '' : 's'}`;
  if (result.success) {
    ui.result.className = 'result success';
    ui.result.textContent = result.value === undefined ? 'undefined' : JSON.stringify(result.value, null, 2);
    setStatus(`Done in ${cost}.`);
    runMarks = undefined;
  } else {
    const { error } = result;
    const at = error.location ? ` at line ${error.location.line}, column ${error.location.column}` : '';
    ui.result.className = 'result failure';
    ui.result.textContent = `${error.code}${at}: ${error.message}`;
    setStatus(error.code === 'ABORTED' ? 'Cancelled.' : `Failed: ${error.code}${at}.`);
    const listed = Array.isArray(error.data?.issues) ? (error.data.issues as CheckIssue[]).map((i) => ({ ...i, severity: 'error' as const })) : [];
    const located = error.location ? [{ ruleId: error.code, severity: 'error' as const, message: `${error.code}: ${error.message}`, line: error.location.line, column: error.location.column }] : [];
    runMarks = { code, issues: listed.length > 0 ? listed : located };
  }
  recheck();
}

async function run(): Promise<void> {
  if (cancelCurrent !== undefined) return;
  const input = readInput();
  if (!input.ok) {
    setStatus('Not run: the input is not valid JSON.');
    ui.input.focus();
    return;
  }
  const headers = currentHeaders();
  if (headers === undefined) {
    setStatus('Not run: the headers box has a line that is not a header.');
    ui.headers.focus();
    return;
  }
  const code = view.state.doc.toString();
  ui.logs.replaceChildren();
  ui.timeline.replaceChildren();
  calls.clear();
  startedAt = undefined;
  ui.result.className = 'result';
  ui.result.textContent = '';
  setRunning(true);
  setStatus('Starting…');
  const client = createEnclaveClient({ url: api, headers });
  const options = input.value === undefined ? {} : { input: input.value };
  const stream = client.stream(code, options);
  cancelCurrent = () => stream.cancel().then(() => undefined);
  let events = 0;
  try {
    for await (const event of stream) {
      events++;
      onEvent(event);
    }
    showResult(await stream.result, code);
  } catch (err) {
    // A route with `sessions: false` has no {path}/sessions: nothing ran, so run on the JSON route
    // instead, without streaming; Cancel then aborts the request, which aborts the run on the server.
    if (events === 0 && err instanceof EnclaveClientError && err.status === 404) await runWithoutSession(client, code, options);
    else showRequestFailure(err, events > 0);
  } finally {
    cancelCurrent = undefined;
    setRunning(false);
  }
}

async function runWithoutSession(client: EnclaveClient, code: string, options: { input?: unknown }): Promise<void> {
  const aborter = new AbortController();
  cancelCurrent = async () => aborter.abort();
  setStatus('Running (this route has no sessions: the logs and tool calls come with the result)…');
  try {
    const result = await client.run(code, { ...options, signal: aborter.signal });
    for (const log of result.logs ?? []) addLog(log.level, log.message);
    showResult(result, code);
  } catch (err) {
    if (aborter.signal.aborted) {
      ui.result.className = 'result failure';
      ui.result.textContent = 'ABORTED: the request was cancelled, and with it the run.';
      setStatus('Cancelled.');
    } else showRequestFailure(err, false);
  }
}

/** A request the server refused, or a connection lost: `started` when the run had begun streaming. */
function showRequestFailure(err: unknown, started: boolean): void {
  ui.result.className = 'result failure';
  ui.result.textContent = err instanceof EnclaveClientError ? `${err.status ?? ''} ${err.code}: ${err.message}`.trim() : String(err);
  if (started) setStatus('Lost the run: its events stopped arriving, and it may still be going on the server.');
  else setStatus(err instanceof EnclaveClientError && err.status === 401 ? 'Not run: 401, enter the headers your server authenticates with.' : 'Not run: the request failed.');
}

async function cancel(): Promise<void> {
  const stop = cancelCurrent;
  if (stop === undefined) return;
  ui.cancel.disabled = true;
  setStatus('Cancelling…');
  try {
    await stop();
  } catch (err) {
    setStatus(`Cancel failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

ui.run.addEventListener('click', () => void run());
ui.cancel.addEventListener('click', () => void cancel());
// Ctrl/Cmd+Enter runs from anywhere on the page (the editor binds it too).
document.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !event.defaultPrevented) {
    event.preventDefault();
    void run();
  }
});

void loadCatalog();
