import { describe, expect, it } from '@jest/globals';
import { queueTableNames } from '../../src/index.js';
import { cancelSql } from '../../src/sql/control.sql.js';
import { childrenSql, enqueueFlowSql } from '../../src/sql/flow.sql.js';
import { expectBoundStatement } from '../support/bound-statement.js';

const names = queueTableNames('tenant_a', 'jobs');
const hostile = "x'); DROP TABLE jobs; --";

describe('flow statements', () => {
  const statements = [
    enqueueFlowSql(names, {
      ids: [hostile, 'b'],
      queues: [hostile, hostile],
      bodies: ['{}', '1'],
      parentIds: [null, hostile],
      waiting: [true, false],
      delays: [0, 5],
      priorities: [0, 0],
      groupKeys: [null, hostile],
      childFailures: ['fail', null],
    }),
    childrenSql(names, hostile),
    cancelSql(names, hostile, hostile, 32),
    cancelSql(names, hostile, undefined, 32),
  ];

  it.each(statements.map((statement, index) => [index, statement] as const))(
    'statement %i interpolates only the quoted table and binds every value with a cast',
    (_index, statement) => {
      expectBoundStatement(statement, hostile, /"tenant_a"\."jobs"/);
    },
  );

  it('sends a flow as one JSON array of bodies beside one array per column', () => {
    const { values } = statements[0]!;
    expect(values[0]).toBe('[{},1]');
    expect(values.slice(1, 9)).toEqual([
      [hostile, 'b'],
      [hostile, hostile],
      [null, hostile],
      [true, false],
      [0, 5],
      [0, 0],
      [null, hostile],
      ['fail', null],
    ]);
    expect(values[9]).toBe(names.channel);
  });

  it('cancels waiting parents like ready messages, and locks descendants in id order', () => {
    const { text } = statements[2]!;
    expect(text).toContain(`WHEN m.state IN ('ready', 'waiting_children') THEN 'cancelled'`);
    expect(text).toMatch(/ORDER BY m\.id FOR UPDATE/);
  });
});
