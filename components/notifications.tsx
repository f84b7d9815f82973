"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect } from "react";
import { requestRef } from "@/schemas/ids";
import type { Notification } from "@/server/views/notifications";
import { Age } from "./age";
import { useTRPC } from "./trpc";

const CAP = 99;

/**
 * The header's bell: how many notifications are unread, linking to the list. It asks every 10 s
 * and when the window regains focus, rather than holding a stream of its own: every page's live
 * view already holds one, and a browser allows only six connections to a site.
 */
export function NotificationsLink({ initial }: { initial: number }) {
  const trpc = useTRPC();
  const { data } = useQuery(
    trpc.notification.count.queryOptions(undefined, {
      initialData: { unread: initial },
      // The page was rendered before this mounted: ask once at once, then every 10 s.
      staleTime: 0,
      refetchInterval: 10_000,
      refetchOnWindowFocus: true,
    }),
  );
  const unread = data?.unread ?? initial;
  const shown = unread > CAP ? `${CAP}+` : String(unread);
  return (
    <Link
      href="/notifications"
      className="flex items-center gap-1.5 py-1 hover:underline md:py-0"
      data-testid="notifications-link"
    >
      <svg aria-hidden="true" width="16" height="16" viewBox="0 0 16 16" fill="currentColor">
        <path d="M8 1.5a4.5 4.5 0 0 0-4.5 4.5v2.6L2 11v1h12v-1l-1.5-2.4V6A4.5 4.5 0 0 0 8 1.5zM6.3 13a1.8 1.8 0 0 0 3.4 0z" />
      </svg>
      Notifications
      <span
        className={`rounded-full px-1.5 text-xs font-semibold ${unread > 0 ? "bg-sky-700 text-white" : "bg-slate-200 text-slate-600"}`}
        data-testid="notification-count"
      >
        {shown}
        <span className="sr-only"> unread</span>
      </span>
    </Link>
  );
}

const words: Record<Notification["kind"], (n: Notification) => string> = {
  question: () => "has a question for you",
  done: () => "is done",
  failed: (n) => `failed${n.reason ? `: ${n.reason}` : ""}`,
  rolled_back: () => "was rolled back",
  approval: () => "has a change waiting for your approval",
};

/**
 * The notification list: newest first, unread ones marked. Opening it marks everything shown as
 * read (up to the ids the list was read at), and the header's count follows.
 */
export function NotificationList({
  initial,
}: {
  initial: { items: Notification[]; latest: { events: number; queueLogs: number } };
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const mark = useMutation(
    trpc.notification.markSeen.mutationOptions({
      onSuccess: () =>
        void queryClient.invalidateQueries({ queryKey: trpc.notification.count.queryKey() }),
    }),
  );
  const { mutate } = mark;
  const { events, queueLogs } = initial.latest;
  useEffect(() => {
    mutate({ events, queueLogs });
  }, [mutate, events, queueLogs]);

  if (initial.items.length === 0)
    return (
      <p className="text-sm text-slate-600" data-testid="notifications-empty">
        Nothing yet. You hear here when your request has a question, is done or failed, and — if you
        review — when a change waits for your approval.
      </p>
    );
  return (
    <ul className="divide-y divide-slate-200 rounded border bg-white" data-testid="notifications">
      {initial.items.map((n) => (
        <li
          key={n.key}
          className={`flex flex-wrap items-baseline gap-x-3 gap-y-1 p-3 text-sm ${n.unread ? "bg-sky-50" : ""}`}
          data-testid="notification"
          data-kind={n.kind}
          data-unread={n.unread ? "true" : "false"}
        >
          {n.unread && (
            <span className="rounded bg-sky-700 px-1.5 text-xs font-semibold text-white">New</span>
          )}
          <p className="min-w-0 grow [overflow-wrap:anywhere]">
            <Link href={n.href} className="underline-offset-2 hover:underline">
              {n.requestId !== null ? (
                <span className="font-mono">{requestRef(n.requestId)}</span>
              ) : null}{" "}
              {n.title}
            </Link>{" "}
            {words[n.kind](n)}
          </p>
          <span className="text-xs text-slate-600">
            <Age at={n.at} /> ago
          </span>
        </li>
      ))}
    </ul>
  );
}
