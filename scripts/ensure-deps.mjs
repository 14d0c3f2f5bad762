// `npm start`, `npm test`, `npm run bench`, lint and typecheck work on a fresh clone: install the locked
// dependencies first when node_modules is missing. A no-op once `npm ci` has run (as in CI).
// An argument names another folder with its own package.json (bench/, whose peers lint and typecheck read).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const folder = new URL(`../${process.argv[2] ?? '.'}/`, import.meta.url);
if (!existsSync(new URL('node_modules/.package-lock.json', folder))) {
  process.stdout.write(`${folder.pathname}node_modules is missing: running npm ci first\n`);
  // Run it as a top-level `npm ci` would be, without the settings of the npm script we are in.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'NODE_OPTIONS'),
  );
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: folder,
    env,
    stdio: 'inherit',
  });
}
