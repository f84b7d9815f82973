"use client";
import { useMutation } from "@tanstack/react-query";
import { requestRef } from "@/schemas/ids";
import { ConfirmDialog } from "../dialog";
import { notify } from "../toast";
import { useTRPC } from "../trpc";

/** Cancel, behind a dialog that says what will happen. */
export function CancelRequest({ id, onDone }: { id: number; onDone: () => void }) {
  const trpc = useTRPC();
  const cancel = useMutation(
    trpc.request.cancel.mutationOptions({
      onSuccess: () => {
        notify.success(`${requestRef(id)} cancelled.`);
        onDone();
      },
    }),
  );
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
      pendingLabel="Cancelling…"
      onConfirm={() => cancel.mutateAsync({ id })}
      pending={cancel.isPending}
      error={cancel.error?.message}
      danger
      testId="cancel-dialog"
    />
  );
}
