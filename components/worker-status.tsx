"use client";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTRPC } from "./trpc";

/** The dot turns amber once the worker's last beat is older than LATE_MS, red after STALE_MS. */
const LATE_MS = 10_000;
const STALE_MS = 30_000;

const tones = {
  waiting: { dot: "bg-slate-300", text: "text-slate-600" },
  fresh: { dot: "bg-green-500", text: "text-slate-600" },
  late: { dot: "bg-amber-500", text: "text-amber-700" },
  stale: { dot: "bg-red-500", text: "text-red-700" },
  down: { dot: "bg-red-500", text: "text-red-700" },
} as const;

/** "40 s", "5 min", "3 h". */
function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 2 * 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h`;
}

/** The browser's clock, ticking each second; null until mounted, so the server render matches. */
function useNow(): number | null {
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

/**
 * A dot and a line on whether the worker process is beating. The beat's age is counted here,
 * each second, from its timestamp — so it keeps growing when the worker (or this page's polling)
 * stops — on the server's clock: the answer's own `now` against when it arrived gives the offset.
 */
export function WorkerStatus() {
  const trpc = useTRPC();
  const { data, dataUpdatedAt } = useQuery(
    trpc.system.status.queryOptions(undefined, { refetchInterval: 3000 }),
  );
  const browserNow = useNow();
  const worker = data?.worker;

  let state: keyof typeof tones = "waiting";
  let label = "worker: …";
  if (worker && worker.beatAt === null) {
    state = "down";
    label = "worker never started: run `npx hyperion worker`";
  } else if (worker?.stopped) {
    state = "down";
    label = "worker stopped: run `npx hyperion worker`";
  } else if (worker && worker.beatAt !== null) {
    // Server time now ≈ browser time now + (server time − browser time when the answer came).
    const serverNow = browserNow === null ? worker.now : browserNow + worker.now - dataUpdatedAt;
    const age = Math.max(0, serverNow - worker.beatAt);
    if (age < LATE_MS) {
      state = "fresh";
      label = `worker alive (${Math.floor(age / 1000)}s)`;
    } else if (age < STALE_MS) {
      state = "late";
      label = `worker last seen ${duration(age)} ago`;
    } else {
      state = "stale";
      label = `worker not seen for ${duration(age)}`;
    }
  }
  const tone = tones[state];
  return (
    <span
      className="flex items-center gap-2"
      data-testid="worker-status"
      data-state={state}
      title={
        state === "stale"
          ? `${label}: is \`npx hyperion start\` (or \`npx hyperion worker\`) running?`
          : label
      }
    >
      <span className={`inline-block h-2 w-2 rounded-full ${tone.dot}`} />
      <span className={tone.text}>{label}</span>
    </span>
  );
}
