import { describe, expect, it } from '@jest/globals';
import { createTraceState, TraceFlags, type SpanContext } from '@opentelemetry/api';
import { queueTableNames } from '../../src/index.js';
import { enqueueManySql, enqueueSql } from '../../src/sql/enqueue.sql.js';
import { enqueueFlowSql } from '../../src/sql/flow.sql.js';
import { tracingLive } from '../../src/tracing/queue-tracing.js';
import { spanContextOf, traceContextOf } from '../../src/tracing/trace-context.js';
import { expectBoundStatement } from '../support/bound-statement.js';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const spanId = '00f067aa0ba902b7';
const sampled: SpanContext = { traceId, spanId, traceFlags: TraceFlags.SAMPLED };

describe('trace context (W3C traceparent / tracestate as a JSON carrier)', () => {
  it('writes the traceparent, and the tracestate when there is one, and reads both back', () => {
    expect(traceContextOf(sampled)).toBe(
      JSON.stringify({ traceparent: `00-${traceId}-${spanId}-01` }),
    );
    const withState = { ...sampled, traceState: createTraceState('vendor=a1,other=b2') };
    const stored = traceContextOf(withState)!;
    expect(JSON.parse(stored)).toEqual({
      traceparent: `00-${traceId}-${spanId}-01`,
      tracestate: 'vendor=a1,other=b2',
    });
    const read = spanContextOf(stored)!;
    expect(read).toMatchObject({ traceId, spanId, traceFlags: 1, isRemote: true });
    expect(read.traceState?.serialize()).toBe('vendor=a1,other=b2');
    // Not sampled travels as such, so the consumer does not sample what the producer dropped.
    expect(
      spanContextOf(traceContextOf({ ...sampled, traceFlags: TraceFlags.NONE })!),
    ).toMatchObject({ traceFlags: 0 });
  });

  it('stores nothing for an invalid context and ignores what it cannot read', () => {
    expect(traceContextOf({ traceId: '0'.repeat(32), spanId, traceFlags: 1 })).toBeUndefined();
    for (const bad of [
      'not json',
      'null',
      '"00-x"',
      '{}',
      JSON.stringify({ traceparent: 42 }),
      JSON.stringify({ traceparent: `00-${traceId}-${spanId}` }),
      JSON.stringify({ traceparent: `ff-${traceId}-${spanId}-01` }),
      JSON.stringify({ traceparent: `00-${traceId}-${spanId}-01-extra` }),
      JSON.stringify({ traceparent: `00-${'0'.repeat(32)}-${spanId}-01` }),
      JSON.stringify({ traceparent: `00-${traceId.toUpperCase()}-${spanId}-01` }),
    ]) {
      expect(spanContextOf(bad)).toBeUndefined();
    }
    // A later version may append fields: the first four are read.
    expect(
      spanContextOf(JSON.stringify({ traceparent: `01-${traceId}-${spanId}-01-x` })),
    ).toMatchObject({ traceId, spanId });
  });

  it('is off without a registered tracer provider', () => {
    expect(tracingLive()).toBe(false);
  });
});

describe('enqueue statements with a trace context', () => {
  const names = queueTableNames('tenant_a', 'jobs');
  const hostile = "x'); DROP TABLE jobs; --";
  const stored = traceContextOf(sampled)!;

  it('leave the hot path statement untouched without one, and bind it as a parameter with one', () => {
    expect(enqueueSql(names, 'q', '{}', 0).text).not.toContain('trace_context');
    expect(enqueueManySql(names, 'q', '[{}]', 0).text).not.toContain('trace_context');
    const one = enqueueSql(names, hostile, '{}', 0, { traceContext: hostile });
    expectBoundStatement(one, hostile, /"tenant_a"\."jobs"/);
    expect(one.text).toContain('trace_context');
    expect(one.values).toContain(hostile);
    for (const flow of [
      { traceContext: stored },
      { traceContext: stored, priority: [1, null] },
      { traceContext: stored, unique: { key: 'k', rule: { scope: 'active' as const } } },
    ]) {
      const many = enqueueManySql(names, hostile, '[{},{}]', 0, flow);
      expectBoundStatement(many, hostile, /"tenant_a"\."jobs"/);
      expect(many.text).toContain('trace_context');
      expect(many.values).toContain(stored);
    }
  });

  it('write a flow with one for every message, or NULL', () => {
    const rows = {
      ids: ['a'],
      queues: ['q'],
      bodies: ['{}'],
      parentIds: [null],
      waiting: [false],
      delays: [0],
      priorities: [0],
      groupKeys: [null],
      childFailures: [null],
    };
    expect(enqueueFlowSql(names, rows).values.at(-1)).toBeNull();
    const traced = enqueueFlowSql(names, { ...rows, traceContext: stored });
    expectBoundStatement(traced, hostile, /"tenant_a"\."jobs"/);
    expect(traced.values.at(-1)).toBe(stored);
  });
});
