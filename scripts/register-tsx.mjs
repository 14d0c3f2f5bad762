// Preloaded for npm scripts and npx by .npmrc, so that `npx typeorm migration:run -d ormconfig.ts`
// can load TypeScript on Node 20. On a fresh clone tsx is not installed yet; then there is
// nothing to register, and `npm start` / `npm test` install it first.
try {
  const { register } = await import('tsx/esm/api');
  register();
} catch {
  // tsx not installed yet
}
