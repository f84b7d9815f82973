import Link from "next/link";
import { z } from "zod";
import { Forbidden } from "@/components/forbidden";
import { type RunFilter, RunsBoard, RunsFilter } from "@/components/runs-board";
import { AgentName, agentNames } from "@/schemas/agents";
import { runStates } from "@/schemas/run-state";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { lastEventId } from "@/server/events/log";
import { runtime } from "@/server/runtime";
import { pageCaller } from "@/server/trpc/page-caller";

export const metadata = { title: "Runs" };
export const dynamic = "force-dynamic";

const RunState = z.enum(runStates);
type Param = string | string[] | undefined;

/** A query value read against its allowed values: absent, known, or a problem to show. */
function readParam<T extends string>(
  name: string,
  raw: Param,
  schema: z.ZodType<T>,
  allowed: readonly string[],
): { value?: T; problem?: string } {
  if (raw === undefined || raw === "") return {};
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { value: parsed.data };
  const shown = Array.isArray(raw) ? raw.join(", ") : raw;
  return { problem: `Unknown ${name} “${shown}”: choose one of ${allowed.join(", ")}.` };
}

export default async function RunsPage(props: {
  searchParams: Promise<{ state?: string | string[]; agent?: string | string[] }>;
}) {
  const user = await requirePageUser("/runs");
  if (!can(user.role, "queue.read")) return <Forbidden need="queue.read" />;
  const params = await props.searchParams;
  const state = readParam("state", params.state, RunState, runStates);
  const agent = readParam("agent", params.agent, AgentName, agentNames);
  const filter: RunFilter = { state: state.value, agent: agent.value };
  const problems = [state.problem, agent.problem].filter((p): p is string => Boolean(p));

  const { db } = runtime();
  // Read the cursor first: a run event written between the two reads is then replayed, not lost.
  const cursor = await lastEventId(db);
  const caller = pageCaller(user);
  const rows = problems.length ? [] : (await caller.run.list(filter)).rows;

  return (
    <section>
      <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
        <h1 className="text-2xl font-semibold">Agent runs</h1>
        <RunsFilter
          key={`${filter.state ?? ""}|${filter.agent ?? ""}`}
          filter={filter}
          states={runStates}
          agents={agentNames}
        />
      </div>
      {problems.length > 0 ? (
        <div
          role="alert"
          className="rounded border border-amber-300 bg-amber-50 p-4 text-sm"
          data-testid="runs-filter-error"
        >
          {problems.map((p) => (
            <p key={p}>{p}</p>
          ))}
          <p className="mt-1">
            Runs are not listed until the filter is fixed.{" "}
            <Link href="/runs" className="underline">
              Show all runs
            </Link>
            .
          </p>
        </div>
      ) : (
        <RunsBoard
          key={`${filter.state ?? ""}|${filter.agent ?? ""}`}
          initial={rows}
          cursor={cursor}
          filter={filter}
        />
      )}
    </section>
  );
}
