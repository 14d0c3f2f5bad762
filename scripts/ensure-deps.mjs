// `npm start` and `npm test` work on a fresh clone: install the locked dependencies first when
// node_modules is missing. A no-op once `npm ci` has run (as in CI).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync(new URL('../node_modules/.package-lock.json', import.meta.url))) {
  process.stdout.write('node_modules is missing: running npm ci first\n');
  // Run it as a top-level `npm ci` would be, without the settings of the npm script we are in.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'NODE_OPTIONS'),
  );
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: new URL('..', import.meta.url),
    env,
    stdio: 'inherit',
  });
}
