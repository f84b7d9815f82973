"use client";
import type { RequestDetail } from "@/server/views/request-detail";
import { LiveIndicator } from "../live-indicator";
import { Markdown } from "../markdown";
import { CancelRequest } from "./cancel";
import { Closed, CloseRequest } from "./close";
import { EditRequest } from "./edit-form";
import { RequestFacts } from "./facts";
import { Answers, Questions } from "./questions";
import { Reviews } from "./reviews";
import { RolledBack } from "./rolled-back";
import { RequestRuns } from "./runs";
import { TasksTable } from "./tasks-table";
import { BackToTriage } from "./triage";
import { WaitingReview } from "./waiting-review";

/** The statuses after which nothing is left to cancel. */
const ended = ["done", "failed", "cancelled", "rolled_back"];

/** The request itself, its questions, tasks, reviews and runs, as the live page last received them. */
export function RequestView({
  detail,
  live,
  refresh,
  canAnswer,
  canRescope,
  canCancel,
  canRerun = false,
  canEdit: mayEdit,
  canReview,
  areaNames,
  webUrl,
}: {
  detail: RequestDetail;
  /** The live stream's state, for the indicator. */
  live: string;
  /** Reads the page again at once (after this viewer's own action). */
  refresh: () => Promise<void>;
  canAnswer: boolean;
  /** Reviewers, operators and admins re-scope a request whose question keeps coming back. */
  canRescope: boolean;
  /** Its requester, an operator or an admin. */
  canCancel: boolean;
  /** Its requester, an operator or an admin: a failed request is theirs to edit and plan again. */
  canRerun?: boolean;
  /** Its requester while it needs clarification; staff once it needs attention. */
  canEdit: { clarification: boolean; attention: boolean };
  /** May approve its changes: the tasks' "waiting for approval" leads to /approvals. */
  canReview: boolean;
  /** The repository's areas, offered when editing. */
  areaNames: string[];
  /** The repository's web page, when its config names one: commits link there. */
  webUrl?: string;
}) {
  const id = detail.request.id;
  const onDone = () => void refresh();
  const { request, spec, issue } = detail;
  const clarifying = request.status === "needs_clarification";
  const attention = request.status === "needs_attention";
  const failed = request.status === "failed";
  const canEdit =
    (clarifying && mayEdit.clarification) ||
    (attention && mayEdit.attention) ||
    (failed && canRerun);

  return (
    <div className="space-y-6">
      <LiveIndicator status={live} testId="request-live" />
      {canCancel && !ended.includes(request.status) && <CancelRequest id={id} onDone={onDone} />}
      {request.status === "rolled_back" && <RolledBack changes={detail.changes} webUrl={webUrl} />}
      {detail.closed && <Closed closed={detail.closed} />}
      {(canEdit || (failed && canCancel)) && (
        <div className="flex flex-wrap items-start gap-2">
          {canEdit && (
            <EditRequest
              id={id}
              request={request}
              areas={areaNames}
              onDone={onDone}
              label={failed ? "Edit and plan again…" : undefined}
            />
          )}
          {failed && canCancel && <CloseRequest id={id} onDone={onDone} />}
        </div>
      )}
      <RequestFacts request={request} spec={spec} issue={issue} />
      <WaitingReview changes={detail.changes} canReview={canReview} />

      {spec && spec.questions.length > 0 && (
        <Questions
          id={id}
          questions={spec.questions}
          needsAttention={attention}
          canRescope={canRescope}
          canReply={(canAnswer && clarifying) || (canRescope && attention)}
          areas={areaNames}
          onDone={onDone}
        />
      )}
      {spec && spec.answers.length > 0 && <Answers answers={spec.answers} />}
      {attention && (
        <BackToTriage
          tasks={detail.tasks.filter((t) => t.state === "triage")}
          canRescope={canRescope}
        />
      )}

      {detail.tasks.length > 0 && (
        <TasksTable
          tasks={detail.tasks}
          changes={detail.changes}
          webUrl={webUrl}
          canReview={canReview}
        />
      )}

      {detail.reviews.length > 0 && <Reviews reviews={detail.reviews} />}

      {detail.runs.length > 0 && <RequestRuns runs={detail.runs} />}

      <Description text={request.description} />
    </div>
  );
}

function Description({ text }: { text: string }) {
  return (
    <section>
      <h2 className="mb-2 font-semibold">Description</h2>
      <div className="rounded bg-white p-4 text-sm" data-testid="request-description">
        {text.trim() ? <Markdown text={text} /> : <p className="text-slate-500">No description.</p>}
      </div>
    </section>
  );
}
