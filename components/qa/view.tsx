"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import type { QaItem, QaQueue } from "@/server/views/qa";
import { ConfirmDialog } from "../dialog";
import { DiffViewer } from "../diff-viewer";
import { EntryLink, RequestLink } from "../ids";
import { notify } from "../toast";
import { useTRPC } from "../trpc";

const PRIORITIES = ["high", "normal", "low"] as const;

/** The server's refusal in words: its issues by field (`notes: …`), else its message. */
function errorText(err: { message: string; data?: unknown } | null): string | undefined {
  if (!err) return undefined;
  const issues = (err.data as { issues?: { path: string; message: string }[] | null } | undefined)
    ?.issues;
  return issues?.length ? issues.map((i) => `${i.path}: ${i.message}`).join("; ") : err.message;
}

function waited(minutes: number): string {
  return minutes < 120 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** One item of a queue: its request, repository, priority, wait, and its escalation marker. */
function ItemLine({
  item,
  position,
  chosen,
  onOpen,
}: {
  item: QaItem;
  position: number | null;
  chosen: boolean;
  onOpen: () => void;
}) {
  return (
    <div
      className={`flex flex-wrap items-center gap-x-3 gap-y-1 rounded border p-3 ${chosen ? "border-sky-600 bg-sky-50" : "border-slate-200 bg-white"}`}
      data-testid={`qa-item-R${item.requestId}`}
    >
      {position !== null && (
        <span className="w-12 text-xs font-semibold text-slate-700">
          {position === 0 ? "Next" : `#${position + 1}`}
        </span>
      )}
      <RequestLink id={item.requestId} />
      <span className="min-w-0 flex-1 break-words">{item.title}</span>
      <span className="text-xs text-slate-700">{item.repo}</span>
      <span className="text-xs text-slate-700" data-testid="qa-priority">
        {item.priority}
        {item.overridden ? " (set by an operator)" : ""}
      </span>
      <span className="text-xs text-slate-700">waiting {waited(item.waitingMinutes)}</span>
      {item.escalated && (
        <span
          className="rounded bg-red-100 px-2 py-0.5 text-xs font-semibold text-red-800"
          data-testid="qa-escalated"
        >
          Escalated: waiting over {item.escalateAfterMinutes} min
        </span>
      )}
      <button
        type="button"
        className="rounded border border-slate-300 px-2 py-0.5 text-xs"
        aria-pressed={chosen}
        onClick={onOpen}
      >
        {chosen ? "Shown below" : `Show R${item.requestId}`}
      </button>
    </div>
  );
}

/** The chosen request: its words, checks, diff, the checkout command, and the decision. */
function Detail({ requestId, onDecided }: { requestId: number; onDecided: () => void }) {
  const trpc = useTRPC();
  const notesId = useId();
  const priorityId = useId();
  const { data, error } = useQuery(trpc.qa.detail.queryOptions({ requestId }));
  const [notes, setNotes] = useState("");
  const [failOpen, setFailOpen] = useState(false);
  const pass = useMutation(trpc.qa.pass.mutationOptions());
  const fail = useMutation(trpc.qa.fail.mutationOptions());
  const prioritize = useMutation(trpc.qa.prioritize.mutationOptions());
  if (error)
    return (
      <p role="alert" className="text-red-700">
        {error.message}
      </p>
    );
  if (!data) return <p className="text-sm text-slate-600">Loading R{requestId}…</p>;
  const item = data.item;
  return (
    <article
      className="space-y-4 rounded border border-slate-200 bg-white p-4"
      data-testid="qa-detail"
    >
      <h2 className="text-lg font-semibold">
        <RequestLink id={data.request.id} /> {data.request.title}
      </h2>
      {data.request.description && (
        <p className="whitespace-pre-wrap text-sm">{data.request.description}</p>
      )}
      {data.request.acceptance.length > 0 && (
        <div>
          <h3 className="text-sm font-semibold">Acceptance criteria</h3>
          <ul className="list-disc pl-5 text-sm">
            {data.request.acceptance.map((a) => (
              <li key={a}>{a}</li>
            ))}
          </ul>
        </div>
      )}
      {!item ? (
        <p className="text-sm">R{requestId} has no change waiting for QA.</p>
      ) : (
        <>
          <div className="text-sm">
            <h3 className="font-semibold">Try it</h3>
            <p>
              Write its candidate (its changes on {data.request.repo}&apos;s branch tip, as they
              would land) to a folder and run it:
            </p>
            <code className="block break-all rounded bg-slate-100 p-2" data-testid="qa-checkout">
              hyperion qa checkout R{requestId}
            </code>
          </div>
          {data.changes.map((c) => (
            <section key={c.entryId} className="space-y-2" aria-label={`Change of Q${c.entryId}`}>
              <h3 className="text-sm font-semibold">
                <EntryLink id={c.entryId} /> {c.summary.split("\n")[0]}
              </h3>
              <p className="text-sm" data-testid="qa-checks">
                {c.checks.length === 0
                  ? "No checks."
                  : c.checkRuns.length === 0
                    ? `Checks: ${c.checks.join(", ")}`
                    : `Checks at landing: ${c.checkRuns
                        .map((r) => `${r.check} ${r.outcome.replace("_", " ")}`)
                        .join(", ")}${c.checkedOn ? ` on ${c.checkedOn.slice(0, 12)}` : ""}`}
              </p>
              <DiffViewer patch={c.patch} />
            </section>
          ))}
          <div className="flex flex-wrap items-end gap-3">
            <div>
              <label htmlFor={priorityId} className="block text-sm font-semibold">
                Priority in the QA queue
              </label>
              <select
                id={priorityId}
                className="rounded border border-slate-300 px-2 py-1 text-sm"
                value={item.priority}
                disabled={prioritize.isPending}
                onChange={async (e) => {
                  const priority = e.target.value as (typeof PRIORITIES)[number];
                  try {
                    await prioritize.mutateAsync({ requestId, priority });
                    notify.success(`R${requestId} is now ${priority} priority in the QA queue.`);
                    onDecided();
                  } catch (err) {
                    notify.error((err as Error).message);
                  }
                }}
              >
                {PRIORITIES.map((p) => (
                  <option key={p} value={p}>
                    {p}
                  </option>
                ))}
              </select>
            </div>
            <ConfirmDialog
              trigger={
                <button
                  type="button"
                  className="rounded bg-green-700 px-3 py-1.5 text-sm font-semibold text-white"
                  data-testid="qa-pass"
                >
                  Pass QA
                </button>
              }
              title={`Pass R${requestId}'s QA?`}
              description={`Its ${item.entries.length === 1 ? "change goes" : `${item.entries.length} changes go`} back to the merge queue and land${item.entries.length === 1 ? "s" : ""} (re-checked if the branch moved).`}
              confirm="Pass QA"
              pending={pass.isPending}
              error={errorText(pass.error)}
              onConfirm={() => pass.mutateAsync({ requestId })}
              onDone={() => {
                notify.success(`R${requestId} passed QA: its changes go on to land.`);
                onDecided();
              }}
              testId="qa-pass-dialog"
            />
          </div>
          <div className="space-y-2">
            <label htmlFor={notesId} className="block text-sm font-semibold">
              What failed (sent to the developer&apos;s next attempt)
            </label>
            <textarea
              id={notesId}
              className="w-full rounded border border-slate-300 p-2 text-sm"
              rows={4}
              value={notes}
              onChange={(e) => setNotes(e.target.value)}
              data-testid="qa-notes"
            />
            <ConfirmDialog
              trigger={
                <button
                  type="button"
                  className="rounded bg-red-700 px-3 py-1.5 text-sm font-semibold text-white"
                  data-testid="qa-fail"
                >
                  Fail QA
                </button>
              }
              title={`Fail R${requestId}'s QA?`}
              description="Its changes are rejected and its tasks go back to the developer with your notes in the next prompt."
              confirm="Fail QA"
              danger
              pending={fail.isPending}
              error={errorText(fail.error)}
              onConfirm={() => fail.mutateAsync({ requestId, notes })}
              open={failOpen}
              onOpenChange={(open) => {
                setFailOpen(open);
                if (!open) fail.reset();
              }}
              onDone={() => {
                setNotes("");
                notify.success(`R${requestId} failed QA: its tasks go back with your notes.`);
                onDecided();
              }}
              testId="qa-fail-dialog"
            />
          </div>
        </>
      )}
    </article>
  );
}

/**
 * The QA page: the operator's QA queue across repositories (the head is next), each
 * repository's waiting items, and the chosen item's request, checks and diff with the decision.
 */
export function QaView({ initial, selected }: { initial: QaQueue; selected: number | null }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { data } = useQuery(
    trpc.qa.queue.queryOptions(undefined, { initialData: initial, refetchInterval: 10_000 }),
  );
  const queue = data ?? initial;
  const [chosen, setChosen] = useState<number | null>(selected);
  const shown =
    queue.order.find((i) => i.requestId === chosen)?.requestId ?? queue.next?.requestId ?? null;
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.qa.queue.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.qa.detail.pathKey() });
  };
  if (queue.order.length === 0)
    return (
      <p className="rounded bg-white p-6 text-center text-sm text-slate-600" data-testid="no-qa">
        Nothing waits for QA.
      </p>
    );
  return (
    <div className="space-y-6">
      <section aria-labelledby="qa-order" className="space-y-2">
        <h2 id="qa-order" className="text-lg font-semibold">
          QA queue: what to test next
        </h2>
        <ol className="space-y-2" data-testid="qa-order">
          {queue.order.map((item, n) => (
            <li key={item.requestId}>
              <ItemLine
                item={item}
                position={n}
                chosen={item.requestId === shown}
                onOpen={() => setChosen(item.requestId)}
              />
            </li>
          ))}
        </ol>
      </section>
      {shown !== null && <Detail key={shown} requestId={shown} onDecided={refresh} />}
      <section aria-labelledby="qa-repos" className="space-y-3">
        <h2 id="qa-repos" className="text-lg font-semibold">
          Waiting by repository
        </h2>
        {queue.repos.map((r) => (
          <div key={r.repo} data-testid={`qa-repo-${r.repo}`}>
            <h3 className="text-sm font-semibold">
              {r.repo} ({r.items.length})
            </h3>
            <ul className="mt-1 space-y-1 text-sm">
              {r.items.map((i) => (
                <li key={i.requestId}>
                  <RequestLink id={i.requestId} title={i.title} />
                  {i.entries.map((e) => (
                    <span key={e.id}>
                      {" "}
                      <EntryLink id={e.id} />
                    </span>
                  ))}
                </li>
              ))}
            </ul>
          </div>
        ))}
      </section>
    </div>
  );
}
