import type { RequestDetail } from "@/server/views/request-detail";
import { StatusBadge } from "../status-badge";

const list = (items: string[]) => (items.length ? items.join(", ") : "—");

/** What the request is: its status and fields, as the Engineer scoped them once it has. */
export function RequestFacts({
  request,
  spec,
  issue,
}: {
  request: RequestDetail["request"];
  spec: RequestDetail["spec"];
  issue?: RequestDetail["issue"];
}) {
  return (
    <dl className="grid grid-cols-1 gap-x-2 gap-y-1 text-sm sm:grid-cols-[10rem_1fr] sm:gap-y-2">
      <dt className="text-slate-500">Status</dt>
      <dd data-testid="request-status">
        <StatusBadge status={request.status} />
      </dd>
      <dt className="text-slate-500">Repository</dt>
      <dd>{request.repo}</dd>
      <dt className="text-slate-500">Requester</dt>
      <dd>{request.requester}</dd>
      {issue && (
        <>
          <dt className="text-slate-500">From</dt>
          <dd data-testid="request-issue">
            <a className="underline" href={issue.url}>
              GitHub issue {issue.githubRepo}#{issue.number}
            </a>
          </dd>
        </>
      )}
      <dt className="text-slate-500">Kind</dt>
      <dd>{spec?.spec?.kind ?? request.kind ?? "to be inferred"}</dd>
      <dt className="text-slate-500">Risk</dt>
      <dd data-testid="spec-risk">{spec?.spec?.risk ?? "—"}</dd>
      <dt className="text-slate-500">Areas</dt>
      <dd>{list(spec?.spec?.areas ?? request.areas)}</dd>
      <dt className="text-slate-500">Files</dt>
      <dd className="font-mono break-all">{list(spec?.spec?.files ?? request.files)}</dd>
      {spec?.spec?.suggestedFiles?.length ? (
        <>
          <dt className="text-slate-500">Suggested files (from the description)</dt>
          <dd data-testid="spec-suggested-files">
            <ul className="font-mono break-all">
              {spec.spec.suggestedFiles.map((f) => (
                <li key={f}>{f}</li>
              ))}
            </ul>
            <span className="block text-slate-500">
              Named only in the description, so not part of the scope. Edit the request's files to
              include one.
            </span>
          </dd>
        </>
      ) : null}
      <dt className="text-slate-500">Acceptance criteria</dt>
      <dd>{list(spec?.spec?.acceptance ?? request.acceptance)}</dd>
      <dt className="text-slate-500">Checks</dt>
      <dd className="font-mono" data-testid="spec-checks">
        {list(spec?.spec?.checks ?? request.checks ?? [])}
      </dd>
      <dt className="text-slate-500">Tasks</dt>
      <dd>{spec ? `${spec.tasksTotal} (${spec.tasksIndependent} independent)` : "—"}</dd>
      <dt className="text-slate-500">Scoped by</dt>
      <dd data-testid="spec-engineer">
        {spec ? (spec.engineer === "builtin" ? "the built-in Engineer" : spec.engineer) : "—"}
        {spec?.engineerFallback && (
          <span className="block text-amber-700">{spec.engineerFallback}</span>
        )}
      </dd>
    </dl>
  );
}
