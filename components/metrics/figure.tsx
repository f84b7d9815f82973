import type { ReactNode } from "react";

/**
 * One chart: a heading, a sentence that says what it shows in numbers (the canvas's accessible
 * name), the canvas, and the same numbers as a table behind a disclosure.
 */
export function ChartFigure({
  id,
  title,
  summary,
  chart,
  table,
}: {
  id: string;
  title: string;
  summary: string;
  chart: (label: string) => ReactNode;
  table: ReactNode;
}) {
  return (
    <figure
      className="min-w-0 rounded border border-slate-200 bg-white p-3"
      aria-labelledby={`${id}-title`}
      data-testid={`chart-${id}`}
    >
      <h2 id={`${id}-title`} className="font-semibold">
        {title}
      </h2>
      <p className="mb-2 text-sm text-slate-600" data-testid={`chart-${id}-summary`}>
        {summary}
      </p>
      <div className="relative h-56">{chart(`${title}: ${summary}`)}</div>
      <details className="mt-2 text-sm">
        <summary className="cursor-pointer text-slate-700 underline">
          Show the numbers as a table
        </summary>
        <section
          className="mt-2 max-h-72 overflow-auto"
          aria-label={`${title}, as a table`}
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
          tabIndex={0}
        >
          {table}
        </section>
      </details>
    </figure>
  );
}

/** A chart's numbers: one row per interval (or agent, or check), its first cell the row's name. */
export function Table({
  caption,
  columns,
  rows,
  testId,
}: {
  caption: string;
  columns: string[];
  rows: (string | number)[][];
  testId: string;
}) {
  return (
    <table className="w-full text-left text-sm" data-testid={testId}>
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr className="border-b border-slate-200">
          {columns.map((c) => (
            <th key={c} scope="col" className="p-1 font-medium">
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 ? (
          <tr>
            <td colSpan={columns.length} className="p-2 text-slate-600">
              Nothing in this range.
            </td>
          </tr>
        ) : (
          rows.map((r) => (
            <tr key={String(r[0])} className="border-b border-slate-100">
              {r.map((v, i) =>
                i === 0 ? (
                  <th key={columns[i]} scope="row" className="p-1 font-normal">
                    {v}
                  </th>
                ) : (
                  <td key={columns[i]} className="p-1 tabular-nums">
                    {v}
                  </td>
                ),
              )}
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}
