import {
  BadRequestException,
  Injectable,
  type ArgumentMetadata,
  type PipeTransform,
} from '@nestjs/common';
import { MAX_BODY_DEPTH } from '@fetchcraft/queue';

/** Most values (objects, arrays, strings, numbers, …) one request body may hold. */
export const MAX_BODY_VALUES = 200_000;

/**
 * Refuses request bodies nested deeper than the queue accepts, or holding more values than any
 * real batch needs, before class-transformer and class-validator see them: both recurse once per
 * level (a 10,000-level body overflowed the stack: a 500) and copy every value (a million numbers
 * cost about 100 MB of heap). The walk keeps its own stack, pushes containers only, and stops at
 * the budget.
 */
@Injectable()
export class BodyDepthPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' || value === null || typeof value !== 'object') return value;
    const pending: Array<[object, number]> = [[value, 1]];
    let values = 1;
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const [node, depth] = next;
      if (depth > MAX_BODY_DEPTH) {
        throw new BadRequestException(
          `body must not nest objects and arrays deeper than ${MAX_BODY_DEPTH} levels`,
        );
      }
      const children = Object.values(node) as unknown[];
      values += children.length;
      if (values > MAX_BODY_VALUES) {
        throw new BadRequestException(`body must hold at most ${MAX_BODY_VALUES} values`);
      }
      for (const child of children) {
        if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
      }
    }
    return value;
  }
}
