/** Writes one progress value; resolves whether it was recorded (the lease still held). */
export type SendProgress = (json: string) => Promise<boolean>;

interface Waiting {
  json: string;
  value: unknown;
  readonly resolvers: Array<(recorded: boolean) => void>;
}

/**
 * The progress of one running message: at most one statement in flight, and while it is, only
 * the latest value waits behind it. A handler reporting progress in a tight loop sends two
 * statements, not one per call: the values in between are superseded, and their callers learn
 * whether the value that replaced them was recorded. It never rejects: a failed statement
 * resolves false (progress is advisory; a handler that does not await it must not crash the
 * process with an unhandled rejection).
 */
export class ProgressWriter {
  private inFlight = false;
  private next: Waiting | undefined;

  constructor(
    private readonly send: SendProgress,
    /** Called with each value recorded, in order (the progress event). */
    private readonly onRecorded: (value: unknown) => void,
    /** Called with a statement that failed. */
    private readonly onFailed: (error: unknown) => void,
  ) {}

  write(json: string, value: unknown): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.next !== undefined) {
        this.next.json = json;
        this.next.value = value;
        this.next.resolvers.push(resolve);
      } else {
        this.next = { json, value, resolvers: [resolve] };
      }
      if (!this.inFlight) this.flush();
    });
  }

  private flush(): void {
    const waiting = this.next;
    if (waiting === undefined) return;
    this.next = undefined;
    this.inFlight = true;
    void this.send(waiting.json)
      .then(
        (recorded) => {
          if (recorded) {
            try {
              this.onRecorded(waiting.value);
            } catch {
              // A listener's failure is its own; the value was recorded.
            }
          }
          return recorded;
        },
        (error: unknown) => {
          this.onFailed(error);
          return false;
        },
      )
      .then((recorded) => {
        this.inFlight = false;
        for (const resolve of waiting.resolvers) resolve(recorded);
        this.flush();
      });
  }
}
