"use client";
import { useMutation } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { reasonText } from "@/schemas/labels";
import { ConfirmDialog } from "./dialog";
import { EntryLink, TaskLink } from "./ids";
import { notify } from "./toast";
import { useTRPC } from "./trpc";

export type Failure = {
  taskId: string;
  title: string;
  reason: string | null;
  entryId: number | null;
  message: string | null;
  output: string | null;
};

/**
 * A failed request's way out, for its requester: what failed with the checks' output (which
 * she may not see on /queue), and what she can do — run it again once the cause is fixed, edit
 * it and plan it again, close it with a reason (those two are on the request view below), or
 * file a new one like it.
 */
export function RequestRecovery({
  requestId,
  failures,
  canRerun,
}: {
  requestId: number;
  failures: Failure[];
  canRerun: boolean;
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const rerun = useMutation(
    trpc.request.rerun.mutationOptions({
      onSuccess: (res) => {
        setOpen(false);
        notify.success(
          `R${requestId} runs again: ${res.tasks.map((t) => `R${t}`).join(", ")} dispatched anew.`,
        );
        router.refresh();
      },
    }),
  );
  return (
    <section
      aria-labelledby="recovery-heading"
      className="space-y-3 rounded border border-red-200 bg-red-50 p-4 text-sm"
      data-testid="request-recovery"
    >
      <h2 id="recovery-heading" className="text-lg font-semibold">
        What went wrong, and what you can do
      </h2>
      <ul className="space-y-3">
        {failures.map((f) => (
          <li key={f.taskId}>
            <p>
              Task <TaskLink id={f.taskId} /> {f.title}:{" "}
              {reasonText(f.message ?? f.reason ?? "it failed")}
              {f.entryId ? (
                <>
                  {" "}
                  (
                  <EntryLink id={f.entryId} />)
                </>
              ) : null}
            </p>
            {f.output && (
              <pre
                className="mt-1 max-h-64 overflow-auto whitespace-pre-wrap rounded bg-slate-900 p-2 text-xs text-slate-100"
                data-testid="failure-output"
              >
                {f.output}
              </pre>
            )}
          </li>
        ))}
      </ul>
      <div className="flex flex-wrap items-center gap-3">
        {canRerun && (
          <ConfirmDialog
            open={open}
            onOpenChange={setOpen}
            trigger={
              <button type="button" className="rounded bg-slate-900 px-3 py-1 text-white">
                Run it again…
              </button>
            }
            title={`Run R${requestId} again?`}
            description="Its failed tasks are dispatched again and make new changes, which go through the checks and the queue like the first ones. Do it once the cause is fixed (a check's output above says what failed)."
            confirm="Run it again"
            pendingLabel="Sending it back…"
            onConfirm={() => rerun.mutate({ id: requestId })}
            pending={rerun.isPending}
            error={rerun.error?.message}
          />
        )}
        <Link className="underline" href={`/requests/new?from=${requestId}`}>
          File a new request like it
        </Link>
      </div>
    </section>
  );
}
