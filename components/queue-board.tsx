"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useSubscription } from "@trpc/tanstack-react-query";
import Link from "next/link";
import { useRef, useState } from "react";
import type { AppRouter } from "@/server/trpc/root";
import { Age, formatAge } from "./age";
import { LiveIndicator } from "./live-indicator";
import { guidance } from "./queue-guidance";
import { RollbackButton } from "./rollback-button";
import { TableHead } from "./table-head";
import { useTRPC } from "./trpc";

type Overview = inferRouterOutputs<AppRouter>["queue"]["overview"];
type LogRow = Overview["recent"][number];

/** An entry's state in words: `awaiting_approval` is "waiting for approval". */
export function stateLabel(state: string): string {
  return state === "awaiting_approval" ? "waiting for approval" : state.replaceAll("_", " ");
}

/** The state cell: an entry waiting for a reviewer links to its place on /approvals. */
function EntryState({ id, state }: { id: number; state: string }) {
  if (state !== "awaiting_approval") return <>{state}</>;
  return (
    <Link
      href={`/approvals#entry-${id}`}
      className="text-amber-800 underline"
      data-testid="awaiting-approval"
    >
      {stateLabel(state)}
    </Link>
  );
}

const pct = (x: number | null) => (x === null ? "—" : `${Math.round(x * 100)}%`);
const ms = (x: number | null) => (x === null ? "—" : formatAge(x));

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className="rounded border border-slate-200 bg-white p-3">
      <div className="text-xs text-slate-500">{label}</div>
      <div className="text-lg font-semibold" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

/**
 * The live queue. Transitions stream in over the subscription (resuming after the last event id
 * on reconnect); each one also refreshes the overview, which polls for thread heartbeats.
 */
export function QueueBoard({
  initial,
  canOperate,
  canRollback,
}: {
  initial: Overview;
  canOperate: boolean;
  canRollback: boolean;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const overviewKey = trpc.queue.overview.queryKey();
  const { data } = useQuery(
    trpc.queue.overview.queryOptions(undefined, { initialData: initial, refetchInterval: 2000 }),
  );
  const [events, setEvents] = useState<LogRow[]>(initial.recent);
  const pendingRefresh = useRef<ReturnType<typeof setTimeout> | null>(null);
  const live = useSubscription(
    trpc.queue.live.subscriptionOptions(
      { afterId: initial.recent[0]?.id ?? 0 },
      {
        onData: (event) => {
          setEvents((prev) =>
            prev.some((e) => e.id === event.data.id) ? prev : [event.data, ...prev].slice(0, 100),
          );
          if (!pendingRefresh.current) {
            pendingRefresh.current = setTimeout(() => {
              pendingRefresh.current = null;
              void queryClient.invalidateQueries({ queryKey: overviewKey });
            }, 300);
          }
        },
      },
    ),
  );
  const refresh = () => queryClient.invalidateQueries({ queryKey: overviewKey });
  const retry = useMutation(trpc.queue.retry.mutationOptions({ onSettled: refresh }));
  const overview = data ?? initial;
  const { status, insights } = overview;
  const quarantined = overview.finished.filter((e) => e.state === "quarantined");
  const actionError = retry.error?.message;

  return (
    <div className="space-y-6">
      <LiveIndicator status={live.status} testId="queue-live" />

      <section>
        <h2 className="mb-2 font-semibold">Worker threads</h2>
        {status.threads.length === 0 ? (
          <p className="text-sm text-red-700" data-testid="no-threads">
            No queue thread is alive. Start the worker: <code>npx hyperion worker</code> (or{" "}
            <code>npm start</code>).
          </p>
        ) : (
          <div className="grid grid-cols-3 gap-3">
            {status.threads.map((t) => (
              <div
                key={t.id}
                className="rounded border border-slate-200 bg-white p-3 text-sm"
                data-testid="thread-pane"
              >
                <div className="font-mono text-xs">{t.id}</div>
                <div>{t.currentEntryId ? `entry #${t.currentEntryId}` : "idle"}</div>
                <div className="text-slate-500">heartbeat {formatAge(t.heartbeatAgeMs)} ago</div>
              </div>
            ))}
          </div>
        )}
      </section>

      <section className="grid grid-cols-6 gap-3">
        <Stat
          label={`throughput (${insights.windowMinutes} min)`}
          value={`${insights.throughputPerMin.toFixed(1)}/min`}
          testId="throughput"
        />
        <Stat label="success rate" value={pct(insights.successRate)} testId="success-rate" />
        <Stat label="conflict rate" value={pct(insights.conflictRate)} testId="conflict-rate" />
        <Stat label="p50 in queue" value={ms(insights.p50QueueMs)} testId="p50" />
        <Stat label="p95 in queue" value={ms(insights.p95QueueMs)} testId="p95" />
        <Stat label="oldest pending" value={ms(status.oldestPendingAgeMs)} testId="oldest" />
      </section>

      <section>
        <h2 className="mb-2 font-semibold">Entries by state</h2>
        <ul className="mb-3 flex flex-wrap gap-3 text-sm" data-testid="state-counts">
          {Object.entries(status.counts).map(([state, n]) => (
            <li key={state} className="rounded bg-white px-2 py-1" data-state={state}>
              {stateLabel(state)}: <strong>{n}</strong>
            </li>
          ))}
        </ul>
        <table className="w-full bg-white text-left text-sm" data-testid="pending-table">
          <TableHead columns={["Entry", "Change", "State", "Attempts", "Age"]} />
          <tbody>
            {overview.pending.length === 0 && (
              <tr>
                <td colSpan={5} className="p-4 text-center text-slate-500">
                  Nothing waiting. Submit with <code>npx hyperion submit change.json</code>.
                </td>
              </tr>
            )}
            {overview.pending.map((e) => (
              <tr key={e.id} id={`entry-${e.id}`} className="border-b">
                <td className="p-2">#{e.id}</td>
                <td className="p-2">{e.summary}</td>
                <td className="p-2">
                  <EntryState id={e.id} state={e.state} />
                </td>
                <td className="p-2">
                  {e.attempts}/{e.maxAttempts}
                </td>
                <td className="p-2">
                  <Age at={e.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      {quarantined.length > 0 && (
        <section>
          <h2 className="mb-2 font-semibold text-red-800">Quarantined</h2>
          {actionError && <p className="mb-2 text-sm text-red-700">{actionError}</p>}
          <ul className="space-y-3">
            {quarantined.map((e) => (
              <li
                key={e.id}
                className="rounded border border-red-200 bg-red-50 p-3 text-sm"
                data-testid="quarantined-entry"
              >
                <div className="font-medium">
                  #{e.id} {e.summary}
                </div>
                <div>
                  <strong>Why:</strong> {e.lastError?.kind}: {e.lastError?.message}
                </div>
                {e.lastError?.paths.length ? (
                  <div>
                    <strong>Paths:</strong> <code>{e.lastError.paths.join(", ")}</code>
                  </div>
                ) : null}
                <div className="mt-1">{guidance(e.lastError, e.targetBranch)}</div>
                {e.lastError?.outputTail && (
                  <pre className="mt-2 max-h-40 overflow-auto rounded bg-white p-2 text-xs">
                    {e.lastError.outputTail}
                  </pre>
                )}
                {canOperate && (
                  <button
                    type="button"
                    className="mt-2 rounded bg-slate-900 px-3 py-1 text-white"
                    onClick={() => retry.mutate({ id: e.id })}
                  >
                    Retry
                  </button>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}

      <Verifications rows={overview.verifications} />

      <section>
        <h2 className="mb-2 font-semibold">Recently finished</h2>
        <table className="w-full bg-white text-left text-sm" data-testid="finished-table">
          <tbody>
            {overview.finished
              .filter((e) => e.state !== "quarantined")
              .slice(0, 30)
              .map((e) => (
                <tr key={e.id} id={`entry-${e.id}`} className="border-b">
                  <td className="p-2">
                    <Link className="underline" href={`/queue/${e.id}`}>
                      Q{e.id}
                    </Link>
                  </td>
                  <td className="p-2">{e.summary}</td>
                  <td className="p-2">{e.state}</td>
                  <td className="p-2 font-mono text-xs">{e.mergedCommit?.slice(0, 10)}</td>
                  <td className="p-2">
                    {canRollback && e.state === "merged" && (
                      <RollbackButton
                        entry={{ entryId: e.id, summary: e.summary }}
                        onDone={refresh}
                      />
                    )}
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </section>

      <section>
        <h2 className="mb-2 font-semibold">Recent events</h2>
        {/* The newest 100, in a box of its own: it no longer pushes the page down. */}
        <ol
          className="max-h-80 space-y-1 overflow-auto rounded border border-slate-200 bg-white p-2 font-mono text-xs"
          data-testid="queue-events"
          aria-label="Recent queue events, newest first"
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
          tabIndex={0}
        >
          {events.map((e) => (
            <li key={e.id} data-testid="queue-event">
              <Link className="underline" href={`/queue/${e.entryId}`}>
                Q{e.entryId}
              </Link>{" "}
              {e.event.from ?? "∅"} → {e.event.to}
              {e.event.worker ? ` · ${e.event.worker}` : ""} · attempt {e.event.attempt}
              {e.event.error ? ` · ${e.event.error.kind}` : ""}
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}

const VERIFICATION_STYLE: Record<string, string> = {
  running: "border-slate-200 bg-white",
  passed: "border-emerald-200 bg-emerald-50",
  flaky: "border-amber-200 bg-amber-50",
  culprit: "border-red-200 bg-red-50",
  failed: "border-red-200 bg-red-50",
  error: "border-red-200 bg-red-50",
};

/**
 * Post-merge verifications (policy.postMerge): the target branch's full checks after landings,
 * a flaky failure nobody is blamed for, or the culprit bisection found and its revert.
 */
function Verifications({ rows }: { rows: Overview["verifications"] }) {
  if (rows.length === 0) return null;
  return (
    <section data-testid="verifications">
      <h2 className="mb-2 font-semibold">Post-merge verification</h2>
      <ul className="space-y-2">
        {rows.map((v) => (
          <li
            key={v.id}
            className={`rounded border p-3 text-sm ${VERIFICATION_STYLE[v.state] ?? ""}`}
            data-testid="verification"
            data-state={v.state}
          >
            <div>
              <strong>{v.state}</strong> · {v.repo}/{v.targetBranch} · tip{" "}
              <code>{v.headCommit.slice(0, 10)}</code> · {v.steps.length} check run
              {v.steps.length === 1 ? "" : "s"} · <Age at={v.createdAt} />
            </div>
            {v.reason && <div className="mt-1">{v.reason}</div>}
            {v.culpritEntryId !== null && (
              <div className="mt-1">
                Culprit:{" "}
                <Link className="underline" href={`/queue/${v.culpritEntryId}`}>
                  entry #{v.culpritEntryId}
                </Link>
                {v.revertEntryId !== null && (
                  <>
                    {" "}
                    · its revert:{" "}
                    <Link className="underline" href={`/queue/${v.revertEntryId}`}>
                      entry #{v.revertEntryId}
                    </Link>
                  </>
                )}
              </div>
            )}
            {v.state !== "passed" && v.state !== "running" && v.output && (
              <pre className="mt-2 max-h-40 overflow-auto rounded bg-white p-2 text-xs">
                {v.output}
              </pre>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
