"use client";
import { useMutation } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { ConfirmDialog } from "./dialog";
import { notify } from "./toast";
import { useTRPC } from "./trpc";

type Revert = {
  entryId: number;
  summary: string;
  /** What it changed; without it the dialog links to the entry's page, which lists it. */
  files?: { path: string; added: number; removed: number }[];
};

/**
 * Roll back a merged change, after a confirmation that says what will be reverted: its revert is
 * queued through the merge queue (it is not applied here), and the page links to it.
 */
export function RollbackButton({ entry, onDone }: { entry: Revert; onDone?: () => void }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const rollback = useMutation(
    trpc.queue.rollback.mutationOptions({
      onSuccess: (res) => {
        setOpen(false);
        // The toast outlives the refresh that may take this button off the page.
        const id = (res as { entryId?: number } | undefined)?.entryId;
        notify.success(
          id ? `Revert of Q${entry.entryId} queued as Q${id}.` : `Q${entry.entryId} rolled back.`,
        );
        router.refresh();
        onDone?.();
      },
    }),
  );
  const queued = rollback.data as { entryId?: number } | undefined;
  return (
    <div className="space-y-2">
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        trigger={
          <button
            type="button"
            className="rounded border border-red-300 px-3 py-1 text-red-800 hover:bg-red-50"
          >
            Roll back…
          </button>
        }
        title={`Roll back Q${entry.entryId}?`}
        description={`A revert of “${entry.summary}” is queued and lands through the merge queue like any change (rebased, checked). Its request becomes rolled back.${entry.files ? " It reverts:" : ""}`}
        confirm="Roll back"
        pendingLabel="Queueing the revert…"
        onConfirm={() => rollback.mutate({ id: entry.entryId })}
        pending={rollback.isPending}
        error={rollback.error?.message}
        danger
        testId="rollback-dialog"
      >
        {entry.files ? (
          <ul className="font-mono text-xs">
            {entry.files.map((f) => (
              <li key={f.path}>
                {f.path} (+{f.added} −{f.removed} undone)
              </li>
            ))}
          </ul>
        ) : (
          <p>
            <Link className="underline" href={`/queue/${entry.entryId}`}>
              Q{entry.entryId}'s page
            </Link>{" "}
            shows what it changed.
          </p>
        )}
      </ConfirmDialog>
      {queued?.entryId && (
        <p role="status" className="text-green-800">
          Revert queued as{" "}
          <Link className="underline" href={`/queue/${queued.entryId}`}>
            Q{queued.entryId}
          </Link>
          .
        </p>
      )}
    </div>
  );
}
