import type { RunDetail } from "@/server/views/runs";
import { CommitLink, RequestLink, TaskLink } from "../ids";
import { Elapsed, formatCost, formatTokens, RunStateBadge } from "../runs-board";
import { StatusBadge } from "../status-badge";

type Run = RunDetail["run"];

/** The run's facts: its agent and sandbox, time, turns, tokens and cost, and what it worked on. */
export function Facts({
  run,
  entry,
  webUrl,
}: {
  run: Run;
  entry?: RunDetail["entry"];
  webUrl?: string;
}) {
  return (
    <dl className="grid grid-cols-1 gap-x-2 text-sm sm:grid-cols-[10rem_1fr] sm:gap-y-2 [&>dd]:mb-2 sm:[&>dd]:mb-0 [&>dd]:min-w-0 [&>dd]:break-words">
      <dt className="text-slate-500">State</dt>
      <dd>
        <RunStateBadge state={run.state} />
        {run.state === "submitted" && entry && (
          // The run ends at "submitted"; its change goes on, and the page follows it.
          <span className="ml-2" data-testid="run-change-outcome">
            then its change: <StatusBadge status={entry.state} />
          </span>
        )}
      </dd>
      <dt className="text-slate-500">Agent</dt>
      <dd data-testid="run-agent">
        {run.agent}
        {run.fallback && ` (then ${run.fallback})`}
      </dd>
      <dt className="text-slate-500">CLI version</dt>
      <dd className="font-mono">{run.cliVersion ?? "—"}</dd>
      <dt className="text-slate-500">Sandbox</dt>
      <dd data-testid="run-sandbox">
        {run.sandbox === "none" ? (
          <span className="font-medium text-red-700">
            none: not confined: bubblewrap is not installed
          </span>
        ) : (
          (run.sandbox ?? "—")
        )}
      </dd>
      <dt className="text-slate-500">Elapsed</dt>
      <dd className="tabular-nums">
        <Elapsed from={run.startedAt ?? run.createdAt} to={run.endedAt} />
      </dd>
      <dt className="text-slate-500">Turns</dt>
      <dd className="tabular-nums">
        {run.turns}
        {run.sessions > 1 && ` in ${run.sessions} sessions`}
      </dd>
      <dt className="text-slate-500">Tokens in / out</dt>
      <dd className="tabular-nums">{formatTokens(run.inputTokens, run.outputTokens)}</dd>
      <dt className="text-slate-500">Cost</dt>
      <dd className="tabular-nums">{formatCost(run.costUsd)}</dd>
      <dt className="text-slate-500">Session id</dt>
      <dd className="break-all font-mono">{run.sessionId ?? "—"}</dd>
      <dt className="text-slate-500">Base commit</dt>
      <dd>{run.baseCommit ? <CommitLink sha={run.baseCommit} webUrl={webUrl} /> : "—"}</dd>
      <dt className="text-slate-500">Prompt hash</dt>
      <dd className="font-mono break-all">{run.promptHash ?? "—"}</dd>
      <dt className="text-slate-500">Task</dt>
      <dd>
        <TaskLink id={run.taskId} />
      </dd>
      <dt className="text-slate-500">Request</dt>
      <dd>{run.requestId ? <RequestLink id={run.requestId} /> : "—"}</dd>
      <dt className="text-slate-500">Repository</dt>
      <dd>{run.repo}</dd>
      {run.unparsed > 0 && (
        <>
          <dt className="text-slate-500">Unparsed output</dt>
          <dd className="text-amber-800">
            {run.unparsed} line(s) were not the CLI's JSON and are not in the log
          </dd>
        </>
      )}
    </dl>
  );
}
