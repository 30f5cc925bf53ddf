/**
 * OpenTelemetry traces, when the host uses them: `@opentelemetry/api` is an optional peer dependency,
 * loaded on the first traced run. Each run is a span (`enclave.run`), each tool call a child span named
 * as the GenAI semantic conventions name tool executions (`execute_tool {gen_ai.tool.name}`), and a
 * tool handler runs inside its span's context, so the spans it makes itself nest under it. Without the
 * API installed, or without a tracer provider registered, this costs one check per run.
 */
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import { escapeJSONText } from './safe-text.js';

type Api = typeof import('@opentelemetry/api');

let api: Api | null | undefined;

/**
 * Where @opentelemetry/api 1.x keeps what a host registers (a tracer provider, a context manager). Until
 * something is registered there no span can record, so the API is not loaded: that load was about a
 * seventh of a cold start (import + first run) for hosts that do not trace. Checked again on every run,
 * so a provider registered later is seen.
 */
const OTEL_GLOBALS = Symbol.for('opentelemetry.js.api.1');

/** The API if it is installed and in use (undefined until loaded, null when it is not there). */
function otel(): Api | null {
  if (api !== undefined) return api;
  if ((globalThis as Record<symbol, unknown>)[OTEL_GLOBALS] === undefined) return null;
  try {
    // node:module's facade would load its SourceMap support at import (see node-types.ts).
    const { createRequire } = process.getBuiltinModule('node:module') as typeof import('node:module');
    api = createRequire(import.meta.url)('@opentelemetry/api') as Api;
  } catch {
    api = null;
  }
  return api;
}

const TRACER_NAME = '@enclave-kit/engine';
const SPAN_KIND_INTERNAL = 0;
const STATUS_ERROR = 2;

/** The tracing of one run: its span, and the context its tool calls run in. */
export interface RunTrace {
  readonly span: Span;
  readonly api: Api;
  readonly tracer: Tracer;
  readonly context: Context;
  /** Put arguments and results on tool spans (the host opted in). */
  readonly toolPayloads: boolean;
}

/**
 * Starts a run's span under `parent` (the request's context, or the active one), or returns undefined
 * when nothing would record it: no API, or no tracer provider registered. `placement` says where the
 * run will run (`enclave.isolation`), asked once the context manager is in use (below). `pausedRun`, a
 * resumed run's ids of the span that paused (from its journal, checked there), becomes a link: the
 * resumed run is under the deciding request's trace, and the link leads back to the run's start.
 */
export function startRunTrace(parent: unknown, attributes: Attributes, placement: () => string, toolPayloads: boolean, pausedRun?: readonly [traceId: string, spanId: string]): RunTrace | undefined {
  const a = otel();
  if (a === null) return undefined;
  const tracer = a.trace.getTracer(TRACER_NAME);
  const parentContext = (parent as Context | undefined) ?? a.context.active();
  // Only the ids are kept across a pause: the link's flags say nothing (none set).
  const links = pausedRun === undefined ? [] : [{ context: { traceId: pausedRun[0], spanId: pausedRun[1], traceFlags: 0, isRemote: true }, attributes: { 'enclave.link': 'paused_run' } }];
  const span = tracer.startSpan('enclave.run', { kind: SPAN_KIND_INTERNAL, attributes, links }, parentContext);
  if (!span.isRecording()) {
    span.end();
    return undefined;
  }
  // Each tool call runs in its span's context (context.with): with an AsyncLocalStorage context
  // manager, the first such call of the process would be the host's first use of its storage, in the
  // middle of a vm run, and that ends the run (sandbox/async-context.ts; the first traced run of a host
  // set up as README's Tracing shows, with no HTTP instrumentation entering a context before it, failed
  // as INTERNAL_ERROR after its first tool call). Entered here, before the run picks its isolation.
  a.context.with(parentContext, noop);
  span.setAttribute('enclave.isolation', placement());
  return { span, api: a, tracer, context: a.trace.setSpan(parentContext, span), toolPayloads };
}

const noop = (): void => undefined;

/** The ids of a run's span, for the journal of a pause (see `startRunTrace`'s `pausedRun`). */
export function runSpanIds(trace: RunTrace): [traceId: string, spanId: string] {
  const { traceId, spanId } = trace.span.spanContext();
  return [traceId, spanId];
}

/** Ends a run's span with its outcome. */
export function endRunTrace(trace: RunTrace, outcome: { code: string | undefined; durationMs: number; toolCalls: number; iterations: number }): void {
  const { span } = trace;
  span.setAttributes({
    'enclave.outcome': outcome.code ?? 'SUCCESS',
    'enclave.duration_ms': outcome.durationMs,
    'enclave.tool_calls': outcome.toolCalls,
    'enclave.iterations': outcome.iterations,
  });
  if (outcome.code !== undefined) {
    span.setAttribute('error.type', outcome.code);
    // The code only: a run's message can quote what the script threw, and traces are operators' logs.
    span.setStatus({ code: STATUS_ERROR, message: outcome.code });
  }
  span.end();
}

/**
 * Runs one tool call in an `execute_tool` span (a child of the run's span) and in its context. `tool`
 * is undefined for a name the host did not register (one the run has no tool for, or one a `toolHandler`
 * serves, which serves any): that name is the script's text, and no span is named after it or carries
 * it (a span name per distinct string would also grow a backend's series).
 */
export async function traceToolCall<T>(
  trace: RunTrace,
  call: { tool: string | undefined; callId: number; args?: () => unknown },
  run: () => Promise<T>,
  outcome: (result: T) => { error?: { code: string; message: string }; result?: () => unknown },
): Promise<T> {
  const attributes: Attributes = { 'gen_ai.operation.name': 'execute_tool' };
  if (call.tool !== undefined) attributes['gen_ai.tool.name'] = call.tool;
  attributes['gen_ai.tool.call.id'] = String(call.callId);
  attributes['gen_ai.tool.type'] = 'function';
  if (trace.toolPayloads && call.args) attributes['gen_ai.tool.call.arguments'] = safeJson(call.args());
  const span = trace.tracer.startSpan(call.tool === undefined ? 'execute_tool' : `execute_tool ${call.tool}`, { kind: SPAN_KIND_INTERNAL, attributes }, trace.context);
  try {
    const result = await trace.api.context.with(trace.api.trace.setSpan(trace.context, span), run);
    const seen = outcome(result);
    if (seen.error !== undefined) {
      span.setAttribute('error.type', seen.error.code);
      span.setStatus({ code: STATUS_ERROR, message: seen.error.code });
    } else if (trace.toolPayloads && seen.result) span.setAttribute('gen_ai.tool.call.result', safeJson(seen.result()));
    return result;
  } finally {
    span.end();
  }
}

/** A span event (the scoring gate's decision, say). */
export function traceEvent(trace: RunTrace | undefined, name: string, attributes: Attributes): void {
  trace?.span.addEvent(name, attributes);
}

const MAX_ATTRIBUTE_CHARS = 8192;

/**
 * JSON for a span attribute, never throwing, cut at 8 KB. Traces are operators' logs, and arguments and
 * results hold text the script chose: what `JSON.stringify` leaves raw that would reorder or hide what
 * a trace viewer shows (BiDi controls, C1 controls, invisible characters) or that is no UTF-8 (a lone
 * surrogate, which OTLP's protobuf encoding writes as bytes a collector may refuse the whole export
 * for) is written as `\uXXXX`, as `jsonLinesAudit` writes it, and the cut never splits a character.
 */
function safeJson(value: unknown): string {
  let text: string;
  try {
    text = escapeJSONText(JSON.stringify(value) ?? 'undefined');
  } catch {
    text = '[unserializable]';
  }
  if (text.length <= MAX_ATTRIBUTE_CHARS) return text;
  const high = text.charCodeAt(MAX_ATTRIBUTE_CHARS - 1);
  return `${text.slice(0, high >= 0xd800 && high <= 0xdbff ? MAX_ATTRIBUTE_CHARS - 1 : MAX_ATTRIBUTE_CHARS)}...`;
}

/**
 * The trace context a request's run goes under, or undefined without the API. A span already active
 * here is the request's own (HTTP auto-instrumentation makes a server span from the same `traceparent`
 * before the route runs): the run is its child. Otherwise the request's headers (W3C
 * `traceparent`/`tracestate`, or whatever propagator the host registered) give the parent.
 */
export function extractTraceContext(headers: Headers): unknown {
  const a = otel();
  if (a === null) return undefined;
  const active = a.context.active();
  if (a.trace.getSpan(active) !== undefined) return active;
  return a.propagation.extract(active, headers, {
    get: (carrier, key) => carrier.get(key) ?? undefined,
    keys: (carrier) => Array.from(carrier.keys()),
  });
}
