"use client";
import { useMutation } from "@tanstack/react-query";
import { useId, useState } from "react";
import { requestRef } from "@/schemas/ids";
import { ConfirmDialog } from "../dialog";
import { notify } from "../toast";
import { useTRPC } from "../trpc";

const MAX = 500;

/** Close a failed request, behind a dialog that asks why; the reason stays on the page. */
export function CloseRequest({ id, onDone }: { id: number; onDone: () => void }) {
  const trpc = useTRPC();
  const [reason, setReason] = useState("");
  const [local, setLocal] = useState<string | undefined>();
  const field = useId();
  const close = useMutation(
    trpc.request.close.mutationOptions({
      onSuccess: () => {
        notify.success(`${requestRef(id)} closed.`);
        onDone();
      },
    }),
  );
  const confirm = () => {
    if (!reason.trim()) {
      setLocal("Reason: say why you close it, in a sentence.");
      return;
    }
    setLocal(undefined);
    return close.mutateAsync({ id, reason });
  };
  return (
    <ConfirmDialog
      trigger={
        <button
          type="button"
          className="rounded border border-slate-400 bg-white px-3 py-1"
          data-testid="close-request"
        >
          Close with a reason…
        </button>
      }
      title={`Close ${requestRef(id)}?`}
      description="It ends here, closed, with your reason on its page. What already landed stays; its changes left in quarantine are set aside. It cannot be reopened: file a new request instead."
      confirm="Close it"
      pendingLabel="Closing…"
      onConfirm={confirm}
      pending={close.isPending}
      error={local ?? close.error?.message}
      testId="close-dialog"
    >
      <div className="space-y-1">
        <label htmlFor={field} className="block font-medium">
          Reason
        </label>
        <textarea
          id={field}
          name="reason"
          rows={3}
          maxLength={MAX}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          aria-describedby={`${field}-hint`}
          className="w-full rounded border p-2"
          data-testid="close-reason"
        />
        <p id={`${field}-hint`} className="text-slate-600">
          Why it is closed, for whoever reads the request later (up to {MAX} characters).
        </p>
      </div>
    </ConfirmDialog>
  );
}

/** Who closed the request, and why. */
export function Closed({ closed }: { closed: { by: string; reason: string } }) {
  return (
    <div className="rounded border border-slate-300 bg-slate-50 p-3 text-sm" data-testid="closed">
      <p className="font-medium">Closed by {closed.by}:</p>
      <p className="whitespace-pre-wrap" data-testid="closed-reason">
        {closed.reason}
      </p>
    </div>
  );
}
