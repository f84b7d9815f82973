"use client";
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useRef, useState } from "react";
import { stateLabel } from "@/schemas/labels";
import type { SteerCommand } from "@/server/db/schema/runs";
import type { RunDetail } from "@/server/views/runs";
import { useTRPC } from "../trpc";

const steerCommands: Record<SteerCommand, string> = {
  append_context:
    "append context: the agent reads your note now, or at its next session if its CLI cannot take it mid-run",
  checkpoint_and_replan:
    "checkpoint and replan: stop this run; the task goes back to pending and the next run's prompt carries your note",
  stop_and_requeue: "stop and requeue: stop this run; the task goes back to pending",
};

/** The steering commands sent to the run, each with its outcome; operators send more while it runs. */
export function Steering({
  id,
  state,
  steers,
  isLive,
  canSteer,
  onDone,
}: {
  id: number;
  state: RunDetail["run"]["state"];
  steers: RunDetail["steers"];
  isLive: boolean;
  canSteer: boolean;
  onDone: () => void;
}) {
  return (
    <section>
      <h2 className="mb-2 font-semibold">Steering</h2>
      {steers.length > 0 && (
        <ol className="mb-3 space-y-2 text-sm">
          {steers.map((s) => (
            <li key={s.id} className="rounded bg-white p-2" data-testid="run-steer">
              <div>
                <span className="font-medium">{s.command.replaceAll("_", " ")}</span> by{" "}
                <span className="break-all">{s.by}</span>
              </div>
              <p className="whitespace-pre-wrap text-slate-700">{s.reason}</p>
              <p className="text-xs text-slate-500" data-testid="run-steer-outcome">
                {s.appliedAt === null
                  ? isLive
                    ? "waiting for the run's supervisor to apply it"
                    : "not applied: the run ended first"
                  : s.outcome}
              </p>
            </li>
          ))}
        </ol>
      )}
      {canSteer &&
        (isLive ? (
          <SteerForm id={id} onDone={onDone} />
        ) : (
          <p className="text-sm text-slate-500">
            This run has ended ({stateLabel(state).toLowerCase()}): it can no longer be steered.
          </p>
        ))}
    </section>
  );
}

// crypto.randomUUID exists only in secure contexts (https, localhost); getRandomValues everywhere.
function newEventId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A steering command with its reason; each submit is one command (its own source event id). */
function SteerForm({ id, onDone }: { id: number; onDone: () => void }) {
  const trpc = useTRPC();
  const [error, setError] = useState("");
  const [sent, setSent] = useState("");
  const form = useRef<HTMLFormElement>(null);
  const steer = useMutation(
    trpc.run.steer.mutationOptions({
      onSuccess: (res) => {
        setSent(
          res.repeated
            ? "Already recorded."
            : "Recorded: the run's supervisor applies it within a few seconds.",
        );
        form.current?.reset();
        onDone();
      },
      onError: (err) =>
        setError(err.data?.issues?.map((i) => `${i.path}: ${i.message}`).join("; ") || err.message),
    }),
  );
  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    setError("");
    setSent("");
    steer.mutate({
      id,
      steer: {
        command: String(data.get("command") ?? ""),
        reason: String(data.get("reason") ?? ""),
        sourceEventId: newEventId(),
      },
    });
  }
  return (
    <form
      ref={form}
      onSubmit={onSubmit}
      className="space-y-2 rounded border bg-white p-4 text-sm"
      data-testid="steer-form"
    >
      <label className="block">
        Command
        <select
          name="command"
          defaultValue="append_context"
          className="mt-1 block w-full rounded border px-2 py-1"
        >
          {Object.entries(steerCommands).map(([command, help]) => (
            <option key={command} value={command}>
              {help}
            </option>
          ))}
        </select>
      </label>
      <label className="block">
        Reason (the agent and the log read it)
        <textarea
          name="reason"
          rows={3}
          required
          className="mt-1 w-full rounded border px-2 py-1"
        />
      </label>
      {error && (
        <p className="text-red-700" role="alert">
          {error}
        </p>
      )}
      {sent && (
        <p className="text-green-800" role="status">
          {sent}
        </p>
      )}
      <button
        type="submit"
        className="rounded bg-slate-900 px-3 py-1 text-white"
        disabled={steer.isPending}
      >
        Send
      </button>
    </form>
  );
}
