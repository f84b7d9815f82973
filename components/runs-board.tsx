"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useSubscription } from "@trpc/tanstack-react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { type ChangeEvent, useEffect, useRef, useState, useTransition } from "react";
import type { AgentName } from "@/schemas/agents";
import { changeRef } from "@/schemas/ids";
import { stateLabel } from "@/schemas/labels";
import type { RunState } from "@/schemas/run-state";
import type { AppRouter } from "@/server/trpc/root";
import { EntryLink, RunLink, TaskLink } from "./ids";
import { LiveIndicator } from "./live-indicator";
import { Cell, EmptyRow, StackedHead, stacked } from "./stacked-table";
import { StatusBadge } from "./status-badge";
import { useTRPC } from "./trpc";

type RunRow = inferRouterOutputs<AppRouter>["run"]["list"]["rows"][number];
export type RunFilter = { state?: RunState; agent?: AgentName };

/** A run's state in words; `run-state` stays its test id, the machine name its `data-state`. */
export function RunStateBadge({ state }: { state: RunState }) {
  return (
    <span data-testid="run-state" data-state={state}>
      <StatusBadge status={state} />
    </span>
  );
}

export function formatDuration(ms: number): string {
  // A run of a few hundred milliseconds (a quick command agent) is not "0s".
  if (ms > 0 && ms < 1000) return "under 1s";
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

// A fixed locale, so the server's render and the browser's agree.
const count = new Intl.NumberFormat("en-US");
export const formatTokens = (input: number, output: number) =>
  `${count.format(input)} / ${count.format(output)}`;
export const formatCost = (usd: number | null) =>
  usd === null ? "—" : `$${usd < 0.01 ? usd.toFixed(4) : usd.toFixed(2)}`;

/** From start to end, or to now while the run lasts (counted in the browser, every second). */
export function Elapsed({ from, to }: { from: number; to: number | null }) {
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    if (to !== null) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [to]);
  const end = to ?? now;
  return <span>{end === null ? "" : formatDuration(end - from)}</span>;
}

/** The state and agent selects: a change is applied at once and kept in the URL. */
export function RunsFilter({
  filter,
  states,
  agents,
}: {
  filter: RunFilter;
  states: readonly RunState[];
  agents: readonly AgentName[];
}) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  function apply(e: ChangeEvent<HTMLSelectElement>) {
    const form = new FormData(e.currentTarget.form ?? undefined);
    const query = new URLSearchParams();
    for (const key of ["state", "agent"]) {
      const value = String(form.get(key) ?? "");
      if (value) query.set(key, value);
    }
    const qs = query.toString();
    startTransition(() => router.push(qs ? `/runs?${qs}` : "/runs"));
  }
  return (
    <form className="flex flex-wrap items-end gap-3 text-sm" method="get" data-testid="runs-filter">
      <label className="flex flex-col">
        State
        <select
          name="state"
          defaultValue={filter.state ?? ""}
          onChange={apply}
          className="rounded border px-2 py-1"
        >
          <option value="">all</option>
          {states.map((s) => (
            <option key={s} value={s}>
              {stateLabel(s)}
            </option>
          ))}
        </select>
      </label>
      <label className="flex flex-col">
        Agent
        <select
          name="agent"
          defaultValue={filter.agent ?? ""}
          onChange={apply}
          className="rounded border px-2 py-1"
        >
          <option value="">all</option>
          {agents.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </label>
      <noscript>
        <button type="submit" className="rounded border border-slate-300 bg-white px-3 py-1">
          Filter
        </button>
      </noscript>
      {pending && <span className="pb-1 text-slate-500">loading…</span>}
    </form>
  );
}

/**
 * Agent runs, newest first. Every run event (a move, a batch of log lines) refetches the list,
 * at most a few times a second, from the cursor the page was rendered at.
 */
export function RunsBoard({
  initial,
  cursor,
  filter,
}: {
  initial: RunRow[];
  cursor: number;
  filter: RunFilter;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const listOptions = trpc.run.list.queryOptions(filter, {
    initialData: { rows: initial, cursor },
  });
  const { data } = useQuery(listOptions);
  const pendingRefresh = useRef<Awaited<ReturnType<typeof setTimeout>> | null>(null);
  const live = useSubscription(
    trpc.run.live.subscriptionOptions(
      { afterId: cursor },
      {
        onData: () => {
          if (pendingRefresh.current) return;
          pendingRefresh.current = setTimeout(() => {
            pendingRefresh.current = null;
            void queryClient.invalidateQueries({ queryKey: listOptions.queryKey });
          }, 300);
        },
      },
    ),
  );
  const rows = data?.rows ?? initial;
  const filtered = Boolean(filter.state || filter.agent);

  return (
    <div>
      <LiveIndicator status={live.status} testId="runs-live" className="mb-2" />
      <table className={stacked.table} data-testid="runs-table">
        <StackedHead
          columns={[
            "Run",
            "Task",
            "Agent",
            "State",
            "Elapsed",
            "Turns",
            "Tokens in/out",
            "Cost",
            "Change",
            "Reason",
          ]}
        />
        <tbody className={stacked.tbody}>
          {rows.length === 0 && (
            <EmptyRow colSpan={10}>
              {filtered ? (
                <>
                  No runs match this filter.{" "}
                  <Link href="/runs" className="underline">
                    Show all runs
                  </Link>
                  .
                </>
              ) : (
                <>
                  No agent runs yet. Tasks go to the built-in developer unless a repository's policy
                  names an agent (<code>docs/agents.md</code>).
                </>
              )}
            </EmptyRow>
          )}
          {rows.map((r) => (
            <tr
              key={r.id}
              className={`${stacked.row} align-top hover:bg-slate-50`}
              data-testid="run-row"
            >
              <RunCells run={r} />
              <Cell label="Agent">
                {r.agent}
                {r.fallback && <span className="text-xs text-slate-500"> then {r.fallback}</span>}
              </Cell>
              <Cell label="State">
                <RunStateBadge state={r.state} />
              </Cell>
              <Cell label="Elapsed" className="tabular-nums">
                <Elapsed from={r.startedAt ?? r.createdAt} to={r.endedAt} />
              </Cell>
              <Cell label="Turns" className="tabular-nums">
                {r.turns}
              </Cell>
              <Cell label="Tokens in/out" className="tabular-nums">
                {formatTokens(r.inputTokens, r.outputTokens)}
              </Cell>
              <Cell label="Cost" className="tabular-nums">
                {formatCost(r.costUsd)}
              </Cell>
              <Cell label="Change">
                {r.changeRequestId ? (
                  <>
                    {changeRef(r.changeRequestId)}
                    {r.entryId !== null && (
                      <>
                        {" "}
                        <EntryLink id={r.entryId} />
                      </>
                    )}
                  </>
                ) : (
                  "—"
                )}
              </Cell>
              <Cell label="Reason" className="text-xs sm:max-w-xs sm:truncate">
                <span title={r.reason ?? undefined}>{r.reason ?? ""}</span>
              </Cell>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A run row's first two cells: the run, and its task (here and on the request page). */
export function RunCells({ run }: { run: { id: number; taskId: string } }) {
  return (
    <>
      <Cell label="Run">
        <RunLink id={run.id} />
      </Cell>
      <Cell label="Task">
        <TaskLink id={run.taskId} />
      </Cell>
    </>
  );
}
