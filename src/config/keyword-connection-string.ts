import { QueueOptionsError } from '../errors/queue-options.error.js';

const OPTION = 'connectionString';

/** Whether `raw` is libpq's keyword/value form (`host=a,b port=5432 dbname=app`) rather than a URL. */
export function isKeywordConnectionString(raw: string): boolean {
  return /^\s*[a-z_]+\s*=/i.test(raw);
}

/**
 * libpq's keyword/value connection string as the equivalent URL, so one parser reads both forms:
 * `host=a,b port=5432,5433 dbname=app user=u password='p w' target_session_attrs=read-write` is
 * `postgresql://u:p%20w@a:5432,b:5433/app?target_session_attrs=read-write`.
 *
 * Values are unquoted words or single-quoted strings, with `\'` and `\\` escapes, as in libpq.
 * One port applies to every host; otherwise there must be one port per host. `hostaddr`, when
 * given, is where the connection goes (libpq uses `host` then only for TLS and .pgpass). Errors
 * name the keyword, never a value.
 */
export function keywordsToUrl(raw: string): string {
  const values = new Map<string, string>();
  for (const [keyword, value] of readPairs(raw)) values.set(keyword, value);
  const take = (keyword: string): string | undefined => {
    const value = values.get(keyword);
    values.delete(keyword);
    return value === '' ? undefined : value;
  };
  const hostaddr = take('hostaddr');
  const hostNames = take('host');
  const hosts = (hostaddr ?? hostNames ?? 'localhost').split(',');
  const portList = take('port')?.split(',') ?? [];
  if (portList.length > 1 && portList.length !== hosts.length) {
    throw new QueueOptionsError(
      OPTION,
      `keyword port lists ${portList.length} ports for ${hosts.length} hosts: give one port, or one per host`,
    );
  }
  const authority = hosts
    .map((host, index) => {
      const port = portList.length > 1 ? portList[index] : portList[0];
      const name = host.includes(':') ? `[${host}]` : encodeURIComponent(host);
      return port === undefined || port === '' ? name : `${name}:${port}`;
    })
    .join(',');
  const user = take('user');
  const password = take('password');
  const userInfo =
    user === undefined && password === undefined
      ? ''
      : `${encodeURIComponent(user ?? '')}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@`;
  const database = take('dbname');
  const query = new URLSearchParams([...values]).toString();
  return `postgresql://${userInfo}${authority}/${database === undefined ? '' : encodeURIComponent(database)}${query === '' ? '' : `?${query}`}`;
}

/** The `keyword = value` pairs of `raw`, in order. */
function readPairs(raw: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let i = 0;
  const skipSpace = () => {
    while (i < raw.length && /\s/.test(raw[i]!)) i += 1;
  };
  for (skipSpace(); i < raw.length; skipSpace()) {
    const keyword = /^[a-z_]+/i.exec(raw.slice(i))?.[0];
    if (keyword === undefined) {
      throw new QueueOptionsError(
        OPTION,
        `is not a valid keyword/value string: expected a keyword at character ${i + 1}`,
      );
    }
    i += keyword.length;
    skipSpace();
    if (raw[i] !== '=') {
      throw new QueueOptionsError(OPTION, `keyword ${keyword} must be followed by =`);
    }
    i += 1;
    skipSpace();
    let value = '';
    if (raw[i] === "'") {
      i += 1;
      for (;;) {
        if (i >= raw.length) {
          throw new QueueOptionsError(OPTION, `the quoted value of ${keyword} is not closed`);
        }
        const char = raw[i]!;
        if (char === '\\' && i + 1 < raw.length) {
          value += raw[i + 1];
          i += 2;
        } else if (char === "'") {
          i += 1;
          break;
        } else {
          value += char;
          i += 1;
        }
      }
    } else {
      while (i < raw.length && !/\s/.test(raw[i]!)) {
        if (raw[i] === '\\' && i + 1 < raw.length) i += 1;
        value += raw[i];
        i += 1;
      }
    }
    pairs.push([keyword.toLowerCase(), value]);
  }
  return pairs;
}
