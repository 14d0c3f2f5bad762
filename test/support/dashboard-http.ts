import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';

/**
 * The test's stand-in for an application's guard: admits a request with an `x-user` header and
 * leaves `request.user` as Passport would.
 */
@Injectable()
export class HeaderUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined>; user?: unknown }>();
    const name = request.headers['x-user'];
    if (name === undefined || name === '') return false;
    request.user = { username: name };
    return true;
  }
}

/** A page as a browser would hold it: status, headers, body, and the CSRF token it set. */
export interface FetchedPage {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** A tiny cookie-keeping client of one dashboard, as one user. */
export class DashboardClient {
  private cookie: string | undefined;

  constructor(
    private readonly origin: string,
    private readonly user: string | undefined,
  ) {}

  async get(path: string): Promise<FetchedPage> {
    const response = await fetch(`${this.origin}${path}`, {
      headers: this.headers(),
      redirect: 'manual',
    });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie !== null) this.cookie = setCookie.split(';')[0];
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /** The token of the form the last page holds. */
  token(page: FetchedPage): string {
    const match = /name="_csrf" value="([^"]+)"/.exec(page.text);
    if (match?.[1] === undefined) throw new Error('the page holds no form');
    return match[1];
  }

  async post(
    path: string,
    form: Record<string, string>,
    extraHeaders: Record<string, string> = {},
  ): Promise<FetchedPage> {
    const response = await fetch(`${this.origin}${path}`, {
      method: 'POST',
      headers: {
        ...this.headers(),
        'content-type': 'application/x-www-form-urlencoded',
        ...extraHeaders,
      },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  private headers(): Record<string, string> {
    return {
      ...(this.user === undefined ? {} : { 'x-user': this.user }),
      ...(this.cookie === undefined ? {} : { cookie: this.cookie }),
    };
  }
}
