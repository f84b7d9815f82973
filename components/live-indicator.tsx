"use client";
import { useEffect, useState } from "react";

/** How long a first connection may take before the line says the stream is down. */
const FIRST_CONNECT_GRACE_MS = 5000;

const looks = {
  live: { text: "● live", className: "text-slate-500" },
  connecting: { text: "connecting…", className: "text-slate-500" },
  paused: { text: "live updates paused — reconnecting…", className: "font-medium text-amber-700" },
  stopped: {
    text: "live updates stopped — reload the page to resume",
    className: "font-medium text-red-700",
  },
} as const;

/**
 * The line above a live view saying whether its own subscription is connected. `status` is
 * tRPC's `useSubscription(...).status`: 'pending' is connected; 'connecting' is the first
 * connection or, once it has been live (or after a few seconds), a dropped stream that the link is
 * retrying; 'error' and 'idle' are a stream that ended and will not come back by itself.
 */
export function LiveIndicator({
  status,
  testId,
  className = "",
}: {
  status: string;
  testId: string;
  className?: string;
}) {
  const [wasLive, setWasLive] = useState(false);
  const [overdue, setOverdue] = useState(false);
  useEffect(() => {
    if (status === "pending") setWasLive(true);
    if (status !== "connecting") return;
    const timer = setTimeout(() => setOverdue(true), FIRST_CONNECT_GRACE_MS);
    return () => clearTimeout(timer);
  }, [status]);

  const state =
    status === "pending"
      ? "live"
      : status === "connecting"
        ? wasLive || overdue
          ? "paused"
          : "connecting"
        : "stopped";
  const look = looks[state];
  return (
    <p
      className={`text-xs ${look.className} ${className}`}
      data-testid={testId}
      data-state={state}
      role="status"
    >
      {look.text}
    </p>
  );
}
