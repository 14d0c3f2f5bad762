import { IsInt, Max, Min, validateSync, type ValidationError } from 'class-validator';
import { type Bounds } from './limits.js';

/** The first broken rule of a value checked against a class-validator schema class. */
export interface SchemaViolation {
  /** The offending property. */
  readonly property: string;
  /** What it must be, e.g. `must not be less than 1`. */
  readonly rule: string;
}

/**
 * Checks `value` against `schema`, unknown properties included, and returns the first violation.
 * Rules are phrased without the property name, which the caller puts in its own message.
 */
export function firstViolation(
  schema: new () => object,
  value: object,
): SchemaViolation | undefined {
  const instance = Object.assign(new schema(), value);
  const [error] = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true });
  return error === undefined ? undefined : toViolation(error);
}

function toViolation(error: ValidationError): SchemaViolation {
  if (error.constraints?.whitelistValidation !== undefined) {
    return { property: error.property, rule: 'is not a known option (check its spelling)' };
  }
  const rules = Object.values(error.constraints ?? {}).map((message) =>
    message.startsWith(`${error.property} `) ? message.slice(error.property.length + 1) : message,
  );
  return { property: error.property, rule: rules.join('; ') || 'is invalid' };
}

/**
 * A whole number within `bounds` (an entry of `LIMITS`), for the option schemas; `alternative`
 * names what else the option accepts (`'auto'`), appended to each rule.
 */
export function IsWithin(bounds: Bounds, alternative?: string): PropertyDecorator {
  const or = (rule: string) =>
    alternative === undefined ? {} : { message: `${rule}, or ${alternative}` };
  return (target, property) => {
    IsInt(or('must be an integer number'))(target, property);
    Min(bounds.min, or(`must not be less than ${bounds.min}`))(target, property);
    Max(bounds.max, or(`must not be greater than ${bounds.max}`))(target, property);
  };
}
