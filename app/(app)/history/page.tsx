import Link from "next/link";
import { FilterProblems } from "@/components/filter-problems";
import { HistoryFilters } from "@/components/history-filters";
import { HistoryTable } from "@/components/history-table";
import { historyHref } from "@/schemas/history";
import { requestStatusLabels, stateLabel } from "@/schemas/labels";
import { mineFilters, mineLabels } from "@/schemas/mine";
import { requestStatuses } from "@/schemas/request-status";
import { requestKinds } from "@/schemas/task-request";
import { requirePageUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { ValidationError } from "@/server/errors";
import { lastEventId } from "@/server/events/log";
import {
  describeFilters,
  type HistoryParams,
  readHistoryParams,
} from "@/server/requests/history-params";
import { runtime } from "@/server/runtime";
import { filterRepos, listHistory, type HistoryPage as Page } from "@/server/views/history";

export const metadata = { title: "History" };
export const dynamic = "force-dynamic";

const linkClass = "rounded border border-slate-300 bg-white px-3 py-1 hover:bg-slate-50";

export default async function HistoryPage(props: { searchParams: Promise<HistoryParams> }) {
  const user = await requirePageUser("/history");
  const { db, env } = runtime();
  const repos = await filterRepos(db, currentConfig(env.configPath).repositories);
  const read = readHistoryParams(await props.searchParams, repos);
  const { values, query, problems, notices } = read;
  // Read the event id first: an event written between the two reads is then replayed, not lost.
  const afterId = await lastEventId(db);
  let page: Page = { rows: [], next: null, prev: null };
  let cursor = query?.cursor;
  if (query) {
    try {
      page = await listHistory(db, query, user);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      // A stale or mangled page link: say so and show the first page.
      notices.push("That page link is not valid here (cursor); showing the first page.");
      cursor = undefined;
      page = await listHistory(db, { ...query, cursor }, user);
    }
  }
  const filtered = describeFilters(values, (s) => stateLabel(s));
  const sort = query?.sort ?? "new";

  return (
    <section>
      <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
        <h1 className="text-2xl font-semibold">Task history</h1>
      </div>
      <HistoryFilters
        values={values}
        repos={repos}
        statuses={requestStatuses.map((s) => ({ value: s, label: requestStatusLabels[s] }))}
        kinds={requestKinds}
        mines={mineFilters.map((m) => ({ value: m, label: mineLabels[m] }))}
      />
      {notices.length > 0 && (
        <div
          role="status"
          className="mb-3 rounded border border-sky-200 bg-sky-50 p-3 text-sm"
          data-testid="history-notice"
        >
          {notices.map((n) => (
            <p key={n}>{n}</p>
          ))}
        </div>
      )}
      {problems.length > 0 ? (
        <FilterProblems
          title="No requests match."
          problems={problems}
          clearHref="/history"
          testId="history-no-match"
        />
      ) : (
        <>
          <HistoryTable
            key={historyHref(values, cursor)}
            initialRows={page.rows}
            afterId={afterId}
            filter={{
              q: query?.q,
              status: query?.status,
              repo: query?.repo,
              kind: query?.kind,
              requester: query?.mine === "filed" ? user.email : undefined,
            }}
            // New requests join the first page only where they belong: at its top. What waits
            // for the viewer is not known from a new row alone: that list changes on a reload.
            liveInserts={
              !cursor && (sort === "new" || sort === "updated") && query?.mine !== "waiting"
            }
            filtered={filtered}
            paged={Boolean(cursor)}
          />
          {(cursor || page.next) && (
            <nav aria-label="Pages" className="mt-4 flex flex-wrap gap-2 text-sm">
              {cursor && (
                <Link href={historyHref(values)} className={linkClass}>
                  First page
                </Link>
              )}
              {page.prev && (
                <Link href={historyHref(values, page.prev)} className={linkClass} rel="prev">
                  Previous
                </Link>
              )}
              {page.next && (
                <Link href={historyHref(values, page.next)} className={linkClass} rel="next">
                  Next page
                </Link>
              )}
            </nav>
          )}
        </>
      )}
    </section>
  );
}
