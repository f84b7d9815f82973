"use client";
import { useEffect, useRef } from "react";
import type { AgentEvent } from "@/schemas/agent-event";
import type { RunDetail } from "@/server/views/runs";
import { formatCost } from "../runs-board";

/** The service keeps a run's last 2000 events for the page. */
const LOG_LIMIT = 2000;

/** The normalised log, kept scrolled to its end while the reader is there. */
export function Log({ events, ended }: { events: RunDetail["events"]; ended: boolean }) {
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
        {events.length === 0 && (
          <li className="text-slate-500">
            {ended
              ? "The agent printed nothing (the timeline above says what happened)."
              : "No events yet."}
          </li>
        )}
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
      return <Command event={event} />;
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

/** A command the agent ran: its exit code (or that it runs still) and its output. */
function Command({ event }: { event: Extract<AgentEvent, { kind: "command" }> }) {
  const running = event.exitCode === undefined || event.exitCode === null;
  return (
    <div>
      <p className="font-mono text-xs">
        $ {event.command}{" "}
        <span
          className={
            running ? "text-slate-500" : event.exitCode === 0 ? "text-green-700" : "text-red-700"
          }
        >
          {running ? "(running)" : `exit ${event.exitCode}`}
        </span>
      </p>
      {event.output && (
        <pre className="max-h-60 overflow-auto rounded bg-slate-50 p-2 text-xs">{event.output}</pre>
      )}
    </div>
  );
}
