import type { RunDetail } from "@/server/views/runs";

type Run = RunDetail["run"];

/** What the run's end means for its task, and what to do next. */
export function Failure({ run }: { run: Run }) {
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
      {run.stderrTail && (
        <div className="mt-2">
          <p className="text-red-900">The last lines the agent wrote to stderr:</p>
          <pre
            className="mt-1 max-h-80 overflow-auto whitespace-pre-wrap break-all rounded bg-white p-2 font-mono text-xs text-slate-900"
            data-testid="run-stderr"
          >
            {run.stderrTail}
          </pre>
        </div>
      )}
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
