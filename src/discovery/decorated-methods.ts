import { type DiscoveryService, type MetadataScanner } from '@nestjs/core';

/** A provider as discovery lists it (Nest's `InstanceWrapper`, without a deep import). */
type ProviderWrapper = ReturnType<DiscoveryService['getProviders']>[number];

/** One method of a provider that carries a decorator's declarations. */
export interface DecoratedMethod<D> {
  readonly wrapper: ProviderWrapper;
  /** The provider's instance; undefined for a request-scoped one, which has none at boot. */
  readonly instance: unknown;
  /** The provider's class prototype: the same for a class provided under two tokens. */
  readonly prototype: object;
  readonly methodName: string;
  /** `Class.method`, for errors and logs. */
  readonly handlerName: string;
  readonly declarations: readonly D[];
}

/**
 * Every method of the application's providers, inherited ones included, for which `read` finds
 * declarations. The walk the processor, event and schedule explorers share; what each does with
 * a method is its own.
 */
export function decoratedMethods<D>(
  discovery: DiscoveryService,
  scanner: MetadataScanner,
  read: (method: (...args: never[]) => unknown) => readonly D[] | undefined,
): DecoratedMethod<D>[] {
  const found: DecoratedMethod<D>[] = [];
  for (const wrapper of discovery.getProviders()) {
    const instance: unknown = wrapper.instance;
    const metatype: unknown = wrapper.metatype;
    // Request-scoped providers have no instance at boot; their class still carries the metadata.
    const prototype: unknown =
      instance !== null && typeof instance === 'object'
        ? Object.getPrototypeOf(instance)
        : typeof metatype === 'function'
          ? (metatype as { prototype?: unknown }).prototype
          : undefined;
    if (prototype === null || typeof prototype !== 'object') continue;
    const className = (prototype.constructor as { name?: string }).name ?? 'anonymous';
    for (const methodName of scanner.getAllMethodNames(prototype)) {
      const method: unknown = (prototype as Record<string, unknown>)[methodName];
      if (typeof method !== 'function') continue;
      const declarations = read(method as (...args: never[]) => unknown);
      if (declarations === undefined) continue;
      found.push({
        wrapper,
        instance,
        prototype,
        methodName,
        handlerName: `${className}.${methodName}`,
        declarations,
      });
    }
  }
  return found;
}
