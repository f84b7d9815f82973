import { notFound } from "next/navigation";
import { RequestView } from "@/components/request-view";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { lastEventId } from "@/server/events/log";
import { shownTo } from "@/server/redact";
import { requestDetail } from "@/server/requests/detail";
import { runtime } from "@/server/runtime";

export const dynamic = "force-dynamic";

export default async function RequestPage(props: {
  params: Promise<{ id: string }>;
  searchParams: Promise<{ filed?: string }>;
}) {
  const { id } = await props.params;
  const user = await requirePageUser(`/requests/${id}`);
  const { filed } = await props.searchParams;
  const { db, env } = runtime();
  const cursor = lastEventId(db);
  // Failure texts as this viewer may see them: no server paths unless an admin.
  const detail = /^\d+$/.test(id) ? shownTo({ user, env }, requestDetail(db, Number(id))) : null;
  if (!detail) notFound();
  return (
    <article className="space-y-4">
      {filed && (
        <p role="status" className="rounded bg-green-50 p-3 text-sm text-green-800">
          Request {detail.request.id} filed.
        </p>
      )}
      <h1 className="text-2xl font-semibold" data-testid="request-title">
        #{detail.request.id} {detail.request.title}
      </h1>
      <RequestView
        initial={detail}
        cursor={cursor}
        canAnswer={can(user.role, "request.create")}
        canRescope={user.role !== "requester"}
        canEdit={{
          clarification: detail.request.requester === user.email || user.role !== "requester",
          attention: user.role !== "requester",
        }}
        areaNames={
          currentConfig(env.configPath)
            .repositories.find((r) => r.name === detail.request.repo)
            ?.policy?.areas.map((a) => a.name) ?? []
        }
        canCancel={
          user.role === "operator" ||
          user.role === "admin" ||
          detail.request.requester === user.email
        }
      />
    </article>
  );
}
