"use client";
import { useMutation } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import Link from "next/link";
import { type FormEvent, useCallback, useState } from "react";
import { formIssues, humanMessages } from "@/schemas/form-messages";
import { requestRef } from "@/schemas/ids";
import { requestKinds, TaskRequest } from "@/schemas/task-request";
import type { RequestDetail } from "@/server/requests/detail";

type RequestKind = (typeof requestKinds)[number];

import { ConfirmDialog } from "./dialog";
import { ErrorSummary, FieldError, serverMessages, useFieldErrors } from "./form-field";
import { ChangeLabel, CommitLink, EntryLink, RunLink, TaskLink } from "./ids";
import { LiveIndicator } from "./live-indicator";
import { Markdown } from "./markdown";
import { Picker } from "./picker";
import { RunStateBadge } from "./runs-board";
import { Cell, StackedHead, stacked } from "./stacked-table";
import { StatusBadge } from "./status-badge";
import { TaskGraph } from "./task-graph";
import { notify } from "./toast";
import { useTRPC, useTRPCClient } from "./trpc";

/** The request page's live part: refreshed whenever an event about this request arrives. */
export function RequestView({
  initial,
  cursor,
  canAnswer,
  canRescope,
  canCancel,
  canEdit: mayEdit,
  areaNames,
  webUrl,
}: {
  initial: RequestDetail;
  cursor: number;
  canAnswer: boolean;
  /** Reviewers, operators and admins re-scope a request whose question keeps coming back. */
  canRescope: boolean;
  /** Its requester, an operator or an admin. */
  canCancel: boolean;
  /** Its requester while it needs clarification; staff once it needs attention. */
  canEdit: { clarification: boolean; attention: boolean };
  /** The repository's areas, offered when editing. */
  areaNames: string[];
  /** The repository's web page, when its config names one: commits link there. */
  webUrl?: string;
}) {
  const client = useTRPCClient();
  const [detail, setDetail] = useState(initial);
  const id = initial.request.id;
  const refresh = useCallback(async () => {
    const next = await client.request.detail.query({ id });
    if (next) setDetail(next);
  }, [client, id]);
  // Only this request's events, filtered on the server: task and queue progress included.
  const trpc = useTRPC();
  const live = useSubscription(
    trpc.request.live.subscriptionOptions(
      { afterId: cursor, entityId: id },
      { onData: () => void refresh() },
    ),
  );
  const { request, spec } = detail;
  const list = (items: string[]) => (items.length ? items.join(", ") : "—");
  const canEdit =
    (request.status === "needs_clarification" && mayEdit.clarification) ||
    (request.status === "needs_attention" && mayEdit.attention);

  return (
    <div className="space-y-6">
      <LiveIndicator status={live.status} testId="request-live" />
      {canCancel && !["done", "failed", "cancelled", "rolled_back"].includes(request.status) && (
        <CancelRequest id={id} onDone={() => void refresh()} />
      )}
      {request.status === "rolled_back" && <RolledBack changes={detail.changes} webUrl={webUrl} />}
      {canEdit && (
        <EditRequest id={id} request={request} areas={areaNames} onDone={() => void refresh()} />
      )}
      <dl className="grid grid-cols-1 gap-x-2 gap-y-1 text-sm sm:grid-cols-[10rem_1fr] sm:gap-y-2">
        <dt className="text-slate-500">Status</dt>
        <dd data-testid="request-status">
          <StatusBadge status={request.status} />
        </dd>
        <dt className="text-slate-500">Repository</dt>
        <dd>{request.repo}</dd>
        <dt className="text-slate-500">Requester</dt>
        <dd>{request.requester}</dd>
        <dt className="text-slate-500">Kind</dt>
        <dd>{spec?.spec?.kind ?? request.kind ?? "to be inferred"}</dd>
        <dt className="text-slate-500">Risk</dt>
        <dd data-testid="spec-risk">{spec?.spec?.risk ?? "—"}</dd>
        <dt className="text-slate-500">Areas</dt>
        <dd>{list(spec?.spec?.areas ?? request.areas)}</dd>
        <dt className="text-slate-500">Files</dt>
        <dd className="font-mono break-all">{list(spec?.spec?.files ?? request.files)}</dd>
        <dt className="text-slate-500">Acceptance</dt>
        <dd>{list(spec?.spec?.acceptance ?? request.acceptance)}</dd>
        <dt className="text-slate-500">Checks</dt>
        <dd className="font-mono" data-testid="spec-checks">
          {list(spec?.spec?.checks ?? [])}
        </dd>
        <dt className="text-slate-500">Tasks</dt>
        <dd>{spec ? `${spec.tasksTotal} (${spec.tasksIndependent} independent)` : "—"}</dd>
        <dt className="text-slate-500">Scoped by</dt>
        <dd data-testid="spec-engineer">
          {spec ? (spec.engineer === "builtin" ? "the built-in Engineer" : spec.engineer) : "—"}
          {spec?.engineerFallback && (
            <span className="block text-amber-700">{spec.engineerFallback}</span>
          )}
        </dd>
      </dl>

      {(spec?.questions.length ?? 0) > 0 && (
        <section
          className="rounded border border-amber-300 bg-amber-50 p-4"
          data-testid="questions"
        >
          <h2 className="mb-2 font-semibold">The Engineer asks</h2>
          <ul className="list-disc pl-5 text-sm">
            {spec?.questions.map((q) => (
              <li key={q}>{q}</li>
            ))}
          </ul>
          {request.status === "needs_attention" && (
            <p className="mt-2 text-sm text-orange-900" data-testid="needs-attention">
              This question came back after an answer.{" "}
              {canRescope
                ? "Re-scope the request below: set its kind, areas or files."
                : "A reviewer or operator will re-scope it."}
            </p>
          )}
          {((canAnswer && request.status === "needs_clarification") ||
            (canRescope && request.status === "needs_attention")) && (
            <AnswerForm id={id} areas={areaNames} onDone={() => void refresh()} />
          )}
        </section>
      )}
      {(spec?.answers.length ?? 0) > 0 && (
        <section className="text-sm" data-testid="answers">
          <h2 className="mb-1 font-semibold">Questions and answers</h2>
          <ol className="space-y-2">
            {spec?.answers.map((a) => (
              <li key={a.at} className="rounded bg-white p-2" data-testid="answer">
                {(a.questions ?? []).map((q) => (
                  <p key={q} className="text-slate-600">
                    <span className="font-medium">Engineer:</span> {q}
                  </p>
                ))}
                <p>
                  <span className="font-medium">{a.by}:</span> {describeAnswer(a.answer)}
                </p>
              </li>
            ))}
          </ol>
        </section>
      )}

      {detail.tasks.length > 0 && (
        <section>
          <h2 className="mb-2 font-semibold">Task graph</h2>
          <TaskGraph tasks={detail.tasks} />
          <table className={`mt-3 ${stacked.table}`} data-testid="task-table">
            <StackedHead
              columns={["Task", "Area", "State", "Files", "Lock keys", "Lease", "Change"]}
            />
            <tbody className={stacked.tbody}>
              {detail.tasks.map((t) => {
                const change = detail.changes.find((c) => c.id === t.changeRequestId);
                return (
                  <tr
                    key={t.id}
                    id={`task-${t.id}`}
                    className={`${stacked.row} align-top`}
                    data-testid="task-row"
                  >
                    <Cell label="Task">
                      <TaskLink id={t.id} />
                    </Cell>
                    <Cell label="Area">{t.area}</Cell>
                    <Cell label="State">
                      <StatusBadge status={t.state} />
                      {t.blockedReason && (
                        <div className="text-xs text-amber-700">{t.blockedReason}</div>
                      )}
                    </Cell>
                    <Cell label="Files" className="font-mono text-xs">
                      {t.neededFiles.join(", ")}
                    </Cell>
                    <Cell label="Lock keys" className="font-mono text-xs">
                      {t.lockKeys.join(", ")}
                    </Cell>
                    <Cell label="Lease" className="text-xs">
                      {t.leaseOwner ?? "—"}
                    </Cell>
                    <Cell label="Change" className="text-xs" data-testid="task-change">
                      {change?.state === "awaiting_approval" ? (
                        <>
                          <ChangeLabel id={change.id} /> <EntryLink id={change.entryId} />{" "}
                          <Link
                            href={`/approvals#entry-${change.entryId}`}
                            className="text-amber-800 underline"
                            data-testid="awaiting-approval"
                          >
                            waiting for approval
                          </Link>
                        </>
                      ) : change ? (
                        <span className="flex flex-wrap items-center gap-1">
                          <ChangeLabel id={change.id} /> <EntryLink id={change.entryId} />{" "}
                          <StatusBadge status={change.state} />
                          {change.mergedCommit && (
                            <CommitLink sha={change.mergedCommit} webUrl={webUrl} />
                          )}
                        </span>
                      ) : (
                        "—"
                      )}
                      {change?.revert && (
                        <div className="text-rose-800" data-testid="task-revert">
                          reverted by <ChangeLabel id={change.revert.id} />{" "}
                          <EntryLink id={change.revert.entryId} /> (
                          {change.revert.state.replaceAll("_", " ")}
                          {change.revert.mergedCommit && (
                            <>
                              {" "}
                              <CommitLink sha={change.revert.mergedCommit} webUrl={webUrl} />
                            </>
                          )}
                          )
                        </div>
                      )}
                    </Cell>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      )}

      {detail.reviews.length > 0 && <Reviews reviews={detail.reviews} />}

      {detail.runs.length > 0 && <RequestRuns runs={detail.runs} />}

      <section>
        <h2 className="mb-2 font-semibold">Description</h2>
        <div className="rounded bg-white p-4 text-sm" data-testid="request-description">
          {request.description.trim() ? (
            <Markdown text={request.description} />
          ) : (
            <p className="text-slate-500">No description.</p>
          )}
        </div>
      </section>
    </div>
  );
}

/** Reviewers' decisions on the request's changes: a rejection with its reason and what followed. */
function Reviews({ reviews }: { reviews: RequestDetail["reviews"] }) {
  return (
    <section data-testid="request-reviews">
      <h2 className="mb-2 font-semibold">Reviews</h2>
      <ul className="space-y-2 text-sm">
        {reviews.map((r) =>
          r.decision === "rejected" ? (
            <li
              key={r.id}
              className="rounded border border-red-200 bg-red-50 p-2"
              data-testid="review-rejected"
            >
              <ChangeLabel id={r.changeRequestId} /> (task <TaskLink id={r.taskId} />) was rejected
              by {r.reviewer}: <span className="font-medium">“{r.comment}”</span>
              {" — "}
              {r.next === "close"
                ? "The task was closed."
                : "The task went back to an agent with this reason."}
            </li>
          ) : (
            <li key={r.id} className="rounded bg-white p-2" data-testid="review-approved">
              <ChangeLabel id={r.changeRequestId} /> (task <TaskLink id={r.taskId} />) was approved
              by {r.reviewer}
              {r.comment ? `: “${r.comment}”` : ""}
              {r.voidedReason && (
                <span className="block text-amber-800">
                  This approval was voided: {r.voidedReason}.
                </span>
              )}
            </li>
          ),
        )}
      </ul>
    </section>
  );
}

/** The agent runs of the request's tasks, each linked to its run page. */
function RequestRuns({ runs }: { runs: RequestDetail["runs"] }) {
  return (
    <section data-testid="request-runs">
      <h2 className="mb-2 font-semibold">Runs</h2>
      <table className={stacked.table}>
        <StackedHead columns={["Run", "Task", "Agent", "State", "Turns", "Change", "Reason"]} />
        <tbody className={stacked.tbody}>
          {runs.map((r) => (
            <tr key={r.id} className={`${stacked.row} align-top`}>
              <Cell label="Run">
                <RunLink id={r.id} />
              </Cell>
              <Cell label="Task">
                <TaskLink id={r.taskId} />
              </Cell>
              <Cell label="Agent">{r.agent}</Cell>
              <Cell label="State">
                <RunStateBadge state={r.state} />
              </Cell>
              <Cell label="Turns">{r.turns}</Cell>
              <Cell label="Change">
                {r.changeRequestId ? <ChangeLabel id={r.changeRequestId} /> : "—"}
              </Cell>
              <Cell
                label="Reason"
                className="max-w-xs truncate text-xs"
                title={r.reason ?? undefined}
              >
                {r.reason ?? ""}
              </Cell>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function AnswerForm({ id, areas, onDone }: { id: number; areas: string[]; onDone: () => void }) {
  const trpc = useTRPC();
  const form = useFieldErrors("answer");
  const { errors, aria } = form;
  const [picked, setPicked] = useState<string[]>([]);
  const answer = useMutation(trpc.request.answer.mutationOptions({ onSuccess: onDone }));
  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const kind = String(data.get("kind") ?? "");
    const value = {
      files: String(data.get("files") ?? "")
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter(Boolean),
      areas: data.getAll("areas").map(String),
      note: String(data.get("note") ?? "") || undefined,
      ...(kind ? { kind: kind as RequestKind } : {}),
    };
    form.clear();
    // The answer's rules are the server's (server/planner/answer.ts); it reports them all at once.
    answer.mutate(
      { id, answer: value },
      { onError: (err) => form.show(serverMessages(err, value)) },
    );
  }
  const error = (field: string) => (
    <FieldError
      fieldId={form.id(field)}
      messages={errors[field]}
      testId={`answer-error-${field}`}
    />
  );
  const input = (field: string) =>
    `mt-1 w-full rounded border px-2 py-1${errors[field] ? " border-red-600" : ""}`;
  return (
    <form
      ref={form.formRef}
      onSubmit={onSubmit}
      noValidate
      className="mt-3 space-y-2 text-sm"
      data-testid="answer-form"
    >
      <ErrorSummary errors={errors} fieldId={form.id} summaryRef={form.summaryRef} />
      <div>
        <label htmlFor={form.id("files")} className="block">
          Files (one per line)
        </label>
        <textarea
          name="files"
          rows={2}
          className={`${input("files")} font-mono`}
          {...aria("files")}
        />
        {error("files")}
      </div>
      <div>
        <Picker
          id={form.id("areas")}
          name="areas"
          noun="area"
          label="Areas"
          hint={areas.length ? "Type to filter, Enter to pick, Backspace to remove." : undefined}
          options={areas.map((a) => ({ value: a, label: a }))}
          allowCustom={!areas.length}
          value={picked}
          onChange={setPicked}
          invalid={Boolean(errors.areas)}
          describedBy={aria("areas")["aria-describedby"]}
        />
        {error("areas")}
      </div>
      <div>
        <label htmlFor={form.id("kind")} className="block">
          Kind
        </label>
        <select
          name="kind"
          defaultValue=""
          className="mt-1 block rounded border px-2 py-1"
          {...aria("kind")}
        >
          <option value="">(keep)</option>
          {requestKinds.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        {error("kind")}
      </div>
      <div>
        <label htmlFor={form.id("note")} className="block">
          Note
        </label>
        <input name="note" className={input("note")} {...aria("note")} />
        {error("note")}
      </div>
      <button
        type="submit"
        className="rounded bg-slate-900 px-3 py-1 text-white"
        disabled={answer.isPending}
      >
        Answer and plan again
      </button>
    </form>
  );
}

/** An answer as a sentence, not JSON: only what it gave. */
function describeAnswer(a: { files: string[]; areas: string[]; kind?: string; note?: string }) {
  const parts = [
    a.kind && `kind ${a.kind}`,
    a.areas.length > 0 && `areas ${a.areas.join(", ")}`,
    a.files.length > 0 && `files ${a.files.join(", ")}`,
    a.note && `“${a.note}”`,
  ].filter(Boolean);
  return parts.join("; ") || "(empty)";
}

/** The request's changes that were reverted, each with the revert that undid it. */
function RolledBack({ changes, webUrl }: { changes: RequestDetail["changes"]; webUrl?: string }) {
  const reverted = changes.filter((c) => c.revert);
  return (
    <div
      className="rounded border border-rose-300 bg-rose-50 p-3 text-sm"
      data-testid="rolled-back"
    >
      <p className="font-medium text-rose-900">This request's work was rolled back.</p>
      <ul className="mt-1 list-disc pl-5">
        {reverted.map((c) => (
          <li key={c.id}>
            <ChangeLabel id={c.id} /> ({c.summary.split("\n")[0]}) was reverted by{" "}
            {c.revert && (
              <>
                <ChangeLabel id={c.revert.id} /> <EntryLink id={c.revert.entryId} />
              </>
            )}
            {c.revert?.mergedCommit && (
              <>
                , commit <CommitLink sha={c.revert.mergedCommit} webUrl={webUrl} />
              </>
            )}
            .
          </li>
        ))}
      </ul>
      <p className="mt-1 text-rose-900">To try again, file a new request.</p>
    </div>
  );
}

/** Edit a waiting request: the fields shown replace the old ones, then it is planned again. */
function EditRequest({
  id,
  request,
  areas,
  onDone,
}: {
  id: number;
  request: RequestDetail["request"];
  areas: string[];
  onDone: () => void;
}) {
  const trpc = useTRPC();
  const [open, setOpen] = useState(false);
  const form = useFieldErrors("edit");
  const { errors, aria } = form;
  const edit = useMutation(
    trpc.request.edit.mutationOptions({
      onSuccess: () => {
        setOpen(false);
        onDone();
      },
    }),
  );
  if (!open)
    return (
      <button
        type="button"
        className="rounded border px-3 py-1 text-sm"
        onClick={() => setOpen(true)}
        data-testid="edit-request"
      >
        Edit request…
      </button>
    );
  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const lines = (v: FormDataEntryValue | null) =>
      String(v ?? "")
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter(Boolean);
    const kind = String(data.get("kind") ?? "");
    const value = {
      title: String(data.get("title") ?? ""),
      description: String(data.get("description") ?? ""),
      files: lines(data.get("files")),
      areas: data.getAll("areas").map(String),
      acceptance: lines(data.get("acceptance")),
      ...(kind ? { kind: kind as RequestKind } : {}),
    };
    // As the server does: the filing rules on the request as it would be after the edit.
    const local = TaskRequest.safeParse({
      ...value,
      repo: request.repo,
      priority: request.priority,
      dependsOn: request.dependsOn,
    });
    if (!local.success) {
      form.show(humanMessages(formIssues(local.error), value));
      return;
    }
    form.clear();
    edit.mutate({ id, edit: value }, { onError: (err) => form.show(serverMessages(err, value)) });
  }
  const error = (field: string) => (
    <FieldError fieldId={form.id(field)} messages={errors[field]} testId={`edit-error-${field}`} />
  );
  const input = (field: string) =>
    `mt-1 w-full rounded border px-2 py-1${errors[field] ? " border-red-600" : ""}`;
  const areasAria = aria("areas");
  return (
    <form
      ref={form.formRef}
      onSubmit={onSubmit}
      noValidate
      className="space-y-2 rounded border bg-white p-4 text-sm"
      data-testid="edit-form"
    >
      <h2 className="font-semibold">Edit request #{id}</h2>
      <p className="text-slate-600">
        What you save replaces the request as filed, and the Engineer scopes it again.
      </p>
      <ErrorSummary errors={errors} fieldId={form.id} summaryRef={form.summaryRef} />
      <div>
        <label htmlFor={form.id("title")} className="block">
          Title
        </label>
        <input
          name="title"
          defaultValue={request.title}
          className={input("title")}
          {...aria("title")}
        />
        {error("title")}
      </div>
      <div>
        <label htmlFor={form.id("description")} className="block">
          Description
        </label>
        <textarea
          name="description"
          rows={4}
          defaultValue={request.description}
          className={input("description")}
          {...aria("description")}
        />
        {error("description")}
      </div>
      <div>
        <label htmlFor={form.id("kind")} className="block">
          Kind
        </label>
        <select
          name="kind"
          defaultValue={request.kind ?? ""}
          className="mt-1 block rounded border px-2 py-1"
          {...aria("kind")}
        >
          <option value="">(let the Engineer infer it)</option>
          {requestKinds.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        {error("kind")}
      </div>
      <fieldset aria-describedby={areasAria["aria-describedby"]}>
        <legend>Areas</legend>
        <div className="mt-1 flex flex-wrap gap-3">
          {areas.map((a, i) => (
            <label key={a} className="flex items-center gap-1">
              <input
                type="checkbox"
                name="areas"
                value={a}
                defaultChecked={request.areas.includes(a)}
                // The first box stands for the group: the summary links to it, focus lands on it.
                {...(i === 0
                  ? { id: areasAria.id, "aria-invalid": areasAria["aria-invalid"] }
                  : {})}
              />
              {a}
            </label>
          ))}
        </div>
        {error("areas")}
      </fieldset>
      <div>
        <label htmlFor={form.id("files")} className="block">
          Files (one per line)
        </label>
        <textarea
          name="files"
          rows={2}
          defaultValue={request.files.join("\n")}
          className={`${input("files")} font-mono`}
          {...aria("files")}
        />
        {error("files")}
      </div>
      <div>
        <label htmlFor={form.id("acceptance")} className="block">
          Acceptance (one per line)
        </label>
        <textarea
          name="acceptance"
          rows={2}
          defaultValue={request.acceptance.join("\n")}
          className={input("acceptance")}
          {...aria("acceptance")}
        />
        {error("acceptance")}
      </div>
      <div className="flex flex-wrap gap-2">
        <button
          type="submit"
          className="rounded bg-slate-900 px-3 py-1 text-white"
          disabled={edit.isPending}
        >
          Save and plan again
        </button>
        <button type="button" className="rounded border px-3 py-1" onClick={() => setOpen(false)}>
          Close without saving
        </button>
      </div>
    </form>
  );
}

/** Cancel, behind a dialog that says what will happen. */
function CancelRequest({ id, onDone }: { id: number; onDone: () => void }) {
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
