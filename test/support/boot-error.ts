import { type ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';

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
