/**
 * An OpenTelemetry SDK for tests: a tracer provider exporting to memory, the AsyncLocalStorage context
 * manager and the W3C propagator, registered globally once per test process.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

let registered: InMemorySpanExporter | undefined;

export function registerTestTracing(): InMemorySpanExporter {
  if (registered) return registered;
  const exporter = new InMemorySpanExporter();
  registered = exporter;
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  // As in an instrumented server, whose HTTP instrumentation enters a context for every request before
  // any run starts: the context manager's AsyncLocalStorage is in use from here on. (A host that first
  // enters one in the middle of a vm run ends that run: see sandbox/async-context.ts.)
  context.with(context.active(), () => undefined);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return exporter;
}

/** A random W3C traceparent header and its ids. */
export function newTraceparent(): { header: string; traceId: string; spanId: string } {
  const hex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
  const traceId = hex(16);
  const spanId = hex(8);
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

/** The finished spans of one trace. */
export function spansOf(exporter: InMemorySpanExporter, traceId: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
}

export const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;
