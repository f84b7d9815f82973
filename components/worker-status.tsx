"use client";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "./trpc";

/** A dot that says whether the worker process is beating. */
export function WorkerStatus() {
  const trpc = useTRPC();
  const { data } = useQuery(trpc.system.status.queryOptions(undefined, { refetchInterval: 3000 }));
  const worker = data?.worker;
  const alive = worker?.alive ?? false;
  const label = !worker
    ? "worker: …"
    : alive
      ? `worker alive (${Math.round((worker.lastBeatAgoMs ?? 0) / 1000)}s)`
      : worker.lastBeatAgoMs === null
        ? "worker never started: run `npx hyperion worker`"
        : "worker down: run `npx hyperion worker`";
  return (
    <span className="flex items-center gap-2" data-testid="worker-status" title={label}>
      <span
        className={`inline-block h-2 w-2 rounded-full ${alive ? "bg-green-500" : "bg-red-500"}`}
      />
      <span className="text-slate-600">{label}</span>
    </span>
  );
}
