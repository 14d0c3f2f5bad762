import {
  Controller,
  Get,
  Inject,
  Logger,
  Param,
  Post,
  Query,
  Req,
  Res,
  type Type,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import {
  DASHBOARD_GROUPS_PER_QUEUE,
  DASHBOARD_PAGE_SIZE,
  DEFAULT_DASHBOARD_PATH,
} from '../config/defaults.js';
import { MESSAGE_STATES, type MessageState } from '../interfaces/queue-message.interface.js';
import { type DashboardOptions } from '../interfaces/dashboard-options.interface.js';
import { QueueService } from '../queue.service.js';
import { MessageStore } from '../store/message-store.js';
import { ActionProgress } from './action-progress.js';
import { DashboardActions } from './dashboard-actions.js';
import { createDashboardFilter } from './dashboard-exception.filter.js';
import { DashboardRefusal } from './dashboard-refusal.js';
import {
  csrfCookie,
  csrfTokensMatch,
  crossSiteRefusal,
  CSRF_COOKIE,
  CSRF_FIELD,
  isCsrfToken,
  newCsrfToken,
  parseCookies,
} from './csrf.js';
import {
  backWithFlash,
  basePathOf,
  DASHBOARD_ASSETS,
  type DashboardHttpRequest,
  type DashboardHttpResponse,
  formOf,
  pathOf,
  redirect,
  safeBack,
  sendResponse,
} from './dashboard-http.js';
import { resolveDashboardSettings, type DashboardSettings } from './dashboard-settings.js';
import { type SafeHtml } from './html.js';
import { parseMessageSearch } from './message-search.js';
import { chartDataOf, chartHoursOf, latestSamples } from './pages/charts.js';
import { confirmPage } from './pages/confirm.page.js';
import { groupsPage } from './pages/groups.page.js';
import { messagePage } from './pages/message.page.js';
import { overviewPage, type OverviewQueue } from './pages/overview.page.js';
import { type PageContext } from './pages/page-context.js';
import { progressPage } from './pages/progress.page.js';
import { queuePage } from './pages/queue.page.js';
import { replicasPage } from './pages/replicas.page.js';
import { schedulesPage } from './pages/schedules.page.js';

const HTML = 'text/html; charset=utf-8';

/** The path of `options` as mounted (checked again, with the rest, when the controller is built). */
function mountPath(options: DashboardOptions): string {
  return (
    (options.path ?? DEFAULT_DASHBOARD_PATH).replace(/^\/+|\/+$/g, '') || DEFAULT_DASHBOARD_PATH
  );
}

/**
 * The dashboard's controller for `options`: its pages, its assets and its actions under
 * `options.path`, behind `options.guard`. Built here rather than declared, because the path and
 * the guard are the application's.
 */
export function createDashboardController(options: DashboardOptions): Type<unknown> {
  const path = mountPath(options);
  let resolved: DashboardSettings | undefined;
  const Filter = createDashboardFilter(() => resolved, path);

  @Controller(path)
  @UseFilters(Filter)
  class QueueDashboardController {
    private readonly logger = new Logger('QueueDashboard');
    private readonly settings: DashboardSettings;
    private readonly progress = new ActionProgress();
    private readonly actions: DashboardActions;

    constructor(
      @Inject(QueueService) private readonly queue: QueueService,
      @Inject(MessageStore) private readonly store: MessageStore,
    ) {
      this.settings = resolveDashboardSettings(options);
      resolved = this.settings;
      this.actions = new DashboardActions(queue, this.progress, this.logger);
    }

    /** At boot, once the application's logger is in place: a public dashboard is said aloud. */
    onModuleInit(): void {
      if (this.settings.isPublic && this.settings.guard === undefined) {
        this.logger.warn(
          `The queue dashboard at /${this.settings.path} is public (dashboard.public: true, no guard): anyone who reaches it can see messages and act on them`,
        );
      }
    }

    @Get()
    async overview(
      @Req() request: DashboardHttpRequest,
      @Res() response: DashboardHttpResponse,
      @Query('hours') hoursParam?: string,
      @Query('flash') flash?: string,
    ): Promise<void> {
      const hours = chartHoursOf(hoursParam);
      const [stats, depths, samples] = await Promise.all([
        this.queue.getStats(),
        this.store.depths(1),
        this.queue.listSamples({ sinceMinutes: hours * 60 }),
      ]);
      const latest = latestSamples(samples);
      const names = [...new Set([...Object.keys(stats.byQueue), ...latest.keys()])].sort();
      const queues = names.map((queue): OverviewQueue => {
        const counts = stats.byQueue[queue];
        const sample = latest.get(queue);
        return {
          queue,
          ready: counts?.ready ?? 0,
          leased: counts?.leased ?? 0,
          failed: counts?.failed ?? 0,
          done: counts?.done ?? 0,
          cancelled: counts?.cancelled ?? 0,
          oldestReadyAgeSeconds: depths[queue]?.oldestReadyAgeSeconds ?? 0,
          paused: depths[queue]?.paused ?? false,
          ratePerMinuteIn: sample?.enqueued ?? null,
          ratePerMinuteOut: sample?.completed ?? null,
        };
      });
      this.page(request, response, flash, (context) =>
        overviewPage(context, { queues, hours, charts: chartDataOf(samples, names) }),
      );
    }

    @Get('queues/:queue')
    async queuePage(
      @Req() request: DashboardHttpRequest,
      @Res() response: DashboardHttpResponse,
      @Param('queue') queue: string,
      @Query() query: Record<string, unknown>,
    ): Promise<void> {
      const text = (name: string) => (typeof query[name] === 'string' ? query[name] : undefined);
      const stateParam = text('state');
      const state =
        stateParam !== undefined && (MESSAGE_STATES as readonly string[]).includes(stateParam)
          ? (stateParam as MessageState)
          : undefined;
      const hours = chartHoursOf(text('hours'));
      const searchText = text('q');
      const search = parseMessageSearch(searchText);
      const base = basePathOf(pathOf(request), this.settings.path);
      if (search?.kind === 'id') {
        const found = await this.queue.getMessage(search.id);
        if (found !== null) {
          redirect(response, `${base}/messages/${encodeURIComponent(found.id)}`);
          return;
        }
      }
      const after = text('after');
      const [stats, paused, samples] = await Promise.all([
        this.queue.getStats(queue),
        this.queue.isPaused(queue),
        this.queue.listSamples({ queue, sinceMinutes: hours * 60 }),
      ]);
      const page =
        search?.kind === 'invalid' || search?.kind === 'id'
          ? { messages: [], more: false, afterFound: true }
          : await this.store.listMessages({
              queue,
              limit: DASHBOARD_PAGE_SIZE,
              ...(state === undefined ? {} : { state }),
              ...(search?.kind === 'body' ? { bodyContains: search.json } : {}),
              ...(after === undefined || after === '' ? {} : { afterId: after }),
            });
      const counts = stats.byQueue[queue] ?? {
        ready: 0,
        leased: 0,
        done: 0,
        failed: 0,
        cancelled: 0,
        waiting_children: 0,
      };
      const searchError =
        search?.kind === 'invalid'
          ? search.reason
          : search?.kind === 'id'
            ? `No message has the id ${search.id}.`
            : page.afterFound
              ? undefined
              : 'The page started after a message that no longer exists; start again from the first page.';
      const last = page.messages.at(-1);
      this.page(request, response, text('flash'), (context) =>
        queuePage(context, {
          queue,
          counts,
          paused,
          ...(state === undefined ? {} : { state }),
          ...(searchText === undefined || searchText === '' ? {} : { search: searchText }),
          ...(searchError === undefined ? {} : { searchError }),
          messages: page.messages,
          ...(page.more && last !== undefined ? { next: last.id } : {}),
          hours,
          charts: chartDataOf(samples, [queue]),
        }),
      );
    }

    @Get('messages/:id')
    async messagePage(
      @Req() request: DashboardHttpRequest,
      @Res() response: DashboardHttpResponse,
      @Param('id') id: string,
      @Query('flash') flash?: string,
    ): Promise<void> {
      const message = await this.queue.getMessage(id);
      if (message === null) throw new DashboardRefusal(`No message has the id ${id}.`, 404);
      const children = await this.queue.getChildren(id);
      this.page(request, response, flash, (context) => messagePage(context, { message, children }));
    }

    @Get('replicas')
    async replicasPage(
      @Req() request: DashboardHttpRequest,
      @Res() response: DashboardHttpResponse,
      @Query('flash') flash?: string,
    ): Promise<void> {
      const replicas = await this.queue.listReplicas();
      this.page(request, response, flash, (context) => replicasPage(context, { replicas }));
    }

    @Get('schedules')
    async schedulesPage(
      @Req() request: DashboardHttpRequest,
      @Res() response: DashboardHttpResponse,
      @Query('flash') flash?: string,
    ): Promise<void> {
      const schedules = await this.queue.listSchedules();
      this.page(request, response, flash, (context) => schedulesPage(context, { schedules }));
    }

    @Get('groups')
    async groupsPage(
      @Req() request: DashboardHttpRequest,
      @Res() response: DashboardHttpResponse,
      @Query('queue') only?: string,
      @Query('flash') flash?: string,
    ): Promise<void> {
      const names =
        typeof only === 'string' && only !== ''
          ? [only]
          : Object.keys((await this.queue.getStats()).byQueue).sort();
      const queues = await Promise.all(
        names.map(async (queue) => ({
          queue,
          groups: await this.queue.listBlockedGroups(queue, DASHBOARD_GROUPS_PER_QUEUE),
        })),
      );
      this.page(request, response, flash, (context) => groupsPage(context, { queues }));
    }

    @Get('assets/:file')
    async asset(
      @Res() response: DashboardHttpResponse,
      @Param('file') file: string,
    ): Promise<void> {
      const asset = Object.hasOwn(DASHBOARD_ASSETS, file) ? DASHBOARD_ASSETS[file] : undefined;
      if (asset === undefined) throw new DashboardRefusal('No such file.', 404);
      sendResponse(response, 200, asset.contentType, await asset.load());
    }

    @Get('actions/:id')
    async progressPage(
      @Req() request: DashboardHttpRequest,
      @Res() response: DashboardHttpResponse,
      @Param('id') id: string,
      @Query('queue') queue?: string,
    ): Promise<void> {
      const data = await this.progressOf(id, queue);
      this.page(request, response, undefined, (context) => progressPage(context, data));
    }

    @Get('actions/:id/state')
    async progressState(
      @Res() response: DashboardHttpResponse,
      @Param('id') id: string,
      @Query('queue') queue?: string,
    ): Promise<void> {
      const data = await this.progressOf(id, queue);
      sendResponse(
        response,
        200,
        'application/json; charset=utf-8',
        JSON.stringify({ progress: data.progress ?? null, remaining: data.remaining }),
      );
    }

    @Post('actions/:action')
    async act(
      @Req() request: DashboardHttpRequest,
      @Res() response: DashboardHttpResponse,
      @Param('action') action: string,
    ): Promise<void> {
      const actor = this.settings.actor(request);
      const refuse = (message: string): never => {
        this.logger.warn(`${JSON.stringify(actor)} ${action} refused: ${message}`);
        throw new DashboardRefusal(message, 403);
      };
      if (this.settings.readOnly(request)) {
        refuse('The dashboard is read-only for you: no action is allowed.');
      }
      const crossSite = crossSiteRefusal({
        host: header(request, 'host'),
        origin: header(request, 'origin'),
        secFetchSite: header(request, 'sec-fetch-site'),
      });
      if (crossSite !== undefined) refuse(`Refused: a cross-site request (${crossSite}).`);
      const form = await formOf(request);
      const cookie = parseCookies(header(request, 'cookie')).get(CSRF_COOKIE);
      if (!csrfTokensMatch(cookie, form[CSRF_FIELD])) {
        refuse(
          'Refused: the form token is missing or does not match (reload the page and try again).',
        );
      }
      const base = basePathOf(pathOf(request), this.settings.path);
      const outcome = await this.actions.run(action, form, actor);
      const back = safeBack(base, form['back']);
      switch (outcome.kind) {
        case 'done':
          redirect(
            response,
            backWithFlash(
              base,
              outcome.queuePage === undefined
                ? back
                : `${base}/queues/${encodeURIComponent(outcome.queuePage)}`,
              outcome.flash,
            ),
          );
          return;
        case 'confirm':
          this.page(request, response, undefined, (context) =>
            confirmPage(context, { ...outcome, back }),
          );
          return;
        case 'started':
          redirect(
            response,
            `${base}/actions/${outcome.id}?queue=${encodeURIComponent(outcome.queue)}`,
          );
          return;
      }
    }

    private async progressOf(id: string, queue: string | undefined) {
      const state = this.progress.get(id);
      const target = state?.queue ?? queue;
      if (target === undefined)
        throw new DashboardRefusal('No such action here, and no queue given.', 404);
      const remaining = (await this.queue.getStats(target)).failedMessages;
      return {
        id,
        queue: target,
        description: state?.description ?? 'Retry every dead letter of',
        ...(state === undefined
          ? {}
          : {
              progress: {
                done: state.done,
                total: state.total,
                finished: state.finished,
                ...(state.error === undefined ? {} : { error: state.error }),
              },
            }),
        remaining,
      };
    }

    /** Renders a page with this request's context: its base path, its CSRF token (set once). */
    private page(
      request: DashboardHttpRequest,
      response: DashboardHttpResponse,
      flash: string | undefined,
      render: (context: PageContext) => SafeHtml,
    ): void {
      const requestPath = pathOf(request);
      const base = basePathOf(requestPath, this.settings.path);
      const existing = parseCookies(header(request, 'cookie')).get(CSRF_COOKIE);
      const token = isCsrfToken(existing) ? existing : newCsrfToken();
      const url = request.originalUrl ?? request.url ?? base;
      const context: PageContext = {
        base,
        csrfToken: token,
        readOnly: this.settings.readOnly(request),
        ...(typeof flash === 'string' && flash !== '' ? { flash } : {}),
        self: safeBack(base, url),
        now: new Date(),
      };
      const secure = request.secure === true || request.protocol === 'https';
      sendResponse(
        response,
        200,
        HTML,
        render(context).text,
        token === existing ? {} : { 'Set-Cookie': csrfCookie(token, base, secure) },
      );
    }
  }

  if (options.guard !== undefined) UseGuards(options.guard)(QueueDashboardController);
  return QueueDashboardController;
}

function header(request: DashboardHttpRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
