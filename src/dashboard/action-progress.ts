import { randomUUID } from 'node:crypto';

/** A long action's progress in this process. */
export interface ActionState {
  readonly id: string;
  readonly queue: string;
  readonly description: string;
  /** Messages handled so far. */
  done: number;
  /** Messages there were to handle when it started. */
  readonly total: number;
  finished: boolean;
  error?: string;
  readonly startedAt: number;
}

const KEEP = 200;

/**
 * Long actions (a retry of 100,000 dead letters) run in the background of the process that
 * took the POST; their progress lives in its memory only. Behind a load balancer without sticky
 * sessions the progress page may land on another pod: that one shows the database's count of
 * what is left instead.
 */
export class ActionProgress {
  private readonly actions = new Map<string, ActionState>();

  /** Starts `run` now; it reports each batch with the count so far. @returns the action's id. */
  start(
    queue: string,
    description: string,
    total: number,
    run: (onBatch: (doneSoFar: number) => void) => Promise<number>,
    onEnd: (state: ActionState) => void,
  ): string {
    const state: ActionState = {
      id: randomUUID(),
      queue,
      description,
      done: 0,
      total,
      finished: false,
      startedAt: Date.now(),
    };
    this.actions.set(state.id, state);
    this.forgetOld();
    void run((doneSoFar) => {
      state.done = doneSoFar;
    }).then(
      (done) => {
        state.done = done;
        state.finished = true;
        onEnd(state);
      },
      (error: unknown) => {
        state.finished = true;
        state.error = error instanceof Error ? error.message : String(error);
        onEnd(state);
      },
    );
    return state.id;
  }

  get(id: string): ActionState | undefined {
    return this.actions.get(id);
  }

  private forgetOld(): void {
    for (const [id, state] of this.actions) {
      if (this.actions.size <= KEEP) return;
      if (state.finished) this.actions.delete(id);
    }
  }
}
