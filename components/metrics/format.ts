import type { MetricsRange } from "@/server/views/metrics-history";

/** A duration in words a person reads at a glance: 850 ms, 12.5 s, 11 min, 2.5 h. */
export function duration(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** A share as a percentage, or a dash when nothing finished. */
export function percent(rate: number | null): string {
  return rate === null ? "—" : `${(rate * 100).toFixed(rate === 0 || rate === 1 ? 0 : 1)}%`;
}

export function dollars(usd: number): string {
  return `$${usd.toFixed(2)}`;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const two = (n: number) => String(n).padStart(2, "0");

/** A bucket's start, in UTC (the same on the server and in the browser): 14:05, or Mon 06:00. */
export function bucketLabel(start: number, range: MetricsRange): string {
  const d = new Date(start);
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
  return range === "week" ? `${DAYS[d.getUTCDay()]} ${time}` : time;
}

export const rangeNames: Record<MetricsRange, string> = {
  hour: "Last hour",
  day: "Last day",
  week: "Last week",
};

/** A bucket's width in words: 5 minutes, an hour, 6 hours. */
export function widthWords(ms: number): string {
  if (ms < 3_600_000) return `${ms / 60_000} minutes`;
  return ms === 3_600_000 ? "an hour" : `${ms / 3_600_000} hours`;
}
