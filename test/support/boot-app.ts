import { type LoggerService, type ModuleMetadata, type Provider, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  ProcessorRegistry,
  QueueModule,
  QueueService,
  type QueueModuleOptions,
} from '../../src/index.js';

export interface BootedApp {
  readonly moduleRef: TestingModule;
  readonly queue: QueueService;
  readonly registry: ProcessorRegistry;
  get<T>(type: Type<T>): T;
  close(): Promise<void>;
}

/**
 * Boots an application context with QueueModule and the given providers, lifecycle included:
 * processors are discovered at init and their workers start at bootstrap, as in a real app.
 */
export async function bootApp(
  options: QueueModuleOptions,
  providers: Provider[] = [],
  extra: { imports?: ModuleMetadata['imports']; logger?: LoggerService } = {},
): Promise<BootedApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ...(extra.imports ?? []),
      QueueModule.forRoot({
        poolMinSize: 1,
        poolMaxSize: 10,
        pollIntervalMs: 100,
        reaper: false,
        cleanup: false,
        ...options,
      }),
    ],
    providers,
  }).compile();
  moduleRef.useLogger(extra.logger ?? false);
  await moduleRef.init();
  return {
    moduleRef,
    queue: moduleRef.get(QueueService),
    registry: moduleRef.get(ProcessorRegistry),
    get: (type) => moduleRef.get(type),
    close: () => moduleRef.close(),
  };
}

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A Nest logger that keeps what it is told, for assertions on log lines. */
export class RecordingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown): void {
    this.lines.push(`log ${String(message)}`);
  }
  warn(message: unknown): void {
    this.lines.push(`warn ${String(message)}`);
  }
  error(message: unknown): void {
    this.lines.push(`error ${String(message)}`);
  }
  debug(): void {}
  verbose(): void {}
}
