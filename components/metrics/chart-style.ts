import type { ChartOptions } from "chart.js";

// How the metrics page's charts look and read: colours, axes, datasets, and the unit a
// duration axis is drawn in. Plain data for chart.js; components/metrics/charts.tsx draws them.

// Colours that keep 3:1 against white and apart from each other; lines also differ by dash.
export const BLUE = "#1d4ed8";
export const AMBER = "#b45309";
export const RED = "#b91c1c";
export const GREEN = "#15803d";
export const SLATE = "#475569";

export const base = (yTitle: string, stacked = false): ChartOptions<"bar" | "line"> => ({
  responsive: true,
  maintainAspectRatio: false,
  animation: false,
  interaction: { mode: "index", intersect: false },
  plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
  scales: {
    x: { stacked, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
    y: { stacked, beginAtZero: true, title: { display: true, text: yTitle } },
  },
});

export const line = (
  label: string,
  data: (number | null)[],
  color: string,
  dash: number[] = [],
) => ({
  label,
  data,
  borderColor: color,
  backgroundColor: color,
  borderDash: dash,
  pointRadius: 2,
  spanGaps: false,
});

export const bar = (label: string, data: number[], color: string) => ({
  label,
  data,
  backgroundColor: color,
});

/** The unit a duration axis reads best in, from the longest value it shows. */
export function unitFor(values: (number | null)[]): { name: string; per: number } {
  const max = Math.max(0, ...values.map((v) => v ?? 0));
  if (max < 2_000) return { name: "Milliseconds", per: 1 };
  if (max < 120_000) return { name: "Seconds", per: 1_000 };
  if (max < 7_200_000) return { name: "Minutes", per: 60_000 };
  return { name: "Hours", per: 3_600_000 };
}
export const inUnit = (ms: number | null, per: number) =>
  ms === null ? null : Number((ms / per).toFixed(2));
export const pct = (part: number, whole: number) =>
  whole ? Number(((part / whole) * 100).toFixed(1)) : null;
