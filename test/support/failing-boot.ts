/**
 * A bootstrap wrapped in try/catch, as many apps write it, whose boot fails: FAIL_AT says where.
 * `later-hook`: another provider's onModuleInit throws after the queue module opened its pool
 * (with a warm minimum of POOL_MIN connections); `migration`: the queue's own migration fails.
 * It prints `caught <message>`, then must exit by itself: nothing the failed boot opened may keep
 * the event loop alive. Run with `node --import tsx`; DATABASE_URL says where.
 */
import 'reflect-metadata';
import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { QueueModule } from '../../src/index.js';

@Injectable()
class FailsLater implements OnModuleInit {
  onModuleInit(): void {
    if (process.env.FAIL_AT === 'later-hook') throw new Error('a later boot step failed');
  }
}

@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.DATABASE_URL,
      poolMinSize: Number(process.env.POOL_MIN ?? 0),
      poolMaxSize: 4,
      ...(process.env.QUEUE_TABLE === undefined ? {} : { table: process.env.QUEUE_TABLE }),
      reaper: false,
      cleanup: false,
    }),
  ],
  providers: [FailsLater],
})
class AppModule {}

try {
  const app = await NestFactory.createApplicationContext(AppModule, {
    logger: false,
    abortOnError: false,
  });
  process.stdout.write('booted\n');
  await app.close();
} catch (error) {
  process.stdout.write(`caught ${error instanceof Error ? error.message : String(error)}\n`);
}
