"use client";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { changeRef } from "@/schemas/ids";
import { liveRunStates } from "@/server/state/runs/states";
import type { RunDetail } from "@/server/views/runs";
import { CommitLink, EntryLink } from "../ids";
import { LiveIndicator } from "../live-indicator";
import { StatusBadge } from "../status-badge";
import { useTRPC, useTRPCClient } from "../trpc";
import { Facts } from "./facts";
import { Failure } from "./failure";
import { Log } from "./log";
import { Steering } from "./steering";
import { Timeline } from "./timeline";

/** The run's detail, fetched again after events about it. */
function useLiveRun(initial: RunDetail, cursor: number) {
  const client = useTRPCClient();
  const trpc = useTRPC();
  const [detail, setDetail] = useState(initial);
  const id = initial.run.id;
  // Answers may arrive out of order; only the newest request's answer is shown.
  const latest = useRef(0);
  const refresh = useCallback(async () => {
    const ticket = ++latest.current;
    const next = await client.run.detail.query({ id });
    if (next && ticket === latest.current) setDetail(next);
  }, [client, id]);
  // A chatty agent sends a batch every tick: refetch at most a few times a second.
  const pendingRefresh = useRef<Awaited<ReturnType<typeof setTimeout>> | null>(null);
  useEffect(
    () => () => {
      if (pendingRefresh.current) clearTimeout(pendingRefresh.current);
    },
    [],
  );
  const live = useSubscription(
    trpc.run.live.subscriptionOptions(
      { afterId: cursor, entityId: id },
      {
        onData: () => {
          if (pendingRefresh.current) return;
          pendingRefresh.current = setTimeout(() => {
            pendingRefresh.current = null;
            void refresh();
          }, 250);
        },
      },
    ),
  );
  return { detail, refresh, live };
}

/**
 * The run page's live part: the run's facts, its log, its steering and its change, refreshed
 * whenever an event about this run arrives (a move, or a batch of log lines).
 */
export function RunView({
  initial,
  cursor,
  canSteer,
  webUrl,
}: {
  initial: RunDetail;
  cursor: number;
  /** The repository's web host (config `webUrl`), for commit links. */
  webUrl?: string;
  /** Operators and admins. */
  canSteer: boolean;
}) {
  const { detail, refresh, live } = useLiveRun(initial, cursor);
  const { run, events, steers, prompt, entry, moves } = detail;
  const isLive = liveRunStates.includes(run.state);

  return (
    <div className="space-y-6">
      <LiveIndicator status={live.status} testId="run-live" />
      {run.state === "no_change" && (
        <div
          className="rounded border border-green-300 bg-green-50 p-3 text-sm text-green-900"
          data-testid="run-no-change"
        >
          <p className="font-medium">Done, no change needed. The agent said:</p>
          <p className="whitespace-pre-wrap">{run.reason}</p>
        </div>
      )}
      {!isLive && run.state !== "submitted" && run.state !== "no_change" && <Failure run={run} />}
      <Facts run={run} entry={entry} webUrl={webUrl} />

      {run.changeRequestId !== null && (
        <RunChange changeId={run.changeRequestId} entry={entry} webUrl={webUrl} />
      )}

      <PromptFile prompt={prompt} />

      {(canSteer || steers.length > 0) && (
        <Steering
          id={run.id}
          state={run.state}
          steers={steers}
          isLive={isLive}
          canSteer={canSteer}
          onDone={() => void refresh()}
        />
      )}

      <Timeline moves={moves} />

      <Log events={events} ended={!isLive} />
    </div>
  );
}

/** The change the run submitted, and where its queue entry stands. */
function RunChange({
  changeId,
  entry,
  webUrl,
}: {
  changeId: number;
  entry: RunDetail["entry"];
  webUrl?: string;
}) {
  return (
    <section className="text-sm" data-testid="run-change">
      <h2 className="mb-1 font-semibold">Change</h2>
      <p>
        Change {changeRef(changeId)}
        {entry ? (
          <>
            {" "}
            is queue entry <EntryLink id={entry.id} />,{" "}
            <span data-testid="run-change-state" data-state={entry.state}>
              <StatusBadge status={entry.state} />
            </span>
            {entry.mergedCommit ? (
              <>
                {" "}
                as <CommitLink sha={entry.mergedCommit} webUrl={webUrl} />
              </>
            ) : null}
            .
          </>
        ) : (
          " is not in the merge queue."
        )}
      </p>
    </section>
  );
}

/** The prompt file the agent was given, while it is kept. */
function PromptFile({ prompt }: { prompt: string | null }) {
  return (
    <details className="rounded border border-slate-200 bg-white p-3 text-sm">
      <summary className="cursor-pointer font-semibold">Prompt file</summary>
      {prompt === null ? (
        <p className="mt-2 text-slate-500">
          The prompt file is not kept any more (or the run has not written it yet).
        </p>
      ) : (
        <pre className="mt-2 max-h-96 overflow-auto whitespace-pre-wrap text-xs">{prompt}</pre>
      )}
    </details>
  );
}
