import { HistoryTable } from "@/components/history-table";
import { RequestStatus, requestStatuses } from "@/schemas/request-status";
import { requirePageUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { lastEventId } from "@/server/events/log";
import { listRequests } from "@/server/requests/service";
import { runtime } from "@/server/runtime";

export const metadata = { title: "History" };
export const dynamic = "force-dynamic";

export default async function HistoryPage(props: {
  searchParams: Promise<{ status?: string; repo?: string }>;
}) {
  await requirePageUser("/history");
  const params = await props.searchParams;
  const { db, env } = runtime();
  const repos = currentConfig(env.configPath).repositories.map((r) => r.name);
  const status = RequestStatus.safeParse(params.status).data;
  const repo = params.repo && repos.includes(params.repo) ? params.repo : undefined;
  // Read the cursor first: an event written between the two reads is then replayed, not lost.
  const cursor = lastEventId(db);
  const rows = listRequests(db, { status, repo, limit: 100 });

  return (
    <section>
      <div className="mb-4 flex items-end justify-between">
        <h1 className="text-2xl font-semibold">Task history</h1>
        <form className="flex items-end gap-3 text-sm" method="get">
          <label className="flex flex-col">
            Status
            <select name="status" defaultValue={status ?? ""} className="rounded border px-2 py-1">
              <option value="">all</option>
              {requestStatuses.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label className="flex flex-col">
            Repository
            <select name="repo" defaultValue={repo ?? ""} className="rounded border px-2 py-1">
              <option value="">all</option>
              {repos.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="rounded border border-slate-300 bg-white px-3 py-1">
            Filter
          </button>
        </form>
      </div>
      <HistoryTable
        key={`${status ?? ""}|${repo ?? ""}`}
        initialRows={rows}
        cursor={cursor}
        filter={{ status, repo }}
      />
    </section>
  );
}
