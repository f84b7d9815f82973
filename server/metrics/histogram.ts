import { type SQL, sql } from "drizzle-orm";
import type { Metric, Registry } from "prom-client";
import type { Db } from "@/server/db/client";
import { rawAll } from "@/server/db/sql";

/** One label set's histogram: how many values fell at or under each bound, their count and sum. */
export type HistogramRow = {
  labels: Record<string, string>;
  /** Cumulative: values ≤ buckets[i]. */
  buckets: number[];
  count: number;
  sum: number;
};

/**
 * A histogram whose buckets the database counted (`bucketed`), in prom-client's registry.
 * prom-client's own Histogram only learns values one `observe` at a time, which would fetch
 * every row of the history on every scrape; this one is handed the counts and gives the
 * registry the same `_bucket`/`_sum`/`_count` series a Histogram would.
 */
export class StoredHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";

  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
    private readonly rows: HistogramRow[],
  ) {}

  register(registry: Registry): void {
    registry.registerMetric(this as unknown as Metric);
  }

  async get() {
    const values = this.rows.flatMap((r) => [
      ...this.bounds.map((le, i) => ({
        metricName: `${this.name}_bucket`,
        labels: { ...r.labels, le },
        value: r.buckets[i] ?? 0,
      })),
      { metricName: `${this.name}_bucket`, labels: { ...r.labels, le: "+Inf" }, value: r.count },
      { metricName: `${this.name}_sum`, labels: r.labels, value: r.sum },
      { metricName: `${this.name}_count`, labels: r.labels, value: r.count },
    ]);
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }
}

/**
 * Counts rows per bucket in the database, one row per label set: only the counts leave it, so a
 * scrape's memory and transfer are bounded by labels × buckets whatever the history's length.
 * `value` is in milliseconds (or a plain number when `scale` is 1); bounds are in the exported
 * unit. Written in SQL both engines speak (CASE, SUM, COUNT, GROUP BY by position).
 */
export async function bucketed(
  db: Db,
  q: {
    labels: Record<string, SQL>;
    value: SQL;
    from: SQL;
    bounds: readonly number[];
    /** Stored units per exported unit: 1000 for milliseconds → seconds. */
    scale?: number;
  },
): Promise<HistogramRow[]> {
  const scale = q.scale ?? 1000;
  const names = Object.keys(q.labels);
  const cols: SQL[] = [
    ...names.map((n, i) => sql`${q.labels[n]} AS ${sql.raw(`l${i}`)}`),
    sql`count(*) AS n`,
    sql`sum(${q.value}) AS s`,
    ...q.bounds.map(
      (b, i) =>
        sql`sum(CASE WHEN ${q.value} <= ${sql.raw(String(b * scale))} THEN 1 ELSE 0 END) AS ${sql.raw(`b${i}`)}`,
    ),
  ];
  const groupBy = names.length
    ? sql` GROUP BY ${sql.raw(names.map((_, i) => String(i + 1)).join(", "))}`
    : sql``;
  const rows = await rawAll<Record<string, unknown>>(
    db,
    sql`SELECT ${sql.join(cols, sql`, `)} FROM ${q.from}${groupBy}`,
  );
  return rows
    .filter((r) => Number(r.n) > 0)
    .map((r) => ({
      labels: Object.fromEntries(names.map((n, i) => [n, String(r[`l${i}`] ?? "")])),
      buckets: q.bounds.map((_, i) => Number(r[`b${i}`] ?? 0)),
      count: Number(r.n),
      sum: Number(r.s ?? 0) / scale,
    }));
}
