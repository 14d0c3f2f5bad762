import { HttpStatus, ValidationPipe } from '@nestjs/common';
import { type NestExpressApplication } from '@nestjs/platform-express';
import { BodyDepthPipe } from './body-depth.pipe.js';

/** Largest request body: a full batch of short documents fits; a 10 MB upload does not. */
export const BODY_LIMIT = '5mb';

interface Request {
  readonly method: string;
  is(type: string): string | false | null;
}
interface Response {
  status(code: number): Response;
  json(body: unknown): void;
}

/**
 * What the demo's HTTP layer needs. The app must be created with `bodyParser: false`: only JSON
 * is parsed, with a limit above the largest batch; a POST of any other type is refused with 415,
 * so a cross-site form (which a browser sends without asking) cannot enqueue. Then a nesting and
 * size budget, DTO validation that refuses unknown properties, and no `X-Powered-By`. (The
 * queue's typed errors become 400/503 answers through `QueueExceptionFilter`, which `DemoModule`
 * provides as `APP_FILTER`.)
 */
export function configureDemoApp(app: NestExpressApplication): void {
  app.disable('x-powered-by');
  app.use((request: Request, response: Response, next: () => void) => {
    // `is` answers null for a request without a body, false for a body of another type.
    if (request.method === 'POST' && request.is('application/json') === false) {
      response.status(HttpStatus.UNSUPPORTED_MEDIA_TYPE).json({
        statusCode: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
        error: 'Unsupported Media Type',
        message: ['send JSON: content-type must be application/json'],
      });
      return;
    }
    next();
  });
  app.useBodyParser('json', { limit: BODY_LIMIT });
  app.useGlobalPipes(
    new BodyDepthPipe(),
    new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
  );
}
