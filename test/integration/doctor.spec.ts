import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { migrateQueue } from '../../src/index.js';
import { runCli } from '../../src/cli/run-cli.js';
import { CLI_EXIT } from '../../src/cli/cli-command.js';
import { type DoctorJson } from '../../src/cli/doctor-report.js';
import { type DoctorFinding } from '../../src/diagnostics/doctor-findings.js';
import { useQueueFixture } from '../support/queue-fixture.js';

/*
 * `fetchcraft-queue doctor` on a real table: healthy, then with each fault made for real.
 */
const { db } = useQueueFixture('doctor', { reset: 'none' });

interface Ran {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

async function doctor(args: string[], url = db.url): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ['doctor', ...args],
    { DATABASE_URL: url },
    {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
    },
  );
  return { code, out, err };
}

async function doctorJson(
  args: string[],
  url?: string,
): Promise<{ code: number; json: DoctorJson }> {
  const ran = await doctor([...args, '--json'], url);
  expect(ran.err).toEqual([]);
  return { code: ran.code, json: JSON.parse(ran.out.join('\n')) as DoctorJson };
}

const problems = (json: DoctorJson): DoctorFinding[] =>
  json.findings.filter((finding) => finding.severity === 'problem');

/** A session that took a REPEATABLE READ snapshot and keeps it: it holds the xmin horizon. */
async function pinHorizon(url: string): Promise<{ pid: string; release: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url, application_name: 'doctor-pin' });
  await client.connect();
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  // A literal that stands for a message's data: the doctor must not print it.
  const { rows } = await client.query<{ pid: number }>(
    "SELECT pg_backend_pid() AS pid, 'secret-body-literal' AS data",
  );
  return {
    pid: String(rows[0]!.pid),
    release: async () => {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('fetchcraft-queue doctor', () => {
  it('finds nothing wrong with a freshly migrated table, and a missing one is a problem', async () => {
    await migrateQueue({ connectionString: db.url, schema: 'healthy' });
    const text = await doctor(['--schema', 'healthy']);
    expect(text.err).toEqual([]);
    expect(text.code).toBe(CLI_EXIT.ok);
    expect(text.out[0]).toMatch(/^Checking healthy\.messages on postgres:\/\/postgres:\*\*\*@/);
    expect(text.out.at(-1)).toBe('No problems found');

    const { code, json } = await doctorJson(['--schema', 'healthy']);
    expect(code).toBe(CLI_EXIT.ok);
    expect(json).toMatchObject({ table: 'healthy.messages', problems: 0, warnings: 0 });
    expect(json.findings.map((finding) => [finding.check, finding.severity])).toEqual([
      ['migrations', 'ok'],
      ['schema', 'ok'],
      ['indexes', 'ok'],
      ['vacuum', 'ok'],
      ['bloat', 'ok'],
      ['horizon', 'ok'],
      ['leases', 'ok'],
    ]);
    expect(json.findings[1]!.summary).toMatch(/^matches the migrations \(\d+ objects compared\)$/);
    // The scratch schema the migrations ran into was rolled back.
    const { rows } = await db.query(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'fetchcraft_doctor_%'",
    );
    expect(rows).toEqual([]);

    const missing = await doctorJson(['--schema', 'nowhere']);
    expect(missing.code).toBe(CLI_EXIT.findings);
    expect(problems(missing.json)).toEqual([
      expect.objectContaining({ check: 'migrations', summary: 'nowhere.messages does not exist' }),
    ]);
    expect((await doctor(['--lease-grace', 'soon'])).code).toBe(CLI_EXIT.failed);
  });

  it('finds a dropped index, an invalid index, a stray column, an unreaped lease and a pinned horizon', async () => {
    await migrateQueue({ connectionString: db.url, schema: 'sick' });
    await db.query('DROP INDEX sick.idx_messages_lease');
    await db.query(
      `INSERT INTO sick.messages (id, queue, body, available_at, state, lease_until, lease_token, attempts, created_at)
       VALUES ('m1', 'jobs', '{}', 0, 'leased', floor(extract(epoch from now()))::bigint - 3600, gen_random_uuid(), 1, 0),
              ('m2', 'jobs', '{}', 0, 'ready', NULL, NULL, 0, 0)`,
    );
    // A unique build over duplicates fails and leaves its index behind, invalid.
    await expect(
      db.query('CREATE UNIQUE INDEX CONCURRENTLY idx_messages_broken ON sick.messages (queue)'),
    ).rejects.toThrow(/could not create unique index/);
    await db.query('ALTER TABLE sick.messages ADD COLUMN stray text');
    const pin = await pinHorizon(db.url);
    try {
      await sleep(1_100);
      const { code, json } = await doctorJson(['--schema', 'sick', '--max-horizon-age', '1']);
      expect(code).toBe(CLI_EXIT.findings);
      const found = problems(json).map((finding) => [finding.check, finding.summary]);
      expect(found).toEqual(
        expect.arrayContaining([
          ['schema', 'index idx_messages_lease on messages is missing'],
          ['schema', 'column stray on messages is not created by the migrations'],
          ['indexes', expect.stringMatching(/^index idx_messages_broken on messages is invalid: /)],
          [
            'leases',
            expect.stringMatching(
              /^1 lease expired and not reaped, the oldest 36\d\d s ago \(queues: jobs\)$/,
            ),
          ],
          ['horizon', expect.stringContaining(`pid ${pin.pid} (application 'doctor-pin'`)],
        ]),
      );
      const lease = problems(json).find((finding) => finding.check === 'schema')!;
      expect(lease.action).toBe(
        "create it again, without blocking writes: CREATE INDEX CONCURRENTLY idx_messages_lease ON sick.messages USING btree (lease_until) WHERE (state = 'leased'::text)",
      );
      const horizon = problems(json).find((finding) => finding.check === 'horizon')!;
      expect(horizon.details).toMatchObject({
        source: 'session',
        id: pin.pid,
        state: 'idle in transaction',
        command: 'SELECT',
        ageSeconds: expect.any(Number),
      });
      expect(horizon.action).toContain(`pg_terminate_backend(${pin.pid})`);
      // The statement's text may hold data: only its first word is read.
      expect(JSON.stringify(json)).not.toContain('secret-body-literal');
      // The invalid index is also one the migrations do not create.
      expect(json.findings).toContainEqual(
        expect.objectContaining({
          check: 'schema',
          severity: 'warning',
          summary: 'index idx_messages_broken on messages is not created by the migrations',
        }),
      );

      const text = await doctor(['--schema', 'sick', '--max-horizon-age', '1']);
      expect(text.code).toBe(CLI_EXIT.findings);
      expect(text.out).toContainEqual(
        expect.stringMatching(/^ {2}PROBLEM {2}leases +1 lease expired and not reaped/),
      );
      expect(text.out.at(-1)).toMatch(/^[5-9] problems, \d+ warnings?$/);
    } finally {
      await pin.release();
    }
    // The horizon released, with the default threshold: only the table's own faults remain.
    const after = await doctorJson(['--schema', 'sick']);
    expect(after.code).toBe(CLI_EXIT.findings);
    expect(problems(after.json).filter((finding) => finding.check === 'horizon')).toEqual([]);
  });

  it('works as a role that is neither superuser nor owner, and says what it could not see', async () => {
    await migrateQueue({ connectionString: db.url, schema: 'shared' });
    const role = `doctor_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await db.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    const url = new URL(db.url);
    url.username = role;
    url.password = password;
    const pin = await pinHorizon(db.url);
    try {
      await db.query(`REVOKE CREATE ON DATABASE "${db.name}" FROM PUBLIC`);
      await db.query(`GRANT USAGE ON SCHEMA shared TO ${role}`);
      await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA shared TO ${role}`);
      await sleep(1_100);
      const limited = await doctorJson(['--schema', 'shared', '--max-horizon-age', '1'], url.href);
      expect(limited.json.findings).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            check: 'schema',
            severity: 'warning',
            summary: expect.stringMatching(
              /^not compared with the migrations: this role may not create a schema/,
            ),
          }),
          expect.objectContaining({
            check: 'horizon',
            severity: 'warning',
            summary: expect.stringMatching(/^\d+ sessions? of other roles could not be inspected/),
            action: expect.stringContaining('pg_read_all_stats'),
          }),
        ]),
      );
      expect(limited.code).toBe(CLI_EXIT.ok);

      await db.query(`GRANT pg_read_all_stats TO ${role}`);
      await db.query(`GRANT CREATE ON DATABASE "${db.name}" TO ${role}`);
      const granted = await doctorJson(['--schema', 'shared', '--max-horizon-age', '1'], url.href);
      expect(granted.code).toBe(CLI_EXIT.findings);
      expect(problems(granted.json)).toEqual([
        expect.objectContaining({
          check: 'horizon',
          details: expect.objectContaining({ id: pin.pid }),
        }),
      ]);
      expect(granted.json.findings).toContainEqual(
        expect.objectContaining({ check: 'schema', severity: 'ok' }),
      );
      expect(JSON.stringify(granted.json)).not.toContain(password);
    } finally {
      await pin.release();
      await db.query(`DROP OWNED BY ${role}`);
      await db.query(`DROP ROLE ${role}`);
    }
  });
});
