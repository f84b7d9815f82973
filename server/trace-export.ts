import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";

/**
 * Spans sent in batches over OTLP/HTTP (JSON, the exporter's encoding) to
 * `<endpoint>/v1/traces`, as OTEL_EXPORTER_OTLP_ENDPOINT is read by every OpenTelemetry SDK.
 * Loaded by server/trace.ts only when the endpoint is set.
 */
export function otlpProcessor(endpoint: string): SpanProcessor {
  const url = `${endpoint.replace(/\/+$/, "")}/v1/traces`;
  return new BatchSpanProcessor(new OTLPTraceExporter({ url }));
}
