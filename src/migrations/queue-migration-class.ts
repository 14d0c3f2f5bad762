import { type MigrationInterface } from 'typeorm';

/**
 * A TypeORM migration class bound to one queue table. TypeORM instantiates migrations without
 * arguments, so each migration file exports a factory that closes over the table's names.
 */
export type QueueMigrationClass = new () => MigrationInterface & { readonly name: string };
