"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useRef, useState } from "react";
import { LiveIndicator } from "../live-indicator";
import type { EventFilter } from "../queue-guidance";
import { useTRPC } from "../trpc";
import { EventLog } from "./event-log";
import { FinishedSection } from "./finished";
import { Hosts } from "./hosts";
import { MovingSection } from "./moving";
import { type Outcome, QuarantinedSection } from "./quarantined";
import { Remotes } from "./remotes";
import { Threads } from "./threads";
import type { LogRow, Overview } from "./types";
import { Verifications } from "./verifications";
import { WaitingToStartSection } from "./waiting-to-start";

/** The log keeps this many events; the filters narrow what it shows of them. */
const LOG_KEPT = 100;

/** The overview, polled, and the event log, streamed; each event also refreshes the overview. */
function useLiveQueue(initial: Overview) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const overviewKey = trpc.queue.overview.queryKey();
  const query = useQuery(
    trpc.queue.overview.queryOptions(undefined, { initialData: initial, refetchInterval: 2000 }),
  );
  const [events, setEvents] = useState<LogRow[]>(initial.recent);
  const pendingRefresh = useRef<Awaited<ReturnType<typeof setTimeout>> | null>(null);
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
  return { query, events, live, refresh };
}

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
  const { query, events, live, refresh } = useLiveQueue(initial);
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
      <Remotes remotes={status.remotes} />
      <MovingSection entries={overview.moving} counts={status.counts} />
      <WaitingToStartSection waiting={overview.waitingToStart} />
      <FinishedSection
        entries={overview.finished}
        webUrls={overview.webUrls}
        canRollback={canRollback}
        onRollback={refresh}
      />
      <EventLog events={events} initialFilter={initialFilter} />

      <Verifications rows={overview.verifications} />

      <Hosts hosts={status.hosts} />
      <Threads status={status} insights={insights} />
    </div>
  );
}
