// OpenTelemetry tracing, off by default: with `--enable-otel-tracing` (or its environment
// variable, or as soon as an OTLP endpoint is configured) spans go to an OTLP/HTTP collector at `OTEL_EXPORTER_OTLP_ENDPOINT`
// (the exporter also honours the other standard `OTEL_EXPORTER_OTLP_*` variables, e.g. headers).
// Spans: each upstream event's processing, identity resolutions, and every XRPC/admin handler.
// When off, the tracer is OpenTelemetry's no-op tracer: spans cost next to nothing.
import { type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base'

export type { Span, Tracer }

export interface Tracing {
  readonly tracer: Tracer
  readonly enabled: boolean
  /** Sends what is buffered and stops. */
  shutdown(): Promise<void>
}

export function createTracing(opts: {
  enabled: boolean
  otlpEndpoint: string
  version: string
}): Tracing {
  if (!opts.enabled) {
    return { tracer: trace.getTracer('atproto-relay'), enabled: false, shutdown: async () => {} }
  }
  const exporter = new OTLPTraceExporter({
    url: `${opts.otlpEndpoint.replace(/\/$/, '')}/v1/traces`,
  })
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'atproto-relay',
      'service.version': opts.version,
    }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  })
  return {
    tracer: provider.getTracer('atproto-relay', opts.version),
    enabled: true,
    shutdown: () => provider.shutdown(),
  }
}

/** Runs `fn` in a span named `name`, recording an error outcome if it throws. */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  const span = tracer.startSpan(name, { attributes })
  try {
    return await fn(span)
  } catch (err) {
    span.recordException(err instanceof Error ? err : String(err))
    span.setStatus({ code: SpanStatusCode.ERROR })
    throw err
  } finally {
    span.end()
  }
}

/** Wraps a resolver so each resolution is a span. */
export function tracedResolver<
  T extends { resolve(did: string, signal?: AbortSignal): Promise<R> },
  R,
>(tracer: Tracer, r: T): T {
  return new Proxy(r, {
    get(target, prop, receiver) {
      if (prop !== 'resolve') return Reflect.get(target, prop, receiver)
      return (did: string, signal?: AbortSignal) =>
        inSpan(
          tracer,
          'identity.resolve',
          { 'did.method': did.slice(0, did.indexOf(':', 4)) },
          () => target.resolve(did, signal),
        )
    },
  })
}
