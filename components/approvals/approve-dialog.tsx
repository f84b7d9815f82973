"use client";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "../trpc";
import { DecisionDialog, Words } from "./decision-dialog";
import type { WaitingEntry } from "./types";

/** Approve the exact patch shown, with a comment where the tier asks for one. */
export function ApproveDialog({
  item,
  patchHash,
  disabledReason,
  reasonId,
  onDone,
}: {
  item: WaitingEntry;
  patchHash: string;
  disabledReason: string | null;
  reasonId: string;
  onDone: (message: string) => void;
}) {
  const trpc = useTRPC();
  const [open, setOpen] = useState(false);
  const [comment, setComment] = useState("");
  const approve = useMutation(
    trpc.approval.approve.mutationOptions({
      onSuccess: (res) => {
        setOpen(false);
        setComment("");
        onDone(
          res.queued
            ? `Q${res.entryId} approved (${res.approvals} of ${res.needed}): it goes back to the merge queue to land.`
            : `Q${res.entryId} approved (${res.approvals} of ${res.needed}): it waits for more approvals.`,
        );
      },
    }),
  );
  const { tier } = item;
  const needed = Math.max(tier.approvals, 1);
  const lands = item.approvedBy.length + 1 >= needed;
  const commentMissing = tier.requireComment && !comment.trim();
  return (
    <DecisionDialog
      open={open}
      onOpenChange={setOpen}
      onClosed={() => approve.reset()}
      trigger={
        <button
          type="button"
          className="rounded bg-green-700 px-3 py-1 text-sm text-white disabled:cursor-not-allowed disabled:bg-slate-300 disabled:text-slate-600"
          disabled={disabledReason !== null}
          aria-describedby={disabledReason ? reasonId : undefined}
        >
          Approve…
        </button>
      }
      title={`Approve Q${item.entryId}?`}
      description={
        <>
          You approve C{item.change.id}'s exact patch (sha256 {patchHash.slice(0, 12)}).{" "}
          {lands
            ? `That makes ${item.approvedBy.length + 1} of ${needed}: it goes back to the merge queue, is rebased onto ${item.targetBranch}, its checks run again if ${item.targetBranch} has moved, and then it lands.`
            : `That makes ${item.approvedBy.length + 1} of ${needed}: it keeps waiting for more approvals.`}{" "}
          A newer patch for this task would void your approval.
        </>
      }
      onSubmit={() => {
        if (commentMissing) return;
        approve.mutate({ entryId: item.entryId, patchHash, comment: comment.trim() || undefined });
      }}
      error={approve.error}
      submit={{
        label: `Approve Q${item.entryId}`,
        className:
          "rounded bg-green-700 px-3 py-1 text-white disabled:bg-slate-300 disabled:text-slate-600",
        disabled: approve.isPending || commentMissing,
      }}
      testId="approve"
    >
      <Words
        name="comment"
        label="Comment"
        aside={tier.requireComment ? "required: say why it is safe" : "optional"}
        required={tier.requireComment}
        value={comment}
        onChange={setComment}
      />
    </DecisionDialog>
  );
}
