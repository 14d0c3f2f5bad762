/**
 * A process without prom-client (test/support/hide-prom-client.mjs hides it): creates the
 * module's providers with metrics off, then with metrics on, and prints one JSON line: how many
 * times something tried to resolve prom-client during each, and what the second threw. Only
 * compiled, not initialised: the providers are made (prom-client is loaded by one of them, when
 * at all), no connection is opened. Run with `node --import tsx` or from a bundle that keeps its
 * import.meta.url (tsChildArgsKeepingUrls).
 */
import 'reflect-metadata';
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const { port1, port2 } = new MessageChannel();
let attempts = 0;
port1.on('message', () => (attempts += 1));
port1.unref();
register('./hide-prom-client.mjs', import.meta.url, {
  data: { port: port2 },
  transferList: [port2],
});

const { Test } = await import('@nestjs/testing');
const { QueueModule } = await import('../../src/index.js');
const options = { connectionString: 'postgres://nobody@127.0.0.1:1/none' } as const;
const compile = async (metrics: boolean) => {
  const moduleRef = await Test.createTestingModule({
    imports: [QueueModule.forRoot({ ...options, metrics })],
  }).compile();
  await moduleRef.close();
};
// Messages from the hooks' thread arrive asynchronously.
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

await compile(false);
await settle();
const whenOff = attempts;

let thrown: unknown;
try {
  await compile(true);
} catch (error) {
  thrown = error;
}
await settle();
process.stdout.write(
  `${JSON.stringify({
    whenOff,
    whenOn: attempts - whenOff,
    error: thrown instanceof Error ? { name: thrown.name, message: thrown.message } : null,
  })}\n`,
);
