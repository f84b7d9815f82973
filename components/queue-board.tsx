"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useSubscription } from "@trpc/tanstack-react-query";
import Link from "next/link";
import { useRef, useState } from "react";
import { entryRef } from "@/schemas/ids";
import { stateLabel } from "@/schemas/labels";
import type { AppRouter } from "@/server/trpc/root";
import { Age, formatAge } from "./age";
import { ConfirmDialog } from "./dialog";
import { CommitLink, EntryLink, RequestLink, TaskLink } from "./ids";
import { LiveIndicator } from "./live-indicator";
import { type EventFilter, eventKinds, eventText, guidance, matchesEvent } from "./queue-guidance";
import { RollbackButton } from "./rollback-button";
import { Cell, EmptyRow, StackedHead, stacked } from "./stacked-table";
import { StatusBadge } from "./status-badge";
import { useTRPC } from "./trpc";

type Overview = inferRouterOutputs<AppRouter>["queue"]["overview"];
type LogRow = Overview["recent"][number];
type Quarantined = Overview["quarantined"][number];
type Moving = Overview["moving"][number];

/** The log keeps this many events; the filters narrow what it shows of them. */
const LOG_KEPT = 100;
/** The states of entries on their way to the branch (server/queue/board.ts), in order. */
const movingStates = [
  "queued",
  "applying",
  "checking",
  "ready",
  "retry_wait",
  "awaiting_approval",
] as const;
/** Finished entries shown before "Show more". */
const FINISHED_SHOWN = 20;

const pct = (x: number | null) => (x === null ? "—" : `${Math.round(x * 100)}%`);
const ms = (x: number | null) => (x === null ? "—" : formatAge(x));
const utcTime = (at: number) => `${new Date(at).toISOString().slice(11, 19)} UTC`;

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

/** An entry's change: its summary, request and task. */
function ChangeRefs({ e }: { e: Pick<Moving, "summary" | "requestId" | "taskId"> }) {
  return (
    <>
      <span className="break-words">{e.summary}</span>
      <span className="ml-1 whitespace-nowrap text-xs">
        {e.requestId !== null && <RequestLink id={e.requestId} />}{" "}
        {e.taskId && <TaskLink id={e.taskId} />}
      </span>
    </>
  );
}

/** The state cell: an entry waiting for a reviewer links to its place on /approvals. */
function EntryState({ id, state }: { id: number; state: string }) {
  if (state !== "awaiting_approval") return <StatusBadge status={state} />;
  return (
    <Link href={`/approvals#entry-${id}`} data-testid="awaiting-approval">
      <StatusBadge status={state} />
    </Link>
  );
}

/** Who or what a moving entry waits for. */
function WaitingFor({ e }: { e: Moving }) {
  switch (e.state) {
    case "queued":
      return e.blockedBy.length ? (
        <>
          {e.blockedBy.map((b) => (
            <span key={b} className="mr-1">
              <EntryLink id={b} />
            </span>
          ))}
          (same paths, queued first)
        </>
      ) : (
        <>a free queue thread</>
      );
    case "applying":
    case "checking":
    case "ready":
      return <>{e.leaseOwner ? `thread ${e.leaseOwner}` : "a queue thread"}</>;
    case "retry_wait":
      return (
        <>
          its next attempt at {utcTime(e.nextAttemptAt)}
          {e.lastError ? ` (after ${stateLabel(e.lastError.kind)})` : ""}
        </>
      );
    case "awaiting_approval":
      return <>a reviewer on /approvals</>;
    default:
      return <>—</>;
  }
}

type Outcome = { text: string; ok: boolean };

/**
 * The live queue, in the order an operator acts on it: quarantined entries, then what is moving,
 * then what finished, then the event log. Transitions stream in over the subscription (resuming
 * after the last event id on reconnect); each one also refreshes the overview, which polls for
 * thread heartbeats.
 */
export function QueueBoard({
  initial,
  canOperate,
  canRollback,
  initialFilter,
}: {
  initial: Overview;
  canOperate: boolean;
  canRollback: boolean;
  initialFilter: EventFilter;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const overviewKey = trpc.queue.overview.queryKey();
  const query = useQuery(
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
            prev.some((e) => e.id === event.data.id)
              ? prev
              : [event.data, ...prev].slice(0, LOG_KEPT),
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
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const overview = query.data ?? initial;
  const { status, insights } = overview;

  return (
    <div className="space-y-6">
      <LiveIndicator status={live.status} testId="queue-live" />
      {live.status === "error" && (
        <p
          role="alert"
          className="rounded border border-red-300 bg-red-50 p-2 text-sm text-red-800"
          data-testid="queue-live-error"
        >
          Live updates stopped{live.error ? `: ${live.error.message}` : ""}. The lists still refresh
          every few seconds; reload the page to follow the event log again.
        </p>
      )}
      {query.isError && (
        <p
          role="alert"
          className="rounded border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900"
          data-testid="queue-refresh-error"
        >
          Could not refresh the queue ({query.error.message}); showing what was last read.
        </p>
      )}
      {status.threads.length === 0 && (
        <p className="text-sm text-red-700" data-testid="no-threads">
          No queue thread is alive. Start the worker: <code>npx hyperion worker</code> (or{" "}
          <code>npm start</code>).
        </p>
      )}

      <QuarantinedSection
        entries={overview.quarantined}
        canOperate={canOperate}
        outcome={outcome}
        onOutcome={(o) => {
          setOutcome(o);
          void refresh();
        }}
      />
      <MovingSection entries={overview.moving} counts={status.counts} />
      <FinishedSection
        entries={overview.finished}
        webUrls={overview.webUrls}
        canRollback={canRollback}
        onRollback={refresh}
      />
      <EventLog events={events} initialFilter={initialFilter} />

      <Verifications rows={overview.verifications} />

      <section aria-labelledby="threads-heading">
        <h2 id="threads-heading" className="mb-2 font-semibold">
          Worker threads
        </h2>
        {status.threads.length > 0 && (
          <div className="grid grid-cols-1 gap-3 sm:grid-cols-3">
            {status.threads.map((t) => (
              <div
                key={t.id}
                className="rounded border border-slate-200 bg-white p-3 text-sm"
                data-testid="thread-pane"
              >
                <div className="break-all font-mono text-xs">{t.id}</div>
                <div>
                  {t.currentEntryId ? (
                    <>
                      landing <EntryLink id={t.currentEntryId} />
                    </>
                  ) : (
                    "idle"
                  )}
                </div>
                <div className="text-slate-500">heartbeat {formatAge(t.heartbeatAgeMs)} ago</div>
              </div>
            ))}
          </div>
        )}
        <div className="mt-3 grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
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
        </div>
      </section>
    </div>
  );
}

function QuarantinedSection({
  entries,
  canOperate,
  outcome,
  onOutcome,
}: {
  entries: Quarantined[];
  canOperate: boolean;
  outcome: Outcome | null;
  onOutcome: (o: Outcome) => void;
}) {
  return (
    <section aria-labelledby="quarantined-heading" data-testid="queue-quarantined">
      <h2 id="quarantined-heading" className="mb-2 font-semibold text-red-800">
        Quarantined ({entries.length})
      </h2>
      {outcome && (
        <p
          role="status"
          className={`mb-2 text-sm ${outcome.ok ? "text-green-800" : "text-red-700"}`}
          data-testid="queue-outcome"
        >
          {outcome.text}
        </p>
      )}
      {entries.length === 0 ? (
        <p className="text-sm text-slate-500" data-testid="queue-quarantined-empty">
          Nothing quarantined.
        </p>
      ) : (
        <ul className="space-y-3">
          {entries.map((e) => (
            <QuarantinedEntry key={e.id} e={e} canOperate={canOperate} onOutcome={onOutcome} />
          ))}
        </ul>
      )}
    </section>
  );
}

function QuarantinedEntry({
  e,
  canOperate,
  onOutcome,
}: {
  e: Quarantined;
  canOperate: boolean;
  onOutcome: (o: Outcome) => void;
}) {
  const trpc = useTRPC();
  const ref = entryRef(e.id);
  const retry = useMutation(
    trpc.queue.retry.mutationOptions({
      onSuccess: () =>
        onOutcome({
          ok: true,
          text: `${ref} is queued again with fresh attempts; a queue thread picks it up next.`,
        }),
    }),
  );
  const drop = useMutation(
    trpc.queue.drop.mutationOptions({
      onSuccess: () => onOutcome({ ok: true, text: `${ref} was dropped: it will not land.` }),
    }),
  );
  return (
    <li
      id={`entry-${e.id}`}
      className="rounded border border-red-200 bg-red-50 p-3 text-sm"
      data-testid="quarantined-entry"
    >
      <div className="flex flex-wrap items-center gap-x-2 gap-y-1 font-medium">
        <EntryLink id={e.id} />
        <StatusBadge status={e.state} />
        <ChangeRefs e={e} />
      </div>
      <div className="mt-1 text-xs text-slate-600">
        {e.repo} → {e.targetBranch} · {e.attempts} of {e.maxAttempts} attempts used ·{" "}
        <Age at={e.updatedAt} /> ago
      </div>
      <div className="mt-1 break-words">
        <strong>Why:</strong> {e.lastError ? stateLabel(e.lastError.kind) : "no error recorded"}
        {e.lastError?.message ? `: ${e.lastError.message}` : ""}
      </div>
      {e.lastError?.paths.length ? (
        <div className="break-all">
          <strong>Paths:</strong> <code>{e.lastError.paths.join(", ")}</code>
        </div>
      ) : null}
      <div className="mt-1">{guidance(e.lastError, e.targetBranch)}</div>
      {e.lastError?.outputTail && (
        <details className="mt-2" open>
          <summary className="cursor-pointer">Check output</summary>
          <pre
            className="mt-1 max-h-40 overflow-auto rounded bg-white p-2 text-xs"
            data-testid="quarantined-output"
          >
            {e.lastError.outputTail}
          </pre>
        </details>
      )}
      <p className="mt-1">
        <Link className="underline" href={`/queue/${e.id}`}>
          Every attempt of {ref}, with its output
        </Link>
      </p>
      {canOperate && (
        <div className="mt-2 flex flex-wrap gap-2">
          <ConfirmDialog
            trigger={
              <button type="button" className="rounded bg-slate-900 px-3 py-1 text-white">
                Retry…
              </button>
            }
            title={`Retry ${ref}?`}
            description={`${ref} goes back to the queue with its attempts reset (0 of ${e.maxAttempts}). A queue thread applies it to the current ${e.targetBranch} and runs its checks again; if they fail the same way it comes back here.`}
            confirm="Retry"
            pendingLabel="Retrying…"
            onConfirm={() => retry.mutateAsync({ id: e.id })}
            pending={retry.isPending}
            error={retry.error?.message}
            testId="retry-dialog"
          />
          <ConfirmDialog
            trigger={
              <button type="button" className="rounded border border-red-300 bg-white px-3 py-1">
                Drop…
              </button>
            }
            title={`Drop ${ref}?`}
            description={`${ref} is rejected and will never land on ${e.targetBranch}. Its task stays failed${e.requestId !== null ? `; R${e.requestId} can be run again from its page` : ""}. This cannot be undone.`}
            confirm="Drop it"
            pendingLabel="Dropping…"
            danger
            onConfirm={() => drop.mutateAsync({ id: e.id })}
            pending={drop.isPending}
            error={drop.error?.message}
            testId="drop-dialog"
          />
        </div>
      )}
    </li>
  );
}

function MovingSection({
  entries,
  counts,
}: {
  entries: Moving[];
  counts: Overview["status"]["counts"];
}) {
  const shown = movingStates.map((s) => [s, counts[s]] as const).filter(([, n]) => n > 0);
  return (
    <section aria-labelledby="moving-heading">
      <h2 id="moving-heading" className="mb-2 font-semibold">
        Moving ({entries.length})
      </h2>
      {shown.length > 0 && (
        <ul className="mb-3 flex flex-wrap gap-2 text-sm" data-testid="state-counts">
          {shown.map(([state, n]) => (
            <li key={state} className="rounded bg-white px-2 py-1" data-state={state}>
              {stateLabel(state)}: <strong>{n}</strong>
            </li>
          ))}
        </ul>
      )}
      <table className={stacked.table} data-testid="pending-table">
        <StackedHead columns={["Entry", "Change", "State", "Waiting for", "Attempts", "Age"]} />
        <tbody className={stacked.tbody}>
          {entries.length === 0 && (
            <EmptyRow colSpan={6}>
              <span data-testid="queue-moving-empty">Nothing moving.</span> Submit with{" "}
              <code>npx hyperion submit change.json</code>, or file a request.
            </EmptyRow>
          )}
          {entries.map((e) => (
            <tr key={e.id} id={`entry-${e.id}`} className={stacked.row} data-testid="moving-entry">
              <Cell label="Entry">
                <EntryLink id={e.id} />
              </Cell>
              <Cell label="Change">
                <ChangeRefs e={e} />
              </Cell>
              <Cell label="State">
                <EntryState id={e.id} state={e.state} />
              </Cell>
              <Cell label="Waiting for">
                <WaitingFor e={e} />
              </Cell>
              <Cell label="Attempts">
                {e.attempts}/{e.maxAttempts}
              </Cell>
              <Cell label="Age">
                <Age at={e.createdAt} />
              </Cell>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function FinishedSection({
  entries,
  webUrls,
  canRollback,
  onRollback,
}: {
  entries: Overview["finished"];
  webUrls: Record<string, string>;
  canRollback: boolean;
  onRollback: () => void;
}) {
  const [all, setAll] = useState(false);
  const shown = all ? entries : entries.slice(0, FINISHED_SHOWN);
  return (
    <section aria-labelledby="finished-heading">
      <h2 id="finished-heading" className="mb-2 font-semibold">
        Recently finished
      </h2>
      <table className={stacked.table} data-testid="finished-table">
        <StackedHead columns={["Entry", "Change", "State", "Commit", "Finished", ""]} />
        <tbody className={stacked.tbody}>
          {entries.length === 0 && (
            <EmptyRow colSpan={6}>
              <span data-testid="queue-finished-empty">Nothing finished yet.</span>
            </EmptyRow>
          )}
          {shown.map((e) => (
            <tr
              key={e.id}
              id={`entry-${e.id}`}
              className={stacked.row}
              data-testid="finished-entry"
            >
              <Cell label="Entry">
                <EntryLink id={e.id} />
              </Cell>
              <Cell label="Change">
                <ChangeRefs e={e} />
              </Cell>
              <Cell label="State">
                <StatusBadge status={e.state} />
              </Cell>
              <Cell label="Commit">
                {e.mergedCommit ? (
                  <CommitLink sha={e.mergedCommit} webUrl={webUrls[e.repo]} />
                ) : (
                  "—"
                )}
              </Cell>
              <Cell label="Finished">
                <Age at={e.updatedAt} /> ago
              </Cell>
              <td className="block py-1 sm:table-cell sm:p-2">
                {canRollback && e.state === "merged" && (
                  <RollbackButton
                    entry={{ entryId: e.id, summary: e.summary }}
                    onDone={onRollback}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {entries.length > FINISHED_SHOWN && (
        <p className="mt-2 text-sm">
          {all ? (
            <>
              The newest {entries.length} are shown; older ones are on{" "}
              <Link className="underline" href="/history">
                /history
              </Link>
              .
            </>
          ) : (
            <button type="button" className="underline" onClick={() => setAll(true)}>
              Show more ({entries.length - FINISHED_SHOWN})
            </button>
          )}
        </p>
      )}
    </section>
  );
}

/** Keeps the filters in the address, so a filtered log can be shared or reloaded. */
function writeFilterToUrl(filter: EventFilter) {
  const url = new URL(window.location.href);
  for (const [key, value] of [
    ["event", filter.event],
    ["q", filter.q],
  ] as const) {
    if (value) url.searchParams.set(key, value);
    else url.searchParams.delete(key);
  }
  window.history.replaceState(null, "", url);
}

function EventLog({ events, initialFilter }: { events: LogRow[]; initialFilter: EventFilter }) {
  const [filter, setFilter] = useState(initialFilter);
  const update = (next: Partial<EventFilter>) => {
    const merged = { ...filter, ...next };
    setFilter(merged);
    writeFilterToUrl(merged);
  };
  const shown = events.filter((e) => matchesEvent(e, filter));
  const filtered = Boolean(filter.event || filter.q.trim());
  return (
    <section aria-labelledby="events-heading">
      <h2 id="events-heading" className="mb-2 font-semibold">
        Recent events
      </h2>
      <form
        className="mb-2 flex flex-wrap items-end gap-3 text-sm"
        data-testid="queue-event-filter"
        onSubmit={(ev) => ev.preventDefault()}
      >
        <label className="flex flex-col">
          Event
          <select
            name="event"
            value={filter.event}
            onChange={(ev) => update({ event: ev.target.value })}
            className="rounded border px-2 py-1"
          >
            <option value="">all</option>
            {eventKinds.map((k) => (
              <option key={k} value={k}>
                {k === "failures" ? "failures (an error recorded)" : `moved to ${stateLabel(k)}`}
              </option>
            ))}
          </select>
        </label>
        <label className="flex min-w-0 flex-col">
          Entry, request or text
          <input
            name="q"
            type="search"
            value={filter.q}
            placeholder="Q7, R12, conflict…"
            onChange={(ev) => update({ q: ev.target.value })}
            className="w-48 max-w-full rounded border px-2 py-1"
          />
        </label>
        <span className="pb-1 text-slate-500" data-testid="queue-event-count">
          {filtered
            ? `${shown.length} of the last ${events.length} events`
            : `the last ${events.length} events`}
        </span>
      </form>
      {/* The newest 100, in a box of its own: it never pushes the page down. */}
      <ol
        className="max-h-80 space-y-1 overflow-auto rounded border border-slate-200 bg-white p-2 font-mono text-xs"
        data-testid="queue-events"
        aria-label="Recent queue events, newest first"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
        tabIndex={0}
      >
        {shown.length === 0 && (
          <li className="text-slate-500" data-testid="queue-events-empty">
            {filtered ? "No recent event matches these filters." : "No events yet."}
          </li>
        )}
        {shown.map((e) => (
          <li
            key={e.id}
            className="break-words"
            data-testid="queue-event"
            data-from={e.event.from ?? ""}
            data-to={e.event.to}
          >
            <EntryLink id={e.entryId} />
            {e.requestId !== null && (
              <>
                {" "}
                <RequestLink id={e.requestId} />
              </>
            )}{" "}
            {eventText(e)}
          </li>
        ))}
      </ol>
    </section>
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
            <div className="break-words">
              <strong>{v.state}</strong> · {v.repo}/{v.targetBranch} · tip{" "}
              <code>{v.headCommit.slice(0, 10)}</code> · {v.steps.length} check run
              {v.steps.length === 1 ? "" : "s"} · <Age at={v.createdAt} />
            </div>
            {v.reason && <div className="mt-1">{v.reason}</div>}
            {v.culpritEntryId !== null && (
              <div className="mt-1">
                Culprit: <EntryLink id={v.culpritEntryId} />
                {v.revertEntryId !== null && (
                  <>
                    {" "}
                    · its revert: <EntryLink id={v.revertEntryId} />
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
