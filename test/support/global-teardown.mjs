export default async function globalTeardown() {
  await globalThis.__queueTestPostgres?.stop();
}
