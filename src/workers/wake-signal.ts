/**
 * How a fetch loop sleeps until something can have changed: a slot freed, a NOTIFY for its
 * queue, a resume, or a timeout. A wake with nobody waiting is kept for the next wait, so no
 * wake-up is lost between a check and the wait that follows it. Once closed, every wait returns
 * at once.
 */
export class WakeSignal {
  private wakeUp: ((timedOut: boolean) => void) | undefined;
  private pending = false;
  private closed = false;

  wake(): void {
    const wakeUp = this.wakeUp;
    if (wakeUp === undefined) {
      this.pending = true;
      return;
    }
    this.wakeUp = undefined;
    wakeUp(false);
  }

  /** Ends every wait, now and later: the loop is stopping. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves `true` when `timeoutMs` passed, `false` when woken (or a wake-up was pending). */
  wait(timeoutMs?: number): Promise<boolean> {
    if (this.pending || this.closed) {
      this.pending = false;
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.wakeUp = (timedOut) => {
        clearTimeout(timer);
        resolve(timedOut);
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.wakeUp = undefined;
          resolve(true);
        }, timeoutMs);
      }
    });
  }

  /**
   * Waits `ms`, cut short only by close or by a wake when `cut()` holds: a database in trouble
   * must not be hammered on every poke, only when there is news that it answers again.
   */
  async sleep(ms: number, cut: () => boolean = () => false): Promise<void> {
    const until = Date.now() + ms;
    while (!this.closed && !cut() && Date.now() < until) {
      await this.wait(until - Date.now());
    }
  }
}
