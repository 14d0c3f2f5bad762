// A CommonJS Nest app (compiled with "module": "node20" in a "type": "commonjs" package): tsc
// turns these imports into require() calls, which load the package's ESM build.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { QueueModule, QueueService, QueueValidationError } from '@fetchcraft/queue';

@Module({
  imports: [QueueModule.forRoot({ connectionString: process.env.DATABASE_URL, workers: false })],
})
class CjsModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(CjsModule, { logger: false });
  const queue = app.get(QueueService);
  const id = await queue.enqueue('cjs.check', { from: typeof require });
  const refused = await queue.enqueue(' cjs', {}).catch((error: unknown) => error);
  const stats = await queue.getStats();
  await app.close();
  console.log(
    JSON.stringify({
      id,
      refused: refused instanceof QueueValidationError ? refused.field : 'not refused',
      total: stats.totalMessages,
    }),
  );
}

void main();
