import Link from "next/link";
import { FilterProblems } from "@/components/filter-problems";
import { PlanGateNotice } from "@/components/plan-gate-notice";
import { RequestBoard } from "@/components/request-board";
import { type BoardValues, boardHref } from "@/schemas/board";
import { mineFilters, mineLabels } from "@/schemas/mine";
import { requestKinds } from "@/schemas/task-request";
import { requirePageUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { lastEventId } from "@/server/events/log";
import { runtime } from "@/server/runtime";
import { filterRepos } from "@/server/views/history";
import { shutPlanGates } from "@/server/views/plans";
import { readBoardParams, requestBoard } from "@/server/views/request-board";

export const metadata = { title: "Board" };
export const dynamic = "force-dynamic";

type Params = Partial<Record<string, string | string[] | undefined>>;
const field = "rounded border border-slate-300 bg-white px-2 py-1";
const chip = "rounded-full border px-3 py-1";

/**
 * Requests in columns by status, live, with filters that are plain links and a GET form (no
 * drag): repository, kind, and "Mine" — what I filed, what waits for me.
 */
export default async function BoardPage(props: { searchParams: Promise<Params> }) {
  const user = await requirePageUser("/board");
  const { db, env } = runtime();
  const config = currentConfig(env.configPath);
  const repos = await filterRepos(db, config.repositories);
  const { values, query, problems } = readBoardParams(await props.searchParams, repos);
  // Read the event id first: an event written between the two reads is then replayed, not lost.
  const afterId = await lastEventId(db);
  const board = query ? await requestBoard(db, query, user) : null;
  // The plan gates of the repository filtered on, or of those with a card on the board.
  const gates = await shutPlanGates(
    db,
    config,
    values.repo
      ? [values.repo]
      : [...new Set(board?.columns.flatMap((c) => c.cards.map((card) => card.repo)) ?? [])],
  );
  // An unknown value shows as "All …" in the form; the next Apply drops it.
  const known: BoardValues = {
    repo: repos.includes(values.repo) ? values.repo : "",
    kind: (requestKinds as readonly string[]).includes(values.kind) ? values.kind : "",
    mine: (mineFilters as readonly string[]).includes(values.mine) ? values.mine : "",
  };
  const mineChoices = [
    { value: "", label: "Everyone's" },
    ...mineFilters.map((m) => ({ value: m, label: mineLabels[m] })),
  ];

  return (
    <section>
      <h1 className="mb-4 text-2xl font-semibold">Board</h1>
      <PlanGateNotice gates={gates} />
      <nav aria-label="Mine" className="mb-3 flex flex-wrap gap-2 text-sm" data-testid="board-mine">
        {mineChoices.map((m) => {
          const current = known.mine === m.value;
          return (
            <Link
              key={m.value || "all"}
              href={boardHref({ ...known, mine: m.value })}
              aria-current={current ? "page" : undefined}
              className={`${chip} ${current ? "border-slate-900 bg-slate-900 text-white" : "border-slate-300 bg-white hover:bg-slate-50"}`}
            >
              {m.label}
            </Link>
          );
        })}
      </nav>
      <search>
        <form
          method="get"
          action="/board"
          className="mb-4 flex flex-wrap items-end gap-3 text-sm"
          data-testid="board-filters"
        >
          <label className="flex min-w-0 flex-col">
            Repository
            <select name="repo" defaultValue={known.repo} className={field}>
              <option value="">All repositories</option>
              {repos.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label className="flex min-w-0 flex-col">
            Kind
            <select name="kind" defaultValue={known.kind} className={field}>
              <option value="">All kinds</option>
              {requestKinds.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </label>
          {known.mine && <input type="hidden" name="mine" value={known.mine} />}
          <button type="submit" className="rounded border border-slate-300 bg-white px-3 py-1">
            Apply
          </button>
          {(values.repo || values.kind || values.mine) && (
            <Link href="/board" className="py-1 underline">
              Clear filters
            </Link>
          )}
        </form>
      </search>
      {problems.length > 0 || !board || !query ? (
        <FilterProblems
          title="Nothing to show for these filters."
          problems={problems}
          clearHref="/board"
          testId="board-no-match"
        />
      ) : (
        <RequestBoard key={boardHref(values)} initial={board} query={query} afterId={afterId} />
      )}
    </section>
  );
}
