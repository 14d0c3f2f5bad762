import { type QueueSample } from '../../interfaces/queue-sample.interface.js';
import { html, jsonScriptData, type SafeHtml } from '../html.js';

/** The windows a chart may show, in hours. */
export const CHART_HOURS = [1, 3, 6, 24] as const;
export type ChartHours = (typeof CHART_HOURS)[number];
export const DEFAULT_CHART_HOURS: ChartHours = 3;

/** `?hours=` read: one of {@link CHART_HOURS}, else the default. */
export function chartHoursOf(value: unknown): ChartHours {
  const hours = Number(value);
  return (CHART_HOURS as readonly number[]).includes(hours)
    ? (hours as ChartHours)
    : DEFAULT_CHART_HOURS;
}

/** One queue's samples as uPlot columns: epoch seconds, then one array per series. */
export interface QueueChartData {
  readonly queue: string;
  readonly minutes: number[];
  readonly enqueued: number[];
  /** `null` where the minute before was not sampled: uPlot draws a gap. */
  readonly completed: (number | null)[];
  readonly ready: number[];
  readonly leased: number[];
  readonly failed: number[];
}

/** The samples of each queue in `queues` (in that order), oldest minute first. */
export function chartDataOf(
  samples: readonly QueueSample[],
  queues: readonly string[],
): QueueChartData[] {
  const byQueue = new Map<string, QueueSample[]>();
  for (const sample of samples) {
    const list = byQueue.get(sample.queue) ?? [];
    list.push(sample);
    byQueue.set(sample.queue, list);
  }
  return queues.map((queue) => {
    const list = (byQueue.get(queue) ?? []).sort((a, b) => a.minute.getTime() - b.minute.getTime());
    return {
      queue,
      minutes: list.map((s) => Math.round(s.minute.getTime() / 1000)),
      enqueued: list.map((s) => s.enqueued),
      completed: list.map((s) => s.completed),
      ready: list.map((s) => s.ready),
      leased: list.map((s) => s.leased),
      failed: list.map((s) => s.failed),
    };
  });
}

/** The latest sample of each queue: the rate in and out of its last whole minute. */
export function latestSamples(samples: readonly QueueSample[]): Map<string, QueueSample> {
  const latest = new Map<string, QueueSample>();
  for (const sample of samples) {
    const seen = latest.get(sample.queue);
    if (seen === undefined || seen.minute < sample.minute) latest.set(sample.queue, sample);
  }
  return latest;
}

/**
 * The charts of `data`: two per queue (throughput, depth), drawn by dashboard.js from the JSON
 * element (the only place the data is: no inline script), plus the window's links.
 */
export function chartsSection(
  base: string,
  selfPath: string,
  hours: ChartHours,
  data: readonly QueueChartData[],
): SafeHtml {
  const windows = CHART_HOURS.map((each) =>
    each === hours
      ? html`<span class="active">${each} h</span>`
      : html`<a href="${base}${selfPath}?hours=${each}">${each} h</a>`,
  );
  const empty = data.every((queue) => queue.minutes.length === 0);
  return html`<section class="charts" data-testid="charts">
    <h2>Throughput and depth, last ${hours} h <span class="windows">${windows}</span></h2>
    ${empty ? html`<p class="muted" data-testid="charts-empty">No samples yet: one is written per minute.</p>` : ''}
    <div class="chart-grid">
      ${data.map((queue, index) =>
        queue.minutes.length === 0
          ? ''
          : html`<div class="chart-card">
              <h3>${queue.queue}</h3>
              <div
                class="chart"
                data-chart="throughput"
                data-index="${index}"
                data-testid="chart-throughput"
              ></div>
              <div
                class="chart"
                data-chart="depth"
                data-index="${index}"
                data-testid="chart-depth"
              ></div>
            </div>`,
      )}
    </div>
    <script type="application/json" id="dashboard-charts">
      ${jsonScriptData(data)}
    </script>
  </section>`;
}
