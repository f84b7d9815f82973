"use client";
import { useMutation } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import type { AgentEvent } from "@/schemas/agent-event";
import { changeRef } from "@/schemas/ids";
import { stateLabel } from "@/schemas/labels";
import type { SteerCommand } from "@/server/db/schema/runs";
import type { RunDetail } from "@/server/runs/service";
import { liveRunStates } from "@/server/runs/states";
import { CommitLink, EntryLink, RequestLink, TaskLink } from "./ids";
import { LiveIndicator } from "./live-indicator";
import { Elapsed, formatCost, formatTokens, RunStateBadge } from "./runs-board";
import { StatusBadge } from "./status-badge";
import { useTRPC, useTRPCClient } from "./trpc";

type Run = RunDetail["run"];

/** The service keeps a run's last 2000 events for the page. */
const LOG_LIMIT = 2000;

const steerCommands: Record<SteerCommand, string> = {
  append_context:
    "append context: the agent reads your note now, or at its next session if its CLI cannot take it mid-run",
  checkpoint_and_replan:
    "checkpoint and replan: stop this run; the task goes back to pending and the next run's prompt carries your note",
  stop_and_requeue: "stop and requeue: stop this run; the task goes back to pending",
};

/**
 * The run page's live part: the run's facts, its log, its steering and its change, refreshed
 * whenever an event about this run arrives (a move, or a batch of log lines).
 */
export function RunView({
  initial,
  cursor,
  canSteer,
  webUrl,
}: {
  initial: RunDetail;
  cursor: number;
  /** The repository's web host (config `webUrl`), for commit links. */
  webUrl?: string;
  /** Operators and admins. */
  canSteer: boolean;
}) {
  const client = useTRPCClient();
  const trpc = useTRPC();
  const [detail, setDetail] = useState(initial);
  const id = initial.run.id;
  // Answers may arrive out of order; only the newest request's answer is shown.
  const latest = useRef(0);
  const refresh = useCallback(async () => {
    const ticket = ++latest.current;
    const next = await client.run.detail.query({ id });
    if (next && ticket === latest.current) setDetail(next);
  }, [client, id]);
  // A chatty agent sends a batch every tick: refetch at most a few times a second.
  const pendingRefresh = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (pendingRefresh.current) clearTimeout(pendingRefresh.current);
    },
    [],
  );
  const live = useSubscription(
    trpc.run.live.subscriptionOptions(
      { afterId: cursor, entityId: id },
      {
        onData: () => {
          if (pendingRefresh.current) return;
          pendingRefresh.current = setTimeout(() => {
            pendingRefresh.current = null;
            void refresh();
          }, 250);
        },
      },
    ),
  );
  const { run, events, steers, prompt, entry } = detail;
  const isLive = liveRunStates.includes(run.state);

  return (
    <div className="space-y-6">
      <LiveIndicator status={live.status} testId="run-live" />
      {!isLive && run.state !== "submitted" && <Failure run={run} />}
      <Facts run={run} webUrl={webUrl} />

      {run.changeRequestId !== null && (
        <section className="text-sm" data-testid="run-change">
          <h2 className="mb-1 font-semibold">Change</h2>
          <p>
            Change {changeRef(run.changeRequestId)}
            {entry ? (
              <>
                {" "}
                is queue entry <EntryLink id={entry.id} />,{" "}
                <span data-testid="run-change-state" data-state={entry.state}>
                  <StatusBadge status={entry.state} />
                </span>
                {entry.mergedCommit ? (
                  <>
                    {" "}
                    as <CommitLink sha={entry.mergedCommit} webUrl={webUrl} />
                  </>
                ) : null}
                .
              </>
            ) : (
              " is not in the merge queue."
            )}
          </p>
        </section>
      )}

      <details className="rounded border border-slate-200 bg-white p-3 text-sm">
        <summary className="cursor-pointer font-semibold">Prompt file</summary>
        {prompt === null ? (
          <p className="mt-2 text-slate-500">
            The prompt file is not kept any more (or the run has not written it yet).
          </p>
        ) : (
          <pre className="mt-2 max-h-96 overflow-auto whitespace-pre-wrap text-xs">{prompt}</pre>
        )}
      </details>

      {(canSteer || steers.length > 0) && (
        <section>
          <h2 className="mb-2 font-semibold">Steering</h2>
          {steers.length > 0 && (
            <ol className="mb-3 space-y-2 text-sm">
              {steers.map((s) => (
                <li key={s.id} className="rounded bg-white p-2" data-testid="run-steer">
                  <div>
                    <span className="font-medium">{s.command.replaceAll("_", " ")}</span> by{" "}
                    <span className="break-all">{s.by}</span>
                  </div>
                  <p className="whitespace-pre-wrap text-slate-700">{s.reason}</p>
                  <p className="text-xs text-slate-500" data-testid="run-steer-outcome">
                    {s.appliedAt === null
                      ? isLive
                        ? "waiting for the run's supervisor to apply it"
                        : "not applied: the run ended first"
                      : s.outcome}
                  </p>
                </li>
              ))}
            </ol>
          )}
          {canSteer &&
            (isLive ? (
              <SteerForm id={id} onDone={() => void refresh()} />
            ) : (
              <p className="text-sm text-slate-500">
                This run has ended ({stateLabel(run.state).toLowerCase()}): it can no longer be
                steered.
              </p>
            ))}
        </section>
      )}

      <Log events={events} />
    </div>
  );
}

/** What the run's end means for its task, and what to do next. */
function Failure({ run }: { run: Run }) {
  const next =
    run.state === "stopped" ? (
      "Its task went back to pending: the next free worker starts a new run."
    ) : run.state === "lost" ? (
      "Its worker lost the task's lease; the task is taken up again once that lease expires."
    ) : run.fallback === "builtin" ? (
      "The built-in developer took the task over: its change is on the request's page."
    ) : (
      <>
        Its task is failed. Read the log below for the cause; <code>npx hyperion agents</code>{" "}
        checks each agent's setup (<code>docs/agents.md</code>).
      </>
    );
  return (
    <div className="rounded border border-red-300 bg-red-50 p-3 text-sm" data-testid="run-failure">
      <p className="font-medium text-red-900">
        This run {run.state === "lost" ? "was lost" : run.state}
        {run.reason ? ":" : ", with no reason recorded."}
      </p>
      {run.reason && <p className="whitespace-pre-wrap text-red-900">{run.reason}</p>}
      <p className="mt-1 text-red-900">{next}</p>
      {run.workspace && (
        <p className="mt-1 text-red-900">
          The workspace is kept at <code className="break-all">{run.workspace}</code> for
          inspection.
        </p>
      )}
    </div>
  );
}

function Facts({ run, webUrl }: { run: Run; webUrl?: string }) {
  return (
    <dl className="grid grid-cols-1 gap-x-2 text-sm sm:grid-cols-[10rem_1fr] sm:gap-y-2 [&>dd]:mb-2 sm:[&>dd]:mb-0 [&>dd]:min-w-0 [&>dd]:break-words">
      <dt className="text-slate-500">State</dt>
      <dd>
        <RunStateBadge state={run.state} />
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

/** The normalised log, kept scrolled to its end while the reader is there. */
function Log({ events }: { events: RunDetail["events"] }) {
  const box = useRef<HTMLOListElement>(null);
  const atEnd = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: scrolls when the log grows
  useEffect(() => {
    if (atEnd.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [events.length]);
  return (
    <section>
      <h2 className="mb-2 font-semibold">Log</h2>
      {events.length >= LOG_LIMIT && (
        <p className="mb-1 text-xs text-slate-500">Showing the last {LOG_LIMIT} events.</p>
      )}
      <ol
        ref={box}
        onScroll={(e) => {
          const el = e.currentTarget;
          atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
        className="max-h-[36rem] space-y-1 overflow-auto rounded border border-slate-200 bg-white p-3 text-sm"
        data-testid="run-log"
      >
        {events.length === 0 && <li className="text-slate-500">No events yet.</li>}
        {events.map((e) => (
          <li key={e.id} data-testid="run-event" data-kind={e.event.kind}>
            <LogEvent event={e.event} />
          </li>
        ))}
      </ol>
    </section>
  );
}

function LogEvent({ event }: { event: AgentEvent }) {
  switch (event.kind) {
    case "session":
      return <p className="text-xs text-slate-500">session {event.sessionId}</p>;
    case "message":
      return <p className="whitespace-pre-wrap">{event.text}</p>;
    case "tool_call":
      return (
        <div>
          <p className="font-mono text-xs text-slate-600">tool {event.tool}</p>
          {event.input && (
            <pre className="max-h-40 overflow-auto rounded bg-slate-50 p-2 text-xs">
              {event.input}
            </pre>
          )}
        </div>
      );
    case "command":
      return (
        <div>
          <p className="font-mono text-xs">
            $ {event.command}{" "}
            <span
              className={
                event.exitCode === undefined || event.exitCode === null
                  ? "text-slate-500"
                  : event.exitCode === 0
                    ? "text-green-700"
                    : "text-red-700"
              }
            >
              {event.exitCode === undefined || event.exitCode === null
                ? "(running)"
                : `exit ${event.exitCode}`}
            </span>
          </p>
          {event.output && (
            <pre className="max-h-60 overflow-auto rounded bg-slate-50 p-2 text-xs">
              {event.output}
            </pre>
          )}
        </div>
      );
    case "file_edit":
      return (
        <p className="font-mono text-xs">
          edited <span className="break-all">{event.path}</span>
        </p>
      );
    case "usage":
      return (
        <p className="text-xs text-slate-500">
          usage: {event.inputTokens ?? 0} in, {event.outputTokens ?? 0} out
          {event.costUsd !== undefined && `, ${formatCost(event.costUsd)}`}
        </p>
      );
    case "error":
      return (
        <p className="whitespace-pre-wrap text-red-700">
          {event.fatal ? "fatal error" : "error"}: {event.message}
        </p>
      );
    case "turn_end":
      return (
        <p className="border-t pt-1 text-xs text-slate-500">
          turn ended{event.ok ? "" : " (not ok)"}
        </p>
      );
  }
}

// crypto.randomUUID exists only in secure contexts (https, localhost); getRandomValues everywhere.
function newEventId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A steering command with its reason; each submit is one command (its own source event id). */
function SteerForm({ id, onDone }: { id: number; onDone: () => void }) {
  const trpc = useTRPC();
  const [error, setError] = useState("");
  const [sent, setSent] = useState("");
  const form = useRef<HTMLFormElement>(null);
  const steer = useMutation(
    trpc.run.steer.mutationOptions({
      onSuccess: (res) => {
        setSent(
          res.repeated
            ? "Already recorded."
            : "Recorded: the run's supervisor applies it within a few seconds.",
        );
        form.current?.reset();
        onDone();
      },
      onError: (err) =>
        setError(err.data?.issues?.map((i) => `${i.path}: ${i.message}`).join("; ") || err.message),
    }),
  );
  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    setError("");
    setSent("");
    steer.mutate({
      id,
      steer: {
        command: String(data.get("command") ?? ""),
        reason: String(data.get("reason") ?? ""),
        sourceEventId: newEventId(),
      },
    });
  }
  return (
    <form
      ref={form}
      onSubmit={onSubmit}
      className="space-y-2 rounded border bg-white p-4 text-sm"
      data-testid="steer-form"
    >
      <label className="block">
        Command
        <select
          name="command"
          defaultValue="append_context"
          className="mt-1 block w-full rounded border px-2 py-1"
        >
          {Object.entries(steerCommands).map(([command, help]) => (
            <option key={command} value={command}>
              {help}
            </option>
          ))}
        </select>
      </label>
      <label className="block">
        Reason (the agent and the log read it)
        <textarea
          name="reason"
          rows={3}
          required
          className="mt-1 w-full rounded border px-2 py-1"
        />
      </label>
      {error && (
        <p className="text-red-700" role="alert">
          {error}
        </p>
      )}
      {sent && (
        <p className="text-green-800" role="status">
          {sent}
        </p>
      )}
      <button
        type="submit"
        className="rounded bg-slate-900 px-3 py-1 text-white"
        disabled={steer.isPending}
      >
        Send
      </button>
    </form>
  );
}
