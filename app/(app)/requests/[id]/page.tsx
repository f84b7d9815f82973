import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { RequestView } from "@/components/request/view";
import { RequestRecovery } from "@/components/request-recovery";
import { TraceView } from "@/components/trace-view";
import { requestRef } from "@/schemas/ids";
import { may } from "@/server/auth/permissions";
import { requirePageUser, sessionUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { lastEventId } from "@/server/events/log";
import { shownTo } from "@/server/redact";
import { getRequest } from "@/server/requests/service";
import { runtime } from "@/server/runtime";
import { requestDetail } from "@/server/views/request-detail";
import { requestSummary } from "@/server/views/request-summary";
import { traceOf } from "@/server/views/trace";

export const dynamic = "force-dynamic";

type Props = {
  params: Promise<{ id: string }>;
  searchParams: Promise<{ filed?: string }>;
};

/** "#12 Round totals to whole cents · Hyperion": the tab names the request. */
export async function generateMetadata(props: Props): Promise<Metadata> {
  const { id } = await props.params;
  // Only a signed-in reader learns a request's title, even from the tab.
  if (!(await sessionUser())) return { title: "Request" };
  const row = /^\d{1,9}$/.test(id) ? getRequest(runtime().db, Number(id)) : null;
  return { title: row ? `${requestRef(row.id)} ${row.title}` : "Request not found" };
}

export default async function RequestPage(props: Props) {
  const { id } = await props.params;
  const user = await requirePageUser(`/requests/${id}`);
  const { filed } = await props.searchParams;
  const { db, env } = runtime();
  const cursor = lastEventId(db);
  // Failure texts as this viewer may see them: no server paths unless an admin.
  const detail = /^\d+$/.test(id) ? shownTo({ user, env }, requestDetail(db, Number(id))) : null;
  if (!detail) notFound();
  const summary = requestSummary(db, detail.request.id);
  const repoConfig = currentConfig(env.configPath).repositories.find(
    (r) => r.name === detail.request.repo,
  );
  // What this viewer may do to this request: server/auth/permissions.ts decides, as it does for
  // the mutations these controls call.
  const target = { ownerId: detail.request.requesterId };
  return (
    <article className="space-y-4">
      {filed && (
        <p role="status" className="rounded bg-green-50 p-3 text-sm text-green-800">
          Request {requestRef(detail.request.id)} filed.
        </p>
      )}
      <h1 className="text-2xl font-semibold" data-testid="request-title">
        {requestRef(detail.request.id)} {detail.request.title}
      </h1>
      {detail.request.status === "failed" && (
        <RequestRecovery
          requestId={detail.request.id}
          canRerun={may(user, "request.rerun", target)}
          failures={detail.tasks
            .filter((t) => t.state === "failed")
            .map((t) => {
              const change = detail.changes.find((c) => c.id === t.changeRequestId);
              return {
                taskId: t.id,
                title: t.title,
                reason: t.blockedReason ?? null,
                entryId: change?.entryId ?? null,
                message: change?.lastError?.message ?? null,
                output: change?.lastError?.outputTail ?? null,
              };
            })}
        />
      )}
      <RequestView
        initial={detail}
        cursor={cursor}
        canAnswer={may(user, "request.answer", target)}
        canRescope={may(user, "request.rescope", target)}
        canEdit={{
          clarification: may(user, "request.edit", target),
          attention: may(user, "request.rescope", target),
        }}
        areaNames={repoConfig?.policy?.areas.map((a) => a.name) ?? []}
        webUrl={repoConfig?.webUrl}
        canCancel={may(user, "request.cancel", target)}
      />
      {["done", "failed", "rolled_back", "cancelled"].includes(detail.request.status) && (
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
            <a className="underline" href={`/requests/${detail.request.id}/summary`} download>
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
      )}
      <TraceView
        trace={traceOf(db, { requestId: detail.request.id, taskId: null })}
        webUrl={repoConfig?.webUrl}
      />
    </article>
  );
}
