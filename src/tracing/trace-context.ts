import {
  createTraceState,
  isSpanContextValid,
  TraceFlags,
  type SpanContext,
} from '@opentelemetry/api';

/**
 * A span's context as stored with a message (`trace_context`): the W3C Trace Context fields
 * `traceparent` and, when there is one, `tracestate`, as a JSON object. That object is the
 * carrier any propagator's `extract` takes (the Python backend's `TraceContextTextMapPropagator`
 * too), so a consumer in another process or language continues the trace without this package.
 *
 * Written by hand rather than through the global propagator: the W3C propagator lives in the
 * SDK (`@opentelemetry/core`), which a library must not require, and an application that
 * registered a tracer provider but no propagator would otherwise store nothing.
 *
 * @returns undefined for an invalid context (a no-op span's): nothing worth storing.
 */
export function traceContextOf(span: SpanContext): string | undefined {
  if (!isSpanContextValid(span)) return undefined;
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, '0');
  const traceparent = `00-${span.traceId}-${span.spanId}-${flags}`;
  const tracestate = span.traceState?.serialize();
  return JSON.stringify(
    tracestate === undefined || tracestate === '' ? { traceparent } : { traceparent, tracestate },
  );
}

/** version-traceid-parentid-flags, lower-case hex; a future version may append fields. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The remote span context stored by `traceContextOf` (or by any writer of the same JSON
 * carrier). A malformed value is ignored, never thrown: a bad row written by hand must not stop
 * its message from running.
 */
export function spanContextOf(stored: string): SpanContext | undefined {
  let carrier: unknown;
  try {
    carrier = JSON.parse(stored);
  } catch {
    return undefined;
  }
  if (typeof carrier !== 'object' || carrier === null) return undefined;
  const { traceparent, tracestate } = carrier as Record<string, unknown>;
  if (typeof traceparent !== 'string') return undefined;
  const match = TRACEPARENT.exec(traceparent.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  // Version ff is forbidden; version 00 has exactly four fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const context: SpanContext = {
    traceId: traceId!,
    spanId: spanId!,
    traceFlags: parseInt(flags!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(typeof tracestate === 'string' && tracestate !== ''
      ? { traceState: createTraceState(tracestate) }
      : {}),
  };
  return isSpanContextValid(context) ? context : undefined;
}
