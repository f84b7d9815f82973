"use client";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "../trpc";
import { DecisionDialog, Words } from "./decision-dialog";
import type { WaitingEntry } from "./types";

type Next = "redispatch" | "close";

/** Reject with a reason, then send the task back to an agent or close it. */
export function RejectDialog({
  item,
  disabled,
  onDone,
}: {
  item: WaitingEntry;
  disabled: boolean;
  onDone: (message: string) => void;
}) {
  const trpc = useTRPC();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [next, setNext] = useState<Next>("redispatch");
  const reject = useMutation(
    trpc.approval.reject.mutationOptions({
      onSuccess: (res) => {
        setOpen(false);
        setReason("");
        onDone(
          res.next === "redispatch"
            ? `Q${res.entryId} rejected: its task goes back to an agent with your reason.`
            : `Q${res.entryId} rejected: its task is closed.`,
        );
      },
    }),
  );
  const task = item.task ? `task ${item.task.id}` : "its task";
  const taskFirst = `${task[0]?.toUpperCase()}${task.slice(1)}`;
  return (
    <DecisionDialog
      open={open}
      onOpenChange={setOpen}
      onClosed={() => reject.reset()}
      trigger={
        <button
          type="button"
          className="rounded border border-red-300 px-3 py-1 text-sm text-red-800 disabled:cursor-not-allowed disabled:opacity-50"
          disabled={disabled}
        >
          Reject…
        </button>
      }
      title={`Reject Q${item.entryId}?`}
      description={
        <>
          C{item.change.id} will not land: the entry ends rejected with your reason.{" "}
          {next === "redispatch"
            ? `${taskFirst} goes back to the Orchestrator and is dispatched again to an agent whose prompt carries your reason.`
            : `${taskFirst} is closed as failed with your reason; its request gets no change for it.`}
        </>
      }
      onSubmit={() => {
        if (!reason.trim()) return;
        reject.mutate({ entryId: item.entryId, reason: reason.trim(), next });
      }}
      error={reject.error}
      submit={{
        label: `Reject Q${item.entryId}`,
        className:
          "rounded bg-red-700 px-3 py-1 text-white disabled:bg-slate-300 disabled:text-slate-600",
        disabled: reject.isPending || !reason.trim(),
      }}
      testId="reject"
    >
      <Words
        name="reason"
        label="Reason"
        aside="required: the next attempt reads it"
        required
        value={reason}
        onChange={setReason}
      />
      <NextStep next={next} onChange={setNext} />
    </DecisionDialog>
  );
}

const nextSteps: [Next, string][] = [
  ["redispatch", "Send it back to an agent with the reason"],
  ["close", "Close the task"],
];

/** What follows the rejection: another agent run with the reason, or the task closed. */
function NextStep({ next, onChange }: { next: Next; onChange: (next: Next) => void }) {
  return (
    <fieldset className="space-y-1">
      <legend className="font-medium">Then</legend>
      {nextSteps.map(([value, words]) => (
        <label key={value} className="flex items-center gap-2">
          <input
            type="radio"
            name="next"
            value={value}
            checked={next === value}
            onChange={() => onChange(value)}
          />
          {words}
        </label>
      ))}
    </fieldset>
  );
}
