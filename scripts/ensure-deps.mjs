// `npm start`, `npm test` and `npm run bench` work on a fresh clone: they install the locked
// dependencies first when node_modules is missing. A no-op once `npm ci` has run (as in CI).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('../', import.meta.url);
if (!existsSync(new URL('node_modules/.package-lock.json', root))) {
  process.stdout.write('node_modules is missing: running npm ci first\n');
  // As a top-level `npm ci` would run, without the settings of the npm script we are in.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)),
  );
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, env, stdio: 'inherit' });
}
