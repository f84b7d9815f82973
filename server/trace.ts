import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  type ReadableSpan,
  type Span as SdkSpan,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { currentEnv } from "@/server/env.mjs";

// One trace per request (OpenTelemetry): the span that files it — a child of the web's tRPC
// mutation or the CLI's command — gives the request its W3C traceparent, stored on the row
// (requests.trace_parent); the worker's spans (planning, dispatch, the queue's lane, an agent's
// run) continue it, and an agent's CLI gets it as TRACEPARENT. Spans are exported over
// OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise they only carry the ids
// (into log lines, the stored traceparent, the agents' environment). Set up at the first span,
// never at load: `hyperion --help` pays nothing for it.

/** Span processors added at run time (tests' in-memory exporters), besides the exporter. */
class Fanout implements SpanProcessor {
  readonly processors = new Set<SpanProcessor>();
  /** Spans ended while the exporter loads (at most 2048), handed to it once it is there. */
  held: ReadableSpan[] | null = null;
  loading: Promise<unknown> = Promise.resolve();
  onStart(span: SdkSpan, parent: Context): void {
    for (const p of this.processors) p.onStart(span, parent);
  }
  onEnd(span: ReadableSpan): void {
    if (this.held && this.held.length < 2048) this.held.push(span);
    for (const p of this.processors) p.onEnd(span);
  }
  async forceFlush(): Promise<void> {
    await this.loading;
    await Promise.all([...this.processors].map((p) => p.forceFlush()));
  }
  async shutdown(): Promise<void> {
    await Promise.all([...this.processors].map((p) => p.shutdown()));
  }
}

type Tracing = { fanout: Fanout; provider: BasicTracerProvider };
// On globalThis: Next.js loads server modules more than once, and the API's globals are shared.
const KEY = Symbol.for("hyperion.tracing");
const slot = globalThis as { [KEY]?: Tracing };

function endpoint(): string | undefined {
  try {
    return currentEnv().OTEL_EXPORTER_OTLP_ENDPOINT;
  } catch {
    return undefined;
  }
}

function setUp(): Tracing {
  const existing = slot[KEY];
  if (existing) return existing;
  const fanout = new Fanout();
  const url = endpoint();
  if (url) {
    // Loaded only when configured: the exporter and its encoders are most of the footprint.
    fanout.held = [];
    fanout.loading = import("./trace-export").then(
      ({ otlpProcessor }) => {
        const exporter = otlpProcessor(url);
        for (const span of fanout.held ?? []) exporter.onEnd(span);
        fanout.held = null;
        fanout.processors.add(exporter);
      },
      () => {
        fanout.held = null;
      },
    );
    // The batch still held is sent as the process ends (the CLI and the worker end by running
    // out of work, not by process.exit).
    process.once("beforeExit", () => void flushTraces());
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "hyperion" }),
    spanProcessors: [fanout],
  });
  // Each registration is refused (quietly) when another copy of this module made it first.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const made = { fanout, provider };
  slot[KEY] = made;
  return made;
}

/** Sends every span that ends to `processor` too, until the returned function is called. */
export function addSpanProcessor(processor: SpanProcessor): () => void {
  const { fanout } = setUp();
  fanout.processors.add(processor);
  return () => {
    fanout.processors.delete(processor);
  };
}

/** Exports the spans that ended (before a process exits); nothing without an exporter. */
export async function flushTraces(): Promise<void> {
  await slot[KEY]?.provider.forceFlush();
}

/**
 * Runs `fn` in a new active span named `name`: a child of the span active here, or of the
 * trace `parent` names (a stored W3C traceparent), or else the root of a new trace. The span
 * ends when `fn` settles; a throw is recorded on it.
 */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => T,
  parent?: string | null,
): T {
  setUp();
  const base = parent
    ? propagation.extract(ROOT_CONTEXT, { traceparent: parent })
    : context.active();
  const tracer = trace.getTracer("hyperion");
  return tracer.startActiveSpan(name, { attributes }, base, (span) => {
    const fail = (err: unknown) => {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      span.end();
      throw err;
    };
    try {
      const out = fn(span);
      if (out instanceof Promise)
        return out.then((v) => {
          span.end();
          return v;
        }, fail) as T;
      span.end();
      return out;
    } catch (err) {
      return fail(err);
    }
  });
}

/** The W3C trace context of the active span: `traceparent` (and `tracestate` if any). */
export function currentTraceContext(): { traceparent?: string; tracestate?: string } {
  const carrier: { traceparent?: string; tracestate?: string } = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/**
 * TRACEPARENT (and TRACESTATE) for a child process, as agent CLIs that take part in a trace read
 * them; empty outside any span.
 */
export function traceEnv(): Record<string, string> {
  const { traceparent, tracestate } = currentTraceContext();
  return {
    ...(traceparent ? { TRACEPARENT: traceparent } : {}),
    ...(tracestate ? { TRACESTATE: tracestate } : {}),
  };
}

/** The trace id in a W3C traceparent (`00-<trace id>-<span id>-<flags>`), or null. */
export function traceIdOf(traceParent: string | null | undefined): string | null {
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceParent ?? "");
  return m?.[1] ?? null;
}
