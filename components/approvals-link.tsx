"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import Link from "next/link";
import { useRef } from "react";
import { useTRPC } from "./trpc";

/**
 * The header's "Approvals" link with how many changes wait for a reviewer. It follows the
 * queue's transitions (queue.live): each one refetches the count; polling is the backstop.
 */
export function ApprovalsLink({ initial }: { initial: number }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { data } = useQuery(
    trpc.approval.count.queryOptions(undefined, {
      initialData: { waiting: initial },
      // The page was rendered before the subscription started: fetch once on mount.
      staleTime: 0,
      refetchInterval: 30_000,
    }),
  );
  const pending = useRef<Awaited<ReturnType<typeof setTimeout>> | null>(null);
  useSubscription(
    trpc.queue.live.subscriptionOptions(
      {},
      {
        onData: () => {
          if (pending.current) return;
          pending.current = setTimeout(() => {
            pending.current = null;
            void queryClient.invalidateQueries({ queryKey: trpc.approval.count.queryKey() });
          }, 300);
        },
      },
    ),
  );
  const waiting = data?.waiting ?? initial;
  return (
    <Link href="/approvals" className="flex items-center gap-1.5 hover:underline">
      Approvals
      <span
        className={`rounded-full px-1.5 text-xs font-semibold ${waiting > 0 ? "bg-amber-500 text-white" : "bg-slate-200 text-slate-600"}`}
        data-testid="approval-count"
        title={`${waiting} change${waiting === 1 ? "" : "s"} waiting for approval`}
      >
        {waiting}
        <span className="sr-only"> waiting</span>
      </span>
    </Link>
  );
}
