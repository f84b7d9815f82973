import { notFound } from "next/navigation";
import { StatusBadge } from "@/components/status-badge";
import { requirePageUser } from "@/server/auth/session";
import { getRequest } from "@/server/requests/service";
import { runtime } from "@/server/runtime";

export const dynamic = "force-dynamic";

export default async function RequestPage(props: {
  params: Promise<{ id: string }>;
  searchParams: Promise<{ filed?: string }>;
}) {
  const { id } = await props.params;
  await requirePageUser(`/requests/${id}`);
  const { filed } = await props.searchParams;
  const request = /^\d+$/.test(id) ? getRequest(runtime().db, Number(id)) : undefined;
  if (!request) notFound();
  const list = (items: string[]) => (items.length ? items.join(", ") : "—");
  return (
    <article className="space-y-4">
      {filed && (
        <p role="status" className="rounded bg-green-50 p-3 text-sm text-green-800">
          Request {request.id} filed.
        </p>
      )}
      <h1 className="text-2xl font-semibold" data-testid="request-title">
        #{request.id} {request.title}
      </h1>
      <dl className="grid grid-cols-[10rem_1fr] gap-2 text-sm">
        <dt className="text-slate-500">Status</dt>
        <dd>
          <StatusBadge status={request.status} />
        </dd>
        <dt className="text-slate-500">Repository</dt>
        <dd>{request.repo}</dd>
        <dt className="text-slate-500">Kind</dt>
        <dd>{request.kind ?? "to be inferred"}</dd>
        <dt className="text-slate-500">Priority</dt>
        <dd>{request.priority}</dd>
        <dt className="text-slate-500">Requester</dt>
        <dd>{request.requester}</dd>
        <dt className="text-slate-500">Areas</dt>
        <dd>{list(request.areas)}</dd>
        <dt className="text-slate-500">Files</dt>
        <dd className="font-mono">{list(request.files)}</dd>
        <dt className="text-slate-500">Depends on</dt>
        <dd>{list(request.dependsOn.map(String))}</dd>
        <dt className="text-slate-500">Acceptance</dt>
        <dd className="font-mono">{list(request.acceptance)}</dd>
      </dl>
      <section>
        <h2 className="mb-2 font-semibold">Description</h2>
        <pre className="whitespace-pre-wrap rounded bg-white p-4 text-sm">
          {request.description}
        </pre>
      </section>
    </article>
  );
}
