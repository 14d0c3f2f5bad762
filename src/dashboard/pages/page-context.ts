/** What every page needs besides its data: where the dashboard is, the form token, the mode. */
export interface PageContext {
  /** The dashboard's URL path, e.g. `/queues` (with the application's global prefix, if any). */
  readonly base: string;
  /** The CSRF token every form carries. */
  readonly csrfToken: string;
  /** No action is rendered. */
  readonly readOnly: boolean;
  /** The outcome of the last action, from the redirect's query string. */
  readonly flash?: string;
  /** This page's path and query, where an action on it redirects back to. */
  readonly self: string;
  /** The clock the page's ages are computed from. */
  readonly now: Date;
}

/** The nav bar's entries. */
export type NavEntry = 'overview' | 'replicas' | 'schedules' | 'groups' | 'none';
