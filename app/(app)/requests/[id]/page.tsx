import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { PlanGateNotice } from "@/components/plan-gate-notice";
import { LiveRequestPage } from "@/components/request/live-page";
import { requestRef } from "@/schemas/ids";
import { may } from "@/server/auth/permissions";
import { requirePageUser, sessionUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { lastEventId } from "@/server/events/log";
import { shownTo } from "@/server/redact";
import { getRequest } from "@/server/requests/service";
import { runtime } from "@/server/runtime";
import { shutPlanGates } from "@/server/views/plans";
import { requestPage } from "@/server/views/request-page";

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
  const row = /^\d{1,9}$/.test(id) ? await getRequest(runtime().db, Number(id)) : null;
  return { title: row ? `${requestRef(row.id)} ${row.title}` : "Request not found" };
}

export default async function RequestPage(props: Props) {
  const { id } = await props.params;
  const user = await requirePageUser(`/requests/${id}`);
  const { filed } = await props.searchParams;
  const { db, env } = runtime();
  const cursor = await lastEventId(db);
  // Failure texts as this viewer may see them: no server paths unless an admin.
  const page = /^\d{1,9}$/.test(id)
    ? shownTo({ user, env }, await requestPage(db, Number(id)))
    : null;
  if (!page) notFound();
  const { request } = page.detail;
  const config = currentConfig(env.configPath);
  const repoConfig = config.repositories.find((r) => r.name === request.repo);
  const gates = await shutPlanGates(db, config, [request.repo]);
  // What this viewer may do to this request: server/auth/permissions.ts decides, as it does for
  // the mutations these controls call.
  const target = { ownerId: request.requesterId };
  return (
    <article className="space-y-4">
      {filed && (
        <p role="status" className="rounded bg-green-50 p-3 text-sm text-green-800">
          Request {requestRef(request.id)} filed.
        </p>
      )}
      <PlanGateNotice gates={gates} />
      <LiveRequestPage
        initial={page}
        cursor={cursor}
        permissions={{
          canRerun: may(user, "request.rerun", target),
          canAnswer: may(user, "request.answer", target),
          canRescope: may(user, "request.rescope", target),
          canCancel: may(user, "request.cancel", target),
          canReview: may(user, "change.approve", target),
          canEdit: {
            clarification: may(user, "request.edit", target),
            attention: may(user, "request.rescope", target),
          },
        }}
        areaNames={repoConfig?.policy?.areas.map((a) => a.name) ?? []}
        webUrl={repoConfig?.webUrl}
      />
    </article>
  );
}
