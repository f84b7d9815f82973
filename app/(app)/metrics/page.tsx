import { TRPCError } from "@trpc/server";
import Link from "next/link";
import { FilterProblems } from "@/components/filter-problems";
import { Forbidden } from "@/components/forbidden";
import { MetricsCharts } from "@/components/metrics/charts";
import { dollars, duration, percent, rangeNames, widthWords } from "@/components/metrics/format";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { ValidationError } from "@/server/errors";
import { pageCaller } from "@/server/trpc/page-caller";
import { metricsRanges } from "@/server/views/metrics-history";

export const metadata = { title: "Metrics" };
export const dynamic = "force-dynamic";

type Param = string | string[] | undefined;
const one = (p: Param) => (Array.isArray(p) ? p[0] : p);

const href = (range: string, repo: string) => {
  const q = new URLSearchParams({ range });
  if (repo) q.set("repo", repo);
  return `/metrics?${q}`;
};

export default async function MetricsPage(props: {
  searchParams: Promise<{ range?: Param; repo?: Param }>;
}) {
  const user = await requirePageUser("/metrics");
  if (!can(user.role, "queue.read")) return <Forbidden need="queue.read" />;
  const params = await props.searchParams;
  const range = one(params.range) ?? "day";
  const repo = one(params.repo) ?? "";
  const caller = pageCaller(user);
  let history: Awaited<ReturnType<typeof caller.metrics.history>> | null = null;
  let problems: string[] = [];
  try {
    history = await caller.metrics.history({ range, repo });
  } catch (e) {
    const cause = e instanceof TRPCError ? e.cause : e;
    if (!(cause instanceof ValidationError)) throw e;
    problems = cause.issues.map((i) => `${i.path}: ${i.message}`);
  }

  return (
    <section>
      <div className="mb-4 flex flex-wrap items-baseline justify-between gap-3">
        <h1 className="text-2xl font-semibold">Metrics</h1>
        <Link href="/queue" className="text-sm underline">
          The live queue
        </Link>
      </div>
      <div className="mb-4 flex flex-wrap items-end gap-4">
        <nav aria-label="Range">
          <ul className="flex overflow-hidden rounded border border-slate-300 text-sm">
            {metricsRanges.map((r) => (
              <li key={r} className="border-slate-300 not-first:border-l">
                <Link
                  href={href(r, repo)}
                  aria-current={history?.range === r ? "page" : undefined}
                  className={`block px-3 py-1.5 ${history?.range === r ? "bg-slate-800 text-white" : "bg-white hover:bg-slate-100"}`}
                >
                  {rangeNames[r]}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <form method="get" action="/metrics" className="flex flex-wrap items-end gap-2 text-sm">
          <input type="hidden" name="range" value={history?.range ?? "day"} />
          <label className="flex flex-col gap-1">
            Repository
            <select
              name="repo"
              defaultValue={history?.repo ?? ""}
              className="rounded border border-slate-300 bg-white px-2 py-1.5"
            >
              <option value="">All repositories</option>
              {(history?.repositories ?? []).map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <button
            type="submit"
            className="rounded border border-slate-300 bg-white px-3 py-1.5 hover:bg-slate-100"
          >
            Show
          </button>
        </form>
      </div>
      {history === null ? (
        <FilterProblems
          title="These metrics cannot be shown:"
          problems={problems}
          clearHref="/metrics"
          testId="metrics-filter-error"
        />
      ) : (
        <>
          <p className="mb-3 text-sm text-slate-600" data-testid="metrics-scope">
            {rangeNames[history.range]} ({history.buckets.length} intervals of{" "}
            {widthWords(history.bucketMs)}, times in UTC),{" "}
            {history.repo ? `repository ${history.repo}` : "all repositories"}, from the stored
            history.
          </p>
          <dl
            className="mb-4 grid grid-cols-2 gap-2 text-sm sm:grid-cols-4"
            data-testid="metrics-totals"
          >
            {[
              ["Landed", String(history.totals.landings)],
              ["Success rate", percent(history.totals.successRate)],
              ["Conflict rate", percent(history.totals.conflictRate)],
              ["Failure rate", percent(history.totals.failureRate)],
              ["Time in queue p50", duration(history.totals.queueP50Ms)],
              ["Time in queue p95", duration(history.totals.queueP95Ms)],
              ["Agent runs", `${history.totals.agentRuns} (${dollars(history.totals.costUsd)})`],
              ["Approvals waiting", String(history.totals.approvalsWaitingNow)],
            ].map(([term, value]) => (
              <div key={term} className="rounded border border-slate-200 bg-white p-2">
                <dt className="text-slate-600">{term}</dt>
                <dd className="text-lg font-semibold tabular-nums" data-testid={`total-${term}`}>
                  {value}
                </dd>
              </div>
            ))}
          </dl>
          <MetricsCharts history={history} />
        </>
      )}
    </section>
  );
}
