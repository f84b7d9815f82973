"use client";
import { useMutation } from "@tanstack/react-query";
import Link from "next/link";
import { entryRef } from "@/schemas/ids";
import { stateLabel } from "@/schemas/labels";
import { Age } from "../age";
import { ConfirmDialog } from "../dialog";
import { EntryLink } from "../ids";
import { guidance } from "../queue-guidance";
import { StatusBadge } from "../status-badge";
import { useTRPC } from "../trpc";
import { ChangeRefs } from "./entry-cells";
import type { Quarantined } from "./types";

export type Outcome = { text: string; ok: boolean };

/** Entries that stopped and wait for an operator, with the outcome of the last retry or drop. */
export function QuarantinedSection({
  entries,
  canOperate,
  outcome,
  onOutcome,
}: {
  entries: Quarantined[];
  canOperate: boolean;
  outcome: Outcome | null;
  onOutcome: (o: Outcome) => void;
}) {
  return (
    <section aria-labelledby="quarantined-heading" data-testid="queue-quarantined">
      <h2 id="quarantined-heading" className="mb-2 font-semibold text-red-800">
        Quarantined ({entries.length})
      </h2>
      {outcome && (
        <p
          role="status"
          className={`mb-2 text-sm ${outcome.ok ? "text-green-800" : "text-red-700"}`}
          data-testid="queue-outcome"
        >
          {outcome.text}
        </p>
      )}
      {entries.length === 0 ? (
        <p className="text-sm text-slate-500" data-testid="queue-quarantined-empty">
          Nothing quarantined.
        </p>
      ) : (
        <ul className="space-y-3">
          {entries.map((e) => (
            <QuarantinedEntry key={e.id} e={e} canOperate={canOperate} onOutcome={onOutcome} />
          ))}
        </ul>
      )}
    </section>
  );
}

/** One quarantined entry: why it stopped, what to do about it, and (for operators) retry or drop. */
function QuarantinedEntry({
  e,
  canOperate,
  onOutcome,
}: {
  e: Quarantined;
  canOperate: boolean;
  onOutcome: (o: Outcome) => void;
}) {
  return (
    <li
      id={`entry-${e.id}`}
      className="rounded border border-red-200 bg-red-50 p-3 text-sm"
      data-testid="quarantined-entry"
    >
      <div className="flex flex-wrap items-center gap-x-2 gap-y-1 font-medium">
        <EntryLink id={e.id} />
        <StatusBadge status={e.state} />
        <ChangeRefs e={e} />
      </div>
      <div className="mt-1 text-xs text-slate-600">
        {e.repo} → {e.targetBranch} · {e.attempts} of {e.maxAttempts} attempts used ·{" "}
        <Age at={e.updatedAt} /> ago
      </div>
      <div className="mt-1 break-words">
        <strong>Why:</strong> {e.lastError ? stateLabel(e.lastError.kind) : "no error recorded"}
        {e.lastError?.message ? `: ${e.lastError.message}` : ""}
      </div>
      {e.lastError?.paths.length ? (
        <div className="break-all">
          <strong>Paths:</strong> <code>{e.lastError.paths.join(", ")}</code>
        </div>
      ) : null}
      <div className="mt-1">{guidance(e.lastError, e.targetBranch)}</div>
      {e.lastError?.outputTail && (
        <details className="mt-2" open>
          <summary className="cursor-pointer">Check output</summary>
          <pre
            className="mt-1 max-h-40 overflow-auto rounded bg-white p-2 text-xs"
            data-testid="quarantined-output"
          >
            {e.lastError.outputTail}
          </pre>
        </details>
      )}
      <p className="mt-1">
        <Link className="underline" href={`/queue/${e.id}`}>
          Every attempt of {entryRef(e.id)}, with its output
        </Link>
      </p>
      {canOperate && <QuarantineActions e={e} onOutcome={onOutcome} />}
    </li>
  );
}

/** Retry (attempts reset) or drop, each behind a dialog that says what follows. */
function QuarantineActions({ e, onOutcome }: { e: Quarantined; onOutcome: (o: Outcome) => void }) {
  const trpc = useTRPC();
  const ref = entryRef(e.id);
  const retry = useMutation(
    trpc.queue.retry.mutationOptions({
      onSuccess: () =>
        onOutcome({
          ok: true,
          text: `${ref} is queued again with fresh attempts; a queue thread picks it up next.`,
        }),
    }),
  );
  const drop = useMutation(
    trpc.queue.drop.mutationOptions({
      onSuccess: () => onOutcome({ ok: true, text: `${ref} was dropped: it will not land.` }),
    }),
  );
  return (
    <div className="mt-2 flex flex-wrap gap-2">
      <ConfirmDialog
        trigger={
          <button type="button" className="rounded bg-slate-900 px-3 py-1 text-white">
            Retry…
          </button>
        }
        title={`Retry ${ref}?`}
        description={`${ref} goes back to the queue with its attempts reset (0 of ${e.maxAttempts}). A queue thread applies it to the current ${e.targetBranch} and runs its checks again; if they fail the same way it comes back here.`}
        confirm="Retry"
        pendingLabel="Retrying…"
        onConfirm={() => retry.mutateAsync({ id: e.id })}
        pending={retry.isPending}
        error={retry.error?.message}
        testId="retry-dialog"
      />
      <ConfirmDialog
        trigger={
          <button type="button" className="rounded border border-red-300 bg-white px-3 py-1">
            Drop…
          </button>
        }
        title={`Drop ${ref}?`}
        description={`${ref} is rejected and will never land on ${e.targetBranch}. Its task stays failed${e.requestId !== null ? `; R${e.requestId} can be run again from its page` : ""}. This cannot be undone.`}
        confirm="Drop it"
        pendingLabel="Dropping…"
        danger
        onConfirm={() => drop.mutateAsync({ id: e.id })}
        pending={drop.isPending}
        error={drop.error?.message}
        testId="drop-dialog"
      />
    </div>
  );
}
