import { describe, expect, it } from '@jest/globals';
import { type ConnectionOptions } from 'node:tls';
import {
  parseConnectionString,
  redactConnectionString,
} from '../../src/config/connection-string.js';
import { resolveQueueConfig } from '../../src/config/resolve-queue-config.js';
import { QueueOptionsError } from '../../src/index.js';
import { thrownBy } from '../support/thrown-by.js';

function optionsError(call: () => unknown): QueueOptionsError {
  return thrownBy(call, QueueOptionsError);
}

describe('parseConnectionString', () => {
  it('parses the basic form', () => {
    const parsed = parseConnectionString('postgresql://user:password@localhost:5432/ingestion_db');
    expect(parsed.config).toMatchObject({
      host: 'localhost',
      port: 5432,
      user: 'user',
      password: 'password',
      database: 'ingestion_db',
    });
    expect(parsed.config.ssl).toBeUndefined();
    expect(parsed.redacted).toBe('postgresql://user:***@localhost:5432/ingestion_db');
  });

  it('accepts postgres:// too, and percent-encoded credentials', () => {
    const parsed = parseConnectionString('postgres://us%40er:p%2Fw%3Fx@db.internal/app');
    expect(parsed.config).toMatchObject({ user: 'us@er', password: 'p/w?x', database: 'app' });
    expect(parsed.redacted).toBe('postgres://us%40er:***@db.internal/app');
  });

  it('maps sslmode=require to TLS without certificate verification, as libpq does', () => {
    const ssl = parseConnectionString('postgresql://u:p@host:5432/db?sslmode=require').config
      .ssl as ConnectionOptions;
    expect(ssl.rejectUnauthorized).toBe(false);
  });

  it('maps prefer and allow to TLS without verification (no plaintext fallback in pg)', () => {
    for (const mode of ['prefer', 'allow']) {
      const ssl = parseConnectionString(`postgresql://u:p@host/db?sslmode=${mode}`).config
        .ssl as ConnectionOptions;
      expect(ssl.rejectUnauthorized).toBe(false);
    }
  });

  it('keeps full verification for verify-full and turns TLS off for disable', () => {
    const full = parseConnectionString('postgresql://u:p@host/db?sslmode=verify-full').config
      .ssl as ConnectionOptions;
    expect(full.rejectUnauthorized).not.toBe(false);
    expect(full.checkServerIdentity).toBeUndefined();
    expect(parseConnectionString('postgresql://u:p@host/db?sslmode=disable').config.ssl).toBe(
      false,
    );
  });

  it('refuses verify-ca without sslrootcert, naming the rule', () => {
    const error = optionsError(() =>
      parseConnectionString('postgresql://u:p@host/db?sslmode=verify-ca'),
    );
    expect(error.rule).toMatch(/verify-ca requires specifying a CA with sslrootcert/);
  });

  it('checks that sslcert, sslkey and sslrootcert files exist, naming the parameter', () => {
    for (const parameter of ['sslcert', 'sslkey', 'sslrootcert']) {
      const error = optionsError(() =>
        parseConnectionString(
          `postgresql://u:secret@host/db?sslmode=require&${parameter}=/nonexistent/${parameter}.pem`,
        ),
      );
      expect(error.option).toBe('connectionString');
      expect(error.rule).toBe(
        `${parameter} file /nonexistent/${parameter}.pem does not exist or is not readable`,
      );
      expect(error.message).not.toContain('secret');
    }
  });

  it('takes min_size and max_size out of the URL as pool hints', () => {
    const parsed = parseConnectionString(
      'postgresql://user:password@host:5432/dbname?min_size=10&max_size=20&application_name=x',
    );
    expect(parsed.poolMinSize).toBe(10);
    expect(parsed.poolMaxSize).toBe(20);
    expect(parsed.config).not.toHaveProperty('min_size');
    expect(parsed.config).not.toHaveProperty('max_size');
    expect(parsed.config.application_name).toBe('x');
  });

  it('refuses malformed pool hints', () => {
    expect(optionsError(() => parseConnectionString('postgres://h/db?max_size=0')).rule).toMatch(
      /max_size must be a positive whole number/,
    );
    expect(optionsError(() => parseConnectionString('postgres://h/db?min_size=-1')).rule).toMatch(
      /min_size must be a non-negative whole number/,
    );
    expect(optionsError(() => parseConnectionString('postgres://h/db?min_size=abc')).rule).toMatch(
      /min_size/,
    );
  });

  it('parses a multi-host URL: every host with its port, the first as config.host', () => {
    const parsed = parseConnectionString(
      'postgresql://u:pass-word@host1:5432,host2:5433,[::1],host4/db?target_session_attrs=read-write&application_name=x',
    );
    expect(parsed.hosts).toEqual([
      { host: 'host1', port: 5432 },
      { host: 'host2', port: 5433 },
      { host: '::1', port: 5432 },
      { host: 'host4', port: 5432 },
    ]);
    expect(parsed.config).toMatchObject({
      host: 'host1',
      port: 5432,
      user: 'u',
      password: 'pass-word',
      database: 'db',
      application_name: 'x',
    });
    expect(parsed.targetSessionAttrs).toBe('read-write');
    expect(parsed.loadBalanceHosts).toBe('disable');
    expect(parsed.config).not.toHaveProperty('target_session_attrs');
    expect(parsed.redacted).toBe(
      'postgresql://u:***@host1:5432,host2:5433,[::1],host4/db?target_session_attrs=read-write&application_name=x',
    );
  });

  it('keeps one host as one entry, with libpq defaults for the new parameters', () => {
    const parsed = parseConnectionString('postgres://u:p@db.internal:6543/app');
    expect(parsed.hosts).toEqual([{ host: 'db.internal', port: 6543 }]);
    expect(parsed.targetSessionAttrs).toBe('any');
    expect(parsed.loadBalanceHosts).toBe('disable');
    expect(parsed.connectTimeoutSeconds).toBeUndefined();
  });

  it.each(['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'])(
    'accepts target_session_attrs=%s',
    (attrs) => {
      expect(
        parseConnectionString(`postgres://a,b/db?target_session_attrs=${attrs}`).targetSessionAttrs,
      ).toBe(attrs);
    },
  );

  it('takes load_balance_hosts and connect_timeout (libpq: 1 means 2, 0 means none)', () => {
    const parsed = parseConnectionString(
      'postgres://a,b/db?load_balance_hosts=random&connect_timeout=1',
    );
    expect(parsed.loadBalanceHosts).toBe('random');
    expect(parsed.connectTimeoutSeconds).toBe(2);
    expect(parsed.config).not.toHaveProperty('connect_timeout');
    expect(parseConnectionString('postgres://a/db?connect_timeout=7').connectTimeoutSeconds).toBe(
      7,
    );
    expect(
      parseConnectionString('postgres://a/db?connect_timeout=0').connectTimeoutSeconds,
    ).toBeUndefined();
  });

  it('refuses unknown values and malformed host lists, never echoing the password', () => {
    const cases: Array<[string, RegExp]> = [
      [
        'postgresql://u:s3cret-pw@a,b/db?target_session_attrs=writable',
        /target_session_attrs must be one of any, read-write, read-only, primary, standby, prefer-standby/,
      ],
      [
        'postgresql://u:s3cret-pw@a,b/db?load_balance_hosts=roundrobin',
        /load_balance_hosts must be one of disable, random/,
      ],
      [
        'postgresql://u:s3cret-pw@a/db?connect_timeout=soon',
        /connect_timeout must be a whole number of seconds/,
      ],
      ['postgresql://u:s3cret-pw@a,,b/db', /host 2 of the host list is empty or malformed/],
      ['postgresql://u:s3cret-pw@a:5432,b:99999/db', /port of host 2 must be a whole number/],
    ];
    for (const [url, rule] of cases) {
      const error = optionsError(() => parseConnectionString(url));
      expect(error.rule).toMatch(rule);
      expect(error.message).not.toContain('s3cret-pw');
    }
  });

  it('resolves host selection only where libpq would choose: several hosts or an attribute', () => {
    const resolve = (connectionString: string) =>
      resolveQueueConfig({ connectionString }, {}).connection;
    expect(resolve('postgres://u:p@a/db')).toMatchObject({ hostSelection: undefined });
    expect(resolve('postgres://u:p@a:1,b:2/db?connect_timeout=3')).toMatchObject({
      hostSelection: {
        hosts: [
          { host: 'a', port: 1 },
          { host: 'b', port: 2 },
        ],
        targetSessionAttrs: 'any',
        hostConnectTimeoutMs: 3_000,
      },
    });
    expect(resolve('postgres://u:p@a/db?target_session_attrs=primary')).toMatchObject({
      hostSelection: { hosts: [{ host: 'a', port: 5432 }], targetSessionAttrs: 'primary' },
    });
    // Without connect_timeout, one host attempt may take the module's connection timeout.
    expect(
      resolveQueueConfig({ connectionString: 'postgres://a,b/db', connectionTimeoutMs: 1234 }, {})
        .connection,
    ).toMatchObject({ hostSelection: { hostConnectTimeoutMs: 1234 } });
  });

  it('refuses other schemes and unparseable URLs without echoing them', () => {
    expect(
      optionsError(() => parseConnectionString('mysql://u:topsecret@h/db')).message,
    ).not.toContain('topsecret');
    const error = optionsError(() => parseConnectionString('postgres://u:topsecret@h:notaport/db'));
    expect(error.message).toMatch(/is not a valid connection URL/);
    expect(error.message).not.toContain('topsecret');
  });

  it('refuses a port out of range', () => {
    expect(optionsError(() => parseConnectionString('postgres://h:70000/db')).message).toMatch(
      /not a valid connection URL|port must be/,
    );
  });
});

describe('redactConnectionString', () => {
  it.each([
    ['postgres://u:simple@h/db', 'postgres://u:***@h/db'],
    ['postgres://u:p%40ss%2F@h:5432/db', 'postgres://u:***@h:5432/db'],
    ['postgres://u@h/db', 'postgres://u@h/db'],
    [
      'postgres://h/db?password=inparam&sslmode=require',
      'postgres://h/db?password=***&sslmode=require',
    ],
  ])('redacts %s', (raw, expected) => {
    expect(redactConnectionString(raw)).toBe(expected);
  });

  it.each([
    ['postgres://user:5432?Secret@host/db', 'postgres://***@host/db'],
    ['postgres://user:pa/ss?wd@host:5432/db', 'postgres://***@host:5432/db'],
  ])('masks %s, whose unencoded password moved the user info past the host', (raw, expected) => {
    expect(redactConnectionString(raw)).toBe(expected);
    expect(redactConnectionString(raw)).not.toMatch(/Secret|pa\/ss|wd@/);
  });

  it.each([
    [
      'host=a,b port=5432 dbname=app user=postgres password=postgres',
      'host=a,b port=5432 dbname=app user=postgres password=***',
    ],
    ["host=h password = 'p w\\'x' dbname=app", 'host=h password = *** dbname=app'],
    ['host=h sslpassword=k3y PASSWORD=Top', 'host=h sslpassword=*** PASSWORD=***'],
  ])('redacts the keyword form %s', (raw, expected) => {
    expect(redactConnectionString(raw)).toBe(expected);
  });

  it('redacts a password that contains an @ (the last @ ends the user info)', () => {
    expect(redactConnectionString('postgres://u:p@ss@h/db')).toBe('postgres://u:***@h/db');
  });

  it('redacts only the password position, even when the password is a common word', () => {
    expect(redactConnectionString('postgres://postgres:postgres@127.0.0.1:5432/postgres')).toBe(
      'postgres://postgres:***@127.0.0.1:5432/postgres',
    );
    expect(redactConnectionString('postgres://u:pw@h/db?sslcert=/a@b/c.pem')).toBe(
      'postgres://u:***@h/db?sslcert=/a@b/c.pem',
    );
  });
});

describe('resolveQueueConfig precedence', () => {
  const url = 'postgresql://u:p@host/db?min_size=3&max_size=7';

  it('uses URL hints over defaults', () => {
    const config = resolveQueueConfig({ connectionString: url }, {});
    expect(config.connection).toMatchObject({ kind: 'owned', poolMinSize: 3, poolMaxSize: 7 });
  });

  it('uses explicit options over URL hints', () => {
    const config = resolveQueueConfig(
      { connectionString: url, poolMinSize: 1, poolMaxSize: 2 },
      {},
    );
    expect(config.connection).toMatchObject({ poolMinSize: 1, poolMaxSize: 2 });
  });

  it('defaults to 0 and 20: connections open on demand', () => {
    expect(
      resolveQueueConfig({ connectionString: 'postgres://h/db' }, {}).connection,
    ).toMatchObject({
      poolMinSize: 0,
      poolMaxSize: 20,
    });
    expect(
      resolveQueueConfig({ connectionString: 'postgres://h/db', poolMaxSize: 4 }, {}).connection,
    ).toMatchObject({ poolMinSize: 0, poolMaxSize: 4 });
  });

  it('falls back to DATABASE_URL and prefers connectionString over it', () => {
    const fromEnv = resolveQueueConfig({}, { DATABASE_URL: 'postgres://envhost/db' });
    expect(fromEnv.connection).toMatchObject({ config: { host: 'envhost' } });
    const explicit = resolveQueueConfig(
      { connectionString: 'postgres://given/db' },
      { DATABASE_URL: 'postgres://envhost/db' },
    );
    expect(explicit.connection).toMatchObject({ config: { host: 'given' } });
  });

  it('returns a frozen config with the other defaults', () => {
    const config = resolveQueueConfig({ connectionString: 'postgres://h/db' }, {});
    expect(Object.isFrozen(config)).toBe(true);
    expect(config).toMatchObject({
      connectionTimeoutMs: 10_000,
      applicationName: 'fetchcraft-queue',
      migrationsRun: true,
      maxBodyBytes: 1024 * 1024,
      names: { schema: 'public', table: 'messages', qualified: '"public"."messages"' },
    });
  });

  it('does not mutate the options it was given', () => {
    const options = Object.freeze({ connectionString: url });
    resolveQueueConfig(options, {});
    expect(options).toEqual({ connectionString: url });
  });
});

describe('the keyword/value form (libpq)', () => {
  it('reads host and port lists, quoted values and the other keywords as the URL form does', () => {
    const parsed = parseConnectionString(
      "host=a,b port=5432,5433 dbname=app user=u password='it\\'s a secret' target_session_attrs=read-write application_name = x",
    );
    expect(parsed.hosts).toEqual([
      { host: 'a', port: 5432 },
      { host: 'b', port: 5433 },
    ]);
    expect(parsed.targetSessionAttrs).toBe('read-write');
    expect(parsed.config).toMatchObject({
      user: 'u',
      password: "it's a secret",
      database: 'app',
      application_name: 'x',
    });
    expect(parsed.redacted).toBe(
      'postgresql://u:***@a:5432,b:5433/app?target_session_attrs=read-write&application_name=x',
    );
  });

  it('applies one port to every host; a single host is a plain connection', () => {
    expect(parseConnectionString('host=a,b port=6000 dbname=d').hosts).toEqual([
      { host: 'a', port: 6000 },
      { host: 'b', port: 6000 },
    ]);
    const single = parseConnectionString('host=db.internal dbname=d user=u password=pw');
    expect(single.hosts).toEqual([{ host: 'db.internal', port: 5432 }]);
    expect(single.config).toMatchObject({ host: 'db.internal', password: 'pw', database: 'd' });
  });

  it('refuses malformed strings naming the keyword, never a value', () => {
    const cases: Array<[string, RegExp]> = [
      ['host=a,b,c port=1,2 password=s3cret-pw', /3 hosts: give one port, or one per host/],
      ["host=a password='s3cret-pw", /the quoted value of password is not closed/],
      ['host=a password s3cret-pw', /keyword password must be followed by =/],
    ];
    for (const [raw, rule] of cases) {
      const error = optionsError(() => parseConnectionString(raw));
      expect(error.rule).toMatch(rule);
      expect(error.message).not.toContain('s3cret-pw');
    }
  });
});
