"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useCallback, useRef, useState } from "react";
import { LiveIndicator } from "../live-indicator";
import { useTRPC } from "../trpc";
import { ApprovalEntry } from "./entry";
import type { Waiting } from "./types";

/** The waiting list, polled and refreshed (with the header's count) after each queue event. */
function useLiveWaiting(initial: Waiting, cursor: number) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { data } = useQuery(
    // Polling is the backstop for what logs no queue event (an approval short of the count).
    trpc.approval.list.queryOptions(undefined, { initialData: initial, refetchInterval: 10_000 }),
  );
  const refresh = useCallback(() => {
    void queryClient.invalidateQueries({ queryKey: trpc.approval.list.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.approval.count.queryKey() });
  }, [queryClient, trpc]);
  const pending = useRef<Awaited<ReturnType<typeof setTimeout>> | null>(null);
  const live = useSubscription(
    trpc.queue.live.subscriptionOptions(
      { afterId: cursor },
      {
        onData: () => {
          if (pending.current) return;
          pending.current = setTimeout(() => {
            pending.current = null;
            refresh();
          }, 250);
        },
      },
    ),
  );
  return { entries: data ?? initial, refresh, live };
}

/**
 * The changes waiting for a reviewer, oldest first. Queue transitions stream in (queue.live),
 * each one refreshing the list and the header's count; a reviewer opens the whole diff (the
 * server records that it was shown), then approves or rejects through a confirmation dialog.
 */
export function ApprovalsView({ initial, cursor }: { initial: Waiting; cursor: number }) {
  const { entries, refresh, live } = useLiveWaiting(initial, cursor);
  const [notice, setNotice] = useState("");
  return (
    <div className="space-y-4">
      <LiveIndicator status={live.status} testId="approvals-live" />
      {notice && (
        <p
          role="status"
          className="rounded bg-green-50 p-3 text-sm text-green-800"
          data-testid="approval-notice"
        >
          {notice}
        </p>
      )}
      {entries.length === 0 ? (
        <p
          className="rounded bg-white p-6 text-center text-sm text-slate-500"
          data-testid="no-approvals"
        >
          Nothing waits for approval. Changes whose risk needs a reviewer appear here once their
          checks pass.
        </p>
      ) : (
        <ol className="space-y-4" data-testid="approval-list">
          {entries.map((e) => (
            <li key={e.entryId}>
              <ApprovalEntry
                item={e}
                onDecided={(message) => {
                  setNotice(message);
                  refresh();
                }}
                onChanged={refresh}
              />
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
