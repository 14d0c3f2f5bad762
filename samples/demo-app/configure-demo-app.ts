import { ValidationPipe } from '@nestjs/common';
import { type NestExpressApplication } from '@nestjs/platform-express';
import { BodyDepthPipe } from './body-depth.pipe.js';
import { QueueErrorFilter } from './queue-error.filter.js';

/**
 * What the demo's HTTP layer needs: a body limit above the largest batch, a nesting bound, DTO
 * validation that refuses unknown properties, and the queue's typed errors turned into 400/503
 * answers.
 */
export function configureDemoApp(app: NestExpressApplication): void {
  app.useBodyParser('json', { limit: '20mb' });
  app.useGlobalPipes(
    new BodyDepthPipe(),
    new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
  );
  app.useGlobalFilters(new QueueErrorFilter());
}
