import type { RequestPage } from "@/server/views/request-page";

/** What an ended request changed, with the markdown summary to download. */
export function RequestSummary({
  id,
  summary,
}: {
  id: number;
  summary: NonNullable<RequestPage["summary"]>;
}) {
  return (
    <section
      aria-labelledby="summary-heading"
      className="space-y-2 rounded border border-slate-200 p-3"
      data-testid="request-summary"
    >
      <h2 id="summary-heading" className="text-lg font-semibold">
        Summary
      </h2>
      <p className="text-sm">
        {summary.files.length} file(s), +{summary.totals.added} −{summary.totals.removed} lines
        landed.{" "}
        <a className="underline" href={`/requests/${id}/summary`} download>
          Download the summary (markdown)
        </a>
      </p>
      <ul className="text-sm">
        {summary.files.map((f) => (
          <li key={f.path}>
            <span className="font-mono">{f.path}</span> +{f.added} −{f.removed}
          </li>
        ))}
      </ul>
    </section>
  );
}
