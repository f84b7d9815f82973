"use client";
import { useQuery } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import Link from "next/link";
import { useId, useState } from "react";
import type { RequestDetail } from "@/server/views/request-detail";
import { RiskBadge } from "../approvals/risk";
import { ChangeLabel, EntryLink, TaskLink } from "../ids";
import { useTRPC } from "../trpc";

type Change = RequestDetail["changes"][number];

// The viewer loads when someone opens a diff, as on /approvals.
const DiffViewer = dynamic(() => import("../diff-viewer").then((m) => m.DiffViewer), {
  ssr: false,
  loading: () => <p className="text-sm text-slate-500">Loading the diff viewer…</p>,
});

/**
 * The request's changes that wait for a reviewer, for whoever reads the request: what waits,
 * why, and its diff read-only. A reviewer who may decide gets a link to /approvals instead of
 * deciding here.
 */
export function WaitingReview({
  changes,
  canReview,
}: {
  changes: Change[];
  /** This viewer may approve these changes (a reviewer who did not file the request). */
  canReview: boolean;
}) {
  const waiting = changes.filter((c) => c.state === "awaiting_approval");
  const headingId = useId();
  if (waiting.length === 0) return null;
  return (
    <section
      aria-labelledby={headingId}
      className="rounded border border-amber-300 bg-amber-50 p-4"
      data-testid="waiting-review"
    >
      <h2 id={headingId} className="font-semibold">
        Waiting for a reviewer
      </h2>
      <p className="mt-1 text-sm text-slate-700">
        {waiting.length === 1 ? "This change passed" : "These changes passed"} the checks and{" "}
        {waiting.length === 1 ? "waits" : "wait"} for someone with the reviewer role to approve{" "}
        {waiting.length === 1 ? "it" : "them"} before{" "}
        {waiting.length === 1 ? "it lands" : "they land"}.{" "}
        {canReview ? (
          <Link href="/approvals" className="underline">
            Decide on /approvals
          </Link>
        ) : (
          "You can read each diff here; a reviewer other than the requester decides."
        )}
      </p>
      <ul className="mt-3 space-y-3">
        {waiting.map((c) => (
          <WaitingChange key={c.id} change={c} canReview={canReview} />
        ))}
      </ul>
    </section>
  );
}

function WaitingChange({ change, canReview }: { change: Change; canReview: boolean }) {
  const trpc = useTRPC();
  const [open, setOpen] = useState(false);
  const diff = useQuery(
    trpc.request.changeDiff.queryOptions({ changeId: change.id }, { enabled: open }),
  );
  const panelId = useId();
  return (
    <li
      id={`waiting-C${change.id}`}
      className="scroll-mt-4 rounded bg-white p-3 target:ring-2 target:ring-sky-400"
      data-testid="waiting-change"
      data-change={change.id}
    >
      <div className="flex flex-wrap items-center gap-2 text-sm">
        <ChangeLabel id={change.id} /> <EntryLink id={change.entryId} />
        {change.taskId && (
          <>
            for <TaskLink id={change.taskId} />
          </>
        )}
        <RiskBadge risk={change.risk} />
        <span className="min-w-0 [overflow-wrap:anywhere]">{change.summary.split("\n")[0]}</span>
      </div>
      <div className="mt-2 flex flex-wrap gap-3">
        <button
          type="button"
          className="rounded border border-slate-400 px-3 py-1 text-sm hover:bg-slate-100"
          aria-expanded={open}
          aria-controls={panelId}
          onClick={() => setOpen((v) => !v)}
          data-testid="show-diff"
        >
          {open ? "Hide the diff" : "Show the diff (read-only)"}
        </button>
        {canReview && (
          <Link
            href={`/approvals#entry-${change.entryId}`}
            className="self-center text-sm underline"
          >
            Review on /approvals
          </Link>
        )}
      </div>
      <div id={panelId} className="mt-3" hidden={!open}>
        {open &&
          (diff.error ? (
            <p role="alert" className="text-sm text-red-800">
              The diff could not be loaded: {diff.error.message}. Reload the page to try again.
            </p>
          ) : diff.data ? (
            <DiffViewer patch={diff.data.patch} />
          ) : (
            <p className="text-sm text-slate-500">Loading the diff…</p>
          ))}
      </div>
    </li>
  );
}
