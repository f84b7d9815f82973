"use client";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "../trpc";
import { DecisionDialog, Words } from "./decision-dialog";
import type { WaitingEntry } from "./types";

/** What follows: back to the policy's agent, to an agent named here, or the task closed. */
type Next = "redispatch" | "close" | `agent:${string}`;

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
  const { sendBackRepeats, handoffAgents } = item.reject;
  const steps: [Next, string][] = sendBackRepeats
    ? [
        ...handoffAgents.map((a): [Next, string] => [
          `agent:${a}`,
          `Hand it to the ${a} agent with the reason`,
        ]),
        ["close", "Close the task"],
      ]
    : nextSteps;
  const [next, setNext] = useState<Next>(steps[0]?.[0] ?? "close");
  const agent = next.startsWith("agent:") ? next.slice("agent:".length) : null;
  const reject = useMutation(
    trpc.approval.reject.mutationOptions({
      onSuccess: (res) => {
        setOpen(false);
        setReason("");
        onDone(
          res.next === "close"
            ? `Q${res.entryId} rejected: its task is closed.`
            : res.agent
              ? `Q${res.entryId} rejected: its task goes to the ${res.agent} agent with your reason.`
              : `Q${res.entryId} rejected: its task goes back to an agent with your reason.`,
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
          {next === "close"
            ? `${taskFirst} is closed as failed with your reason; its request gets no change for it.`
            : agent
              ? `${taskFirst} goes to the ${agent} agent, whose prompt carries your reason.`
              : `${taskFirst} goes back to the Orchestrator and is dispatched again to an agent whose prompt carries your reason.`}
        </>
      }
      onSubmit={() => {
        if (!reason.trim()) return;
        reject.mutate({
          entryId: item.entryId,
          reason: reason.trim(),
          next: next === "close" ? "close" : "redispatch",
          ...(agent ? { agent: agent as (typeof handoffAgents)[number] } : {}),
        });
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
      {sendBackRepeats && (
        <p
          className="rounded border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900"
          data-testid="reject-builtin"
        >
          The built-in developer made C{item.change.id}, and the built-in developer cannot act on a
          reason: sent back to it, the task would get the same change again.{" "}
          {handoffAgents.length
            ? "Hand it to an agent the policy names, or close the task."
            : "The policy names no agent to hand it to (agents.default or agents.byArea), so close the task."}
        </p>
      )}
      <NextStep steps={steps} next={next} onChange={setNext} />
    </DecisionDialog>
  );
}

const nextSteps: [Next, string][] = [
  ["redispatch", "Send it back to an agent with the reason"],
  ["close", "Close the task"],
];

/** What follows the rejection: another agent run with the reason, or the task closed. */
function NextStep({
  steps,
  next,
  onChange,
}: {
  steps: [Next, string][];
  next: Next;
  onChange: (next: Next) => void;
}) {
  return (
    <fieldset className="space-y-1">
      <legend className="font-medium">Then</legend>
      {steps.map(([value, words]) => (
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
