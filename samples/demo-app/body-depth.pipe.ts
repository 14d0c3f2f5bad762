import {
  BadRequestException,
  Injectable,
  type ArgumentMetadata,
  type PipeTransform,
} from '@nestjs/common';
import { MAX_BODY_DEPTH } from '@fetchcraft/queue';

/**
 * Refuses request bodies nested deeper than the queue accepts, before class-transformer and
 * class-validator see them: both recurse once per level and would overflow the stack (a 500) on
 * the 10,000-level bodies that JSON.parse accepts. The walk itself keeps its own stack.
 */
@Injectable()
export class BodyDepthPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body') return value;
    const pending: Array<[unknown, number]> = [[value, 1]];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const [node, depth] = next;
      if (node === null || typeof node !== 'object') continue;
      if (depth > MAX_BODY_DEPTH) {
        throw new BadRequestException(
          `body must not nest objects and arrays deeper than ${MAX_BODY_DEPTH} levels`,
        );
      }
      for (const child of Object.values(node)) pending.push([child, depth + 1]);
    }
    return value;
  }
}
