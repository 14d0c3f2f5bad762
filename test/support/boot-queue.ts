import { Test, type TestingModule } from '@nestjs/testing';
import { QueueModule, QueueService, type QueueModuleOptions } from '../../src/index.js';

export interface BootedQueue {
  readonly moduleRef: TestingModule;
  readonly queue: QueueService;
  close(): Promise<void>;
}

/** Boots `QueueModule.forRoot(options)` the way an application would, lifecycle hooks included. */
export async function bootQueue(options: QueueModuleOptions): Promise<BootedQueue> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      QueueModule.forRoot(
        options.dataSource === undefined
          ? { poolMinSize: 1, poolMaxSize: 10, ...options }
          : options,
      ),
    ],
  }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return { moduleRef, queue: moduleRef.get(QueueService), close: () => moduleRef.close() };
}
