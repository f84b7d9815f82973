"use client";
import * as Dialog from "@radix-ui/react-dialog";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useSubscription } from "@trpc/tanstack-react-query";
import dynamic from "next/dynamic";
import { type FormEvent, useCallback, useId, useRef, useState } from "react";
import type { AppRouter } from "@/server/trpc/root";
import { Age } from "./age";
import { DialogActions, DialogError, dialogClasses } from "./dialog";
import { RequestLink, RunLink } from "./ids";
import { LiveIndicator } from "./live-indicator";
import { useTRPC } from "./trpc";

type Waiting = inferRouterOutputs<AppRouter>["approval"]["list"];
export type WaitingEntry = Waiting[number];
type Tier = WaitingEntry["tier"];
type Shown = { patch: string; patchHash: string };

// The viewer (react-diff-view and refractor's grammars) loads when a reviewer opens a diff.
const DiffViewer = dynamic(() => import("./diff-viewer").then((m) => m.DiffViewer), {
  ssr: false,
  loading: () => <p className="text-sm text-slate-500">Loading the diff viewer…</p>,
});

const riskColours: Record<string, string> = {
  low: "bg-green-100 text-green-800",
  medium: "bg-amber-100 text-amber-900",
  high: "bg-red-100 text-red-800",
};

export function RiskBadge({ risk }: { risk: string }) {
  return (
    <span
      className={`rounded px-2 py-0.5 text-xs font-medium ${riskColours[risk] ?? "bg-slate-100"}`}
      data-testid="approval-risk"
    >
      {risk} risk
    </span>
  );
}

/** What a tier asks for, as a sentence. */
export function tierInWords(risk: string, tier: Tier): string {
  if (tier.approvals === 0) return `A ${risk}-risk change lands by itself once its checks pass.`;
  const count = tier.approvals === 1 ? "one approval" : `${tier.approvals} approvals`;
  const extra = [
    tier.requireDiff && "from a reviewer who opened the whole diff",
    tier.requireComment && "with a comment saying why it is safe",
  ].filter(Boolean);
  return `A ${risk}-risk change needs ${count} by a reviewer, operator or admin who did not file its request${extra.length ? `, ${extra.join(", ")}` : ""}.`;
}

const short = (sha: string) => sha.slice(0, 8);

/**
 * The changes waiting for a reviewer, oldest first. Queue transitions stream in (queue.live),
 * each one refreshing the list and the header's count; a reviewer opens the whole diff (the
 * server records that it was shown), then approves or rejects through a confirmation dialog.
 */
export function ApprovalsView({ initial, cursor }: { initial: Waiting; cursor: number }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { data } = useQuery(
    // Polling is the backstop for what logs no queue event (an approval short of the count).
    trpc.approval.list.queryOptions(undefined, { initialData: initial, refetchInterval: 10_000 }),
  );
  const [notice, setNotice] = useState("");
  const refresh = useCallback(() => {
    void queryClient.invalidateQueries({ queryKey: trpc.approval.list.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.approval.count.queryKey() });
  }, [queryClient, trpc]);
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const live = useSubscription(
    trpc.queue.live.subscriptionOptions(
      { afterId: cursor },
      {
        onData: () => {
          if (pending.current) return;
          pending.current = setTimeout(() => {
            pending.current = null;
            refresh();
          }, 250);
        },
      },
    ),
  );
  const entries = data ?? initial;
  return (
    <div className="space-y-4">
      <LiveIndicator status={live.status} testId="approvals-live" />
      {notice && (
        <p
          role="status"
          className="rounded bg-green-50 p-3 text-sm text-green-800"
          data-testid="approval-notice"
        >
          {notice}
        </p>
      )}
      {entries.length === 0 ? (
        <p
          className="rounded bg-white p-6 text-center text-sm text-slate-500"
          data-testid="no-approvals"
        >
          Nothing waits for approval. Changes whose risk needs a reviewer appear here once their
          checks pass.
        </p>
      ) : (
        <ol className="space-y-4" data-testid="approval-list">
          {entries.map((e) => (
            <li key={e.entryId}>
              <ApprovalEntry
                item={e}
                onDecided={(message) => {
                  setNotice(message);
                  refresh();
                }}
                onChanged={refresh}
              />
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function ApprovalEntry({
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
  const files = item.task?.files ?? [];
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

      <dl className="mt-3 grid grid-cols-[9rem_1fr] gap-x-3 gap-y-1 text-sm">
        <dt className="text-slate-500">Repository</dt>
        <dd>
          {item.repo} → <code>{item.targetBranch}</code>
        </dd>
        <dt className="text-slate-500">Request</dt>
        <dd>
          {item.request ? <RequestLink id={item.request.id} title={item.request.title} /> : "—"}
        </dd>
        <dt className="text-slate-500">Task</dt>
        <dd>
          {item.task ? (
            <>
              <code className="text-xs">{item.task.id}</code> {item.task.title}
            </>
          ) : (
            "—"
          )}
        </dd>
        <dt className="text-slate-500">Area</dt>
        <dd>{item.task?.area ?? "—"}</dd>
        <dt className="text-slate-500">Files</dt>
        <dd className="font-mono text-xs" data-testid="approval-files">
          {files.length ? files.join(", ") : "—"}
        </dd>
        <dt className="text-slate-500">Checks</dt>
        <dd data-testid="approval-checks">
          {change.checks.length === 0 ? (
            change.runId !== null ? (
              `none in the queue: its agent run (#${change.runId}) ran the task's checks before submitting it`
            ) : (
              "none named for this change"
            )
          ) : (
            <>
              <ul className="flex flex-wrap gap-2">
                {change.checks.map((c) => (
                  <li key={c} className="rounded bg-green-50 px-1.5 text-green-800">
                    ✓ <span className="font-mono text-xs">{c}</span> passed
                  </li>
                ))}
              </ul>
              {item.checkedOn && (
                <span className="text-xs text-slate-600">
                  checks passed on <code>{short(item.checkedOn)}</code>; if {item.targetBranch} has
                  moved when it is approved, they run again on the new tip
                </span>
              )}
            </>
          )}
        </dd>
        <dt className="text-slate-500">Approvals</dt>
        <dd data-testid="approval-progress">
          {item.approvedBy.length} of {tier.approvals}
          {item.approvedBy.length > 0 && (
            <ul className="text-xs text-slate-600">
              {item.approvedBy.map((a) => (
                <li key={a.reviewer}>
                  {a.reviewer}
                  {a.comment ? `: “${a.comment}”` : ""}
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt className="text-slate-500">Needs</dt>
        <dd data-testid="approval-tier">{tierInWords(change.risk, tier)}</dd>
        <dt className="text-slate-500">Patch</dt>
        <dd className="font-mono text-xs" title={change.patchHash}>
          sha256 {change.patchHash.slice(0, 12)} · {change.patchBytes.toLocaleString("en")} bytes
          {change.runId !== null && (
            <>
              {" · "}
              <RunLink id={change.runId} />
            </>
          )}
        </dd>
      </dl>

      {item.voided.length > 0 && (
        <ul
          className="mt-3 space-y-1 rounded border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900"
          data-testid="approval-voided"
        >
          {item.voided.map((v) => (
            <li key={`${v.reviewer}-${v.changeRequestId}`}>
              {v.reviewer}'s approval of C{v.changeRequestId} was voided: {v.voidedReason}
            </li>
          ))}
        </ul>
      )}

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

function errorText(err: { message: string; data?: unknown } | null): string {
  if (!err) return "";
  const issues = (err.data as { issues?: { path: string; message: string }[] | null } | undefined)
    ?.issues;
  return issues?.length ? issues.map((i) => `${i.path}: ${i.message}`).join("; ") : err.message;
}

function ApproveDialog({
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
  function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (commentMissing) return;
    approve.mutate({ entryId: item.entryId, patchHash, comment: comment.trim() || undefined });
  }
  return (
    <Dialog.Root
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (!next) approve.reset();
      }}
    >
      <Dialog.Trigger asChild>
        <button
          type="button"
          className="rounded bg-green-700 px-3 py-1 text-sm text-white disabled:cursor-not-allowed disabled:bg-slate-300 disabled:text-slate-600"
          disabled={disabledReason !== null}
          aria-describedby={disabledReason ? reasonId : undefined}
        >
          Approve…
        </button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className={dialogClasses.overlay} />
        <Dialog.Content className={dialogClasses.content} data-testid="approve-dialog">
          <Dialog.Title className="text-lg font-semibold">Approve Q{item.entryId}?</Dialog.Title>
          <Dialog.Description className="text-slate-700">
            You approve C{item.change.id}'s exact patch (sha256 {patchHash.slice(0, 12)}).{" "}
            {lands
              ? `That makes ${item.approvedBy.length + 1} of ${needed}: it goes back to the merge queue, is rebased onto ${item.targetBranch}, its checks run again if ${item.targetBranch} has moved, and then it lands.`
              : `That makes ${item.approvedBy.length + 1} of ${needed}: it keeps waiting for more approvals.`}{" "}
            A newer patch for this task would void your approval.
          </Dialog.Description>
          <form onSubmit={onSubmit} className="space-y-3">
            <label className="block">
              Comment{" "}
              {tier.requireComment ? (
                <span className="text-slate-500">(required: say why it is safe)</span>
              ) : (
                <span className="text-slate-500">(optional)</span>
              )}
              <textarea
                name="comment"
                rows={3}
                maxLength={4000}
                required={tier.requireComment}
                value={comment}
                onChange={(e) => setComment(e.target.value)}
                className="mt-1 w-full rounded border px-2 py-1"
              />
            </label>
            <DialogError message={errorText(approve.error)} testId="approve-error" />
            <DialogActions>
              <button
                type="submit"
                className="rounded bg-green-700 px-3 py-1 text-white disabled:bg-slate-300 disabled:text-slate-600"
                disabled={approve.isPending || commentMissing}
              >
                Approve Q{item.entryId}
              </button>
            </DialogActions>
          </form>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

function RejectDialog({
  item,
  disabled,
  onDone,
}: {
  item: WaitingEntry;
  disabled: boolean;
  onDone: (message: string) => void;
}) {
  const trpc = useTRPC();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [next, setNext] = useState<"redispatch" | "close">("redispatch");
  const reject = useMutation(
    trpc.approval.reject.mutationOptions({
      onSuccess: (res) => {
        setOpen(false);
        setReason("");
        onDone(
          res.next === "redispatch"
            ? `Q${res.entryId} rejected: its task goes back to an agent with your reason.`
            : `Q${res.entryId} rejected: its task is closed.`,
        );
      },
    }),
  );
  const task = item.task ? `task ${item.task.id}` : "its task";
  function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (!reason.trim()) return;
    reject.mutate({ entryId: item.entryId, reason: reason.trim(), next });
  }
  return (
    <Dialog.Root
      open={open}
      onOpenChange={(o) => {
        setOpen(o);
        if (!o) reject.reset();
      }}
    >
      <Dialog.Trigger asChild>
        <button
          type="button"
          className="rounded border border-red-300 px-3 py-1 text-sm text-red-800 disabled:cursor-not-allowed disabled:opacity-50"
          disabled={disabled}
        >
          Reject…
        </button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className={dialogClasses.overlay} />
        <Dialog.Content className={dialogClasses.content} data-testid="reject-dialog">
          <Dialog.Title className="text-lg font-semibold">Reject Q{item.entryId}?</Dialog.Title>
          <Dialog.Description className="text-slate-700">
            C{item.change.id} will not land: the entry ends rejected with your reason.{" "}
            {next === "redispatch"
              ? `${task[0]?.toUpperCase()}${task.slice(1)} goes back to the Orchestrator and is dispatched again to an agent whose prompt carries your reason.`
              : `${task[0]?.toUpperCase()}${task.slice(1)} is closed as failed with your reason; its request gets no change for it.`}
          </Dialog.Description>
          <form onSubmit={onSubmit} className="space-y-3">
            <label className="block">
              Reason <span className="text-slate-500">(required: the next attempt reads it)</span>
              <textarea
                name="reason"
                rows={3}
                maxLength={4000}
                required
                value={reason}
                onChange={(e) => setReason(e.target.value)}
                className="mt-1 w-full rounded border px-2 py-1"
              />
            </label>
            <fieldset className="space-y-1">
              <legend className="font-medium">Then</legend>
              <label className="flex items-center gap-2">
                <input
                  type="radio"
                  name="next"
                  value="redispatch"
                  checked={next === "redispatch"}
                  onChange={() => setNext("redispatch")}
                />
                Send it back to an agent with the reason
              </label>
              <label className="flex items-center gap-2">
                <input
                  type="radio"
                  name="next"
                  value="close"
                  checked={next === "close"}
                  onChange={() => setNext("close")}
                />
                Close the task
              </label>
            </fieldset>
            <DialogError message={errorText(reject.error)} testId="reject-error" />
            <DialogActions>
              <button
                type="submit"
                className="rounded bg-red-700 px-3 py-1 text-white disabled:bg-slate-300 disabled:text-slate-600"
                disabled={reject.isPending || !reason.trim()}
              >
                Reject Q{item.entryId}
              </button>
            </DialogActions>
          </form>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
