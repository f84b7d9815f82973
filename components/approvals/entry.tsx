"use client";
import { useMutation } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import { useId, useState } from "react";
import { Age } from "../age";
import { useTRPC } from "../trpc";
import { ApproveDialog } from "./approve-dialog";
import { ApprovalFacts } from "./facts";
import { RejectDialog } from "./reject-dialog";
import { RiskBadge } from "./risk";
import type { WaitingEntry } from "./types";

type Shown = { patch: string; patchHash: string };

// The viewer (react-diff-view and refractor's grammars) loads when a reviewer opens a diff.
const DiffViewer = dynamic(() => import("../diff-viewer").then((m) => m.DiffViewer), {
  ssr: false,
  loading: () => <p className="text-sm text-slate-500">Loading the diff viewer…</p>,
});

/** One waiting change: its facts, the whole diff on demand, and approve or reject. */
export function ApprovalEntry({
  item,
  onDecided,
  onChanged,
}: {
  item: WaitingEntry;
  onDecided: (message: string) => void;
  onChanged: () => void;
}) {
  const trpc = useTRPC();
  const headingId = useId();
  const reasonId = useId();
  const [shown, setShown] = useState<Shown | null>(null);
  const diff = useMutation(
    trpc.approval.diff.mutationOptions({
      onSuccess: (res) => {
        setShown({ patch: res.patch, patchHash: res.patchHash });
        onChanged();
      },
    }),
  );
  const { change, tier } = item;
  const stale = shown !== null && shown.patchHash !== change.patchHash;
  const needsDiff = tier.requireDiff && !item.diffShown;
  const blocked =
    item.whyNot ??
    (needsDiff
      ? "Open the full diff first: this tier approves only what the server has shown you whole."
      : null);
  return (
    <article
      id={`entry-${item.entryId}`}
      className="scroll-mt-4 rounded border border-slate-200 bg-white p-4 target:ring-2 target:ring-sky-400"
      aria-labelledby={headingId}
      data-testid="approval-entry"
      data-entry={item.entryId}
    >
      <header className="flex flex-wrap items-center gap-2">
        <h2 id={headingId} className="font-semibold">
          Q{item.entryId} · C{change.id}: {change.summary.split("\n")[0]}
        </h2>
        <RiskBadge risk={change.risk} />
        <span className="ml-auto text-xs text-slate-500">
          waiting <Age at={item.waitingSince} />
        </span>
      </header>

      <ApprovalFacts item={item} />

      {item.voided.length > 0 && <Voided voided={item.voided} />}

      <div className="mt-4 flex flex-wrap items-center gap-2">
        <button
          type="button"
          className="rounded border border-slate-400 bg-white px-3 py-1 text-sm"
          disabled={diff.isPending}
          onClick={() => diff.mutate({ entryId: item.entryId })}
        >
          {shown && !stale ? "Reload the full diff" : "Open the full diff"}
        </button>
        <ApproveDialog
          item={item}
          patchHash={shown?.patchHash ?? change.patchHash}
          disabledReason={blocked}
          reasonId={reasonId}
          onDone={onDecided}
        />
        <RejectDialog item={item} onDone={onDecided} disabled={item.whyNot !== null} />
        {item.diffShown && (
          <span className="text-xs text-slate-500" data-testid="diff-shown">
            the server has shown you this patch whole
          </span>
        )}
      </div>
      {blocked && (
        <p id={reasonId} className="mt-2 text-sm text-amber-800" data-testid="approval-why-not">
          {blocked}
        </p>
      )}
      {diff.error && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {diff.error.message}
        </p>
      )}
      {stale && (
        <p role="alert" className="mt-2 text-sm text-amber-800" data-testid="diff-stale">
          A new patch replaced the one you opened: open the diff again and review it.
        </p>
      )}
      {shown && (
        <div className="mt-4">
          <DiffViewer patch={shown.patch} />
        </div>
      )}
    </article>
  );
}

/** Approvals a newer patch voided, each with why. */
function Voided({ voided }: { voided: WaitingEntry["voided"] }) {
  return (
    <ul
      className="mt-3 space-y-1 rounded border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900"
      data-testid="approval-voided"
    >
      {voided.map((v) => (
        <li key={`${v.reviewer}-${v.changeRequestId}`}>
          {v.reviewer}'s approval of C{v.changeRequestId} was voided: {v.voidedReason}
        </li>
      ))}
    </ul>
  );
}
