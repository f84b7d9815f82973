import { formatAge } from "../age";
import { EntryLink, RunLink, TaskLink } from "../ids";
import type { Overview } from "./types";

/**
 * Every host running a worker (several with PostgreSQL), its workers' heartbeats and what each
 * holds now: the queue entries its threads lease, the tasks it claimed, the agent runs it runs.
 */
export function Hosts({ hosts }: { hosts: Overview["status"]["hosts"] }) {
  if (hosts.length === 0) return null;
  return (
    <section aria-labelledby="hosts-heading">
      <h2 id="hosts-heading" className="mb-2 font-semibold">
        Hosts
      </h2>
      <ul className="grid grid-cols-1 gap-3 lg:grid-cols-2" data-testid="hosts">
        {hosts.map((h) => (
          <li
            key={h.host}
            className="rounded border border-slate-200 bg-white p-3 text-sm"
            data-testid="host-pane"
          >
            <div className="flex items-baseline justify-between gap-2">
              <span className="break-all font-mono font-semibold">{h.host}</span>
              <span className={h.alive ? "text-green-800" : "text-red-700"}>
                {h.alive ? "alive" : "not seen"}
              </span>
            </div>
            <ul className="mt-1 space-y-1">
              {h.workers.map((w) => (
                <li key={w.id} data-testid="host-worker">
                  <span className="break-all font-mono text-xs">{w.id}</span>{" "}
                  <span className="text-slate-600">
                    pid {w.pid}, {w.stopped ? "stopped" : w.alive ? "alive" : "silent"}, heartbeat{" "}
                    {formatAge(w.beatAgeMs)} ago, {w.threads.length} thread
                    {w.threads.length === 1 ? "" : "s"}
                  </span>
                  <div className="text-slate-700">
                    {w.holds.entries.length + w.holds.tasks.length + w.holds.runs.length === 0 ? (
                      "holds nothing"
                    ) : (
                      <>
                        holds{" "}
                        {w.holds.entries.map((id) => (
                          <span key={`e${id}`} className="mr-1">
                            <EntryLink id={id} />
                          </span>
                        ))}
                        {w.holds.tasks.map((id) => (
                          <span key={`t${id}`} className="mr-1">
                            <TaskLink id={id} />
                          </span>
                        ))}
                        {w.holds.runs.map((id) => (
                          <span key={`r${id}`} className="mr-1">
                            <RunLink id={id} />
                          </span>
                        ))}
                      </>
                    )}
                  </div>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </section>
  );
}
