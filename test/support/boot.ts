import { type LoggerService, type ModuleMetadata, type Provider, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  ProcessorRegistry,
  QueueModule,
  QueueService,
  type QueueModuleExtras,
  type QueueModuleOptions,
} from '../../src/index.js';

/** The module's options with the extras (`isGlobal`, `healthEndpoints`). */
export type TestModuleOptions = QueueModuleOptions & QueueModuleExtras;

export interface BootedApp {
  readonly moduleRef: TestingModule;
  readonly queue: QueueService;
  readonly registry: ProcessorRegistry;
  get<T>(type: Type<T>): T;
  /** Closes the app, lifecycle hooks included; a second call does nothing. */
  close(): Promise<void>;
}

export interface BootExtras {
  readonly imports?: ModuleMetadata['imports'];
  readonly logger?: LoggerService;
  /** Runs on the compiled module before init, before any worker starts (to spy on a provider). */
  readonly beforeInit?: (moduleRef: TestingModule) => void;
}

/**
 * Options every test app starts from: a small pool, a quick poll, and no scheduled reaper or
 * cleanup (tests that want them turn them on). Pool options are left out beside a shared
 * `dataSource`, which brings its own.
 */
function testOptions(options: TestModuleOptions): TestModuleOptions {
  const base = { pollIntervalMs: 100, reaper: false, cleanup: false } as const;
  return options.dataSource === undefined
    ? { poolMinSize: 1, poolMaxSize: 10, ...base, ...options }
    : { ...base, ...options };
}

/**
 * Boots an application context with QueueModule and the given providers, lifecycle included:
 * the connection opens and migrations run at init, processors are discovered and their workers
 * start at bootstrap, as in a real app. The one way tests boot the module.
 */
export async function bootApp(
  options: TestModuleOptions,
  providers: Provider[] = [],
  extra: BootExtras = {},
): Promise<BootedApp> {
  const moduleRef = await compile(options, providers, extra);
  extra.beforeInit?.(moduleRef);
  await moduleRef.init();
  return booted(moduleRef, () => moduleRef.close());
}

/** {@link bootApp} as an HTTP application listening on a free loopback port. */
export async function bootHttpApp(
  options: TestModuleOptions,
  providers: Provider[] = [],
  extra: BootExtras = {},
): Promise<BootedApp & { readonly url: string }> {
  const moduleRef = await compile(options, providers, extra);
  const app = moduleRef.createNestApplication({ logger: extra.logger ?? false });
  await app.listen(0, '127.0.0.1');
  return { ...booted(moduleRef, () => app.close()), url: await app.getUrl() };
}

async function compile(
  options: TestModuleOptions,
  providers: Provider[],
  extra: BootExtras,
): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [...(extra.imports ?? []), QueueModule.forRoot(testOptions(options))],
    providers,
  }).compile();
  moduleRef.useLogger(extra.logger ?? false);
  return moduleRef;
}

function booted(moduleRef: TestingModule, close: () => Promise<void>): BootedApp {
  let closing: Promise<void> | undefined;
  return {
    moduleRef,
    queue: moduleRef.get(QueueService),
    registry: moduleRef.get(ProcessorRegistry),
    get: (type) => moduleRef.get(type),
    close: () => (closing ??= close()),
  };
}

/** Compiles and initialises a testing module that is expected to fail; returns what it threw. */
export async function bootError(metadata: ModuleMetadata): Promise<unknown> {
  try {
    const moduleRef = await Test.createTestingModule(metadata).compile();
    moduleRef.useLogger(false);
    try {
      await moduleRef.init();
    } finally {
      await moduleRef.close();
    }
  } catch (error) {
    return error;
  }
  throw new Error('expected the module to fail to boot, but it booted');
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
