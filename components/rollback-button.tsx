"use client";
import * as Dialog from "@radix-ui/react-dialog";
import { useMutation } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
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
      onSuccess: () => {
        setOpen(false);
        router.refresh();
        onDone?.();
      },
    }),
  );
  const queued = rollback.data as { entryId?: number } | undefined;
  return (
    <div className="space-y-2">
      <Dialog.Root open={open} onOpenChange={setOpen}>
        <Dialog.Trigger asChild>
          <button
            type="button"
            className="rounded border border-red-300 px-3 py-1 text-red-800 hover:bg-red-50"
          >
            Roll back…
          </button>
        </Dialog.Trigger>
        <Dialog.Portal>
          <Dialog.Overlay className="fixed inset-0 z-40 bg-slate-900/40" />
          <Dialog.Content
            className="fixed top-1/2 left-1/2 z-50 w-[min(36rem,calc(100vw-2rem))] -translate-x-1/2 -translate-y-1/2 space-y-3 rounded-lg bg-white p-5 text-sm shadow-xl"
            data-testid="rollback-dialog"
          >
            <Dialog.Title className="text-lg font-semibold">
              Roll back Q{entry.entryId}?
            </Dialog.Title>
            <Dialog.Description>
              A revert of “{entry.summary}” is queued and lands through the merge queue like any
              change (rebased, checked). Its request becomes rolled back.
              {entry.files ? " It reverts:" : ""}
            </Dialog.Description>
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
            {rollback.error && (
              <p role="alert" className="text-red-700">
                {rollback.error.message}
              </p>
            )}
            <div className="flex justify-end gap-2">
              <Dialog.Close asChild>
                <button type="button" className="rounded border px-3 py-1">
                  Keep it
                </button>
              </Dialog.Close>
              <button
                type="button"
                className="rounded bg-red-700 px-3 py-1 text-white disabled:opacity-50"
                disabled={rollback.isPending}
                onClick={() => rollback.mutate({ id: entry.entryId })}
              >
                {rollback.isPending ? "Queueing the revert…" : "Roll back"}
              </button>
            </div>
          </Dialog.Content>
        </Dialog.Portal>
      </Dialog.Root>
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
