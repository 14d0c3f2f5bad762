#!/usr/bin/env node
/**
 * The package's command line, `fetchcraft-queue` (package.json "bin"):
 *
 *   DATABASE_URL=postgres://… npx fetchcraft-queue migrate
 *
 * Everything but wiring the process lives in `runCli`, which the tests drive directly.
 */
import { runCli } from './run-cli.js';

process.exitCode = await runCli(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  // On a terminal only: a log or a pipe gets plain progress lines instead.
  ...(process.stderr.isTTY
    ? { status: (text: string) => process.stderr.write(`\r\u001b[2K${text}`) }
    : {}),
});
