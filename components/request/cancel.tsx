"use client";
import { useMutation } from "@tanstack/react-query";
import { requestRef } from "@/schemas/ids";
import { ConfirmDialog } from "../dialog";
import { notify } from "../toast";
import { useTRPC } from "../trpc";

/**
 * Cancel, behind a dialog that says what will happen; a toast says it was done. The toast is
 * raised once the dialog has closed, from the dialog's own promise rather than the mutation's
 * callbacks: the live page may already show "Cancelled" and unmount this button first.
 */
export function CancelRequest({ id, onDone }: { id: number; onDone: () => void }) {
  const trpc = useTRPC();
  const cancel = useMutation(trpc.request.cancel.mutationOptions());
  return (
    <ConfirmDialog
      trigger={
        <button
          type="button"
          className="rounded border border-red-300 px-3 py-1 text-sm text-red-800"
          data-testid="cancel-request"
        >
          Cancel request…
        </button>
      }
      title={`Cancel ${requestRef(id)}?`}
      description="Its tasks that have not started are dropped and its changes still waiting in the queue are rejected. What has already landed stays. This cannot be undone."
      confirm="Cancel the request"
      dismiss="Keep the request"
      pendingLabel="Cancelling…"
      onConfirm={() => cancel.mutateAsync({ id })}
      onDone={() => {
        notify.success(
          `${requestRef(id)} cancelled.`,
          "Tasks not started are dropped; what already landed stays.",
        );
        onDone();
      }}
      pending={cancel.isPending}
      error={cancel.error?.message}
      danger
      testId="cancel-dialog"
    />
  );
}
