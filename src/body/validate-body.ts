import { plainToInstance } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';
import { type BodyClass } from '../interfaces/processor-options.interface.js';
import { type BodyValidationFailure } from '../errors/body-validation.error.js';

export type BodyCheck =
  | { readonly ok: true; readonly body: unknown }
  | { readonly ok: false; readonly failures: BodyValidationFailure[] };

/** Transforms a parsed body into its DTO class and validates it, nested objects included. */
export async function validateBody(dto: BodyClass<unknown>, body: unknown): Promise<BodyCheck> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return {
      ok: false,
      failures: [{ property: '', constraints: { isObject: 'body must be a JSON object' } }],
    };
  }
  const instance = plainToInstance(dto as new () => object, body);
  const errors = await validate(instance, { forbidUnknownValues: true });
  if (errors.length === 0) return { ok: true, body: instance };
  return { ok: false, failures: flatten(errors, '') };
}

function flatten(errors: ValidationError[], prefix: string): BodyValidationFailure[] {
  return errors.flatMap((error) => {
    const property = prefix === '' ? error.property : `${prefix}.${error.property}`;
    const own =
      error.constraints === undefined ? [] : [{ property, constraints: { ...error.constraints } }];
    return [...own, ...flatten(error.children ?? [], property)];
  });
}
