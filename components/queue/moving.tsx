import Link from "next/link";
import { stateLabel } from "@/schemas/labels";
import { Age } from "../age";
import { EntryLink } from "../ids";
import { Cell, EmptyRow, StackedHead, stacked } from "../stacked-table";
import { StatusBadge } from "../status-badge";
import { BlockedBy } from "./blocked-by";
import { EntryCells } from "./entry-cells";
import type { Moving, Overview } from "./types";

/** The states of entries on their way to the branch (server/views/board.ts), in order. */
const movingStates = [
  "queued",
  "applying",
  "checking",
  "ready",
  "retry_wait",
  "awaiting_approval",
  "qa_required",
  "in_review",
] as const;

const utcTime = (at: number) => `${new Date(at).toISOString().slice(11, 19)} UTC`;

/** The state cell: an entry waiting for a reviewer links to its place on /approvals. */
function EntryState({ id, state }: { id: number; state: string }) {
  if (state === "qa_required")
    return (
      <Link href="/qa" data-testid="qa-required">
        <StatusBadge status={state} />
      </Link>
    );
  if (state !== "awaiting_approval") return <StatusBadge status={state} />;
  return (
    <Link href={`/approvals#entry-${id}`} data-testid="awaiting-approval">
      <StatusBadge status={state} />
    </Link>
  );
}

/** Who or what a moving entry waits for. */
function WaitingFor({ e }: { e: Moving }) {
  switch (e.state) {
    case "queued":
      return e.blockedBy.length ? <BlockedBy blockers={e.blockedBy} /> : <>a free queue thread</>;
    case "applying":
    case "checking":
    case "ready":
      return e.pipeline ? (
        <PipelinePlace e={e} />
      ) : (
        <>{e.leaseOwner ? `thread ${e.leaseOwner}` : "a queue thread"}</>
      );
    case "retry_wait":
      return (
        <>
          its next attempt at {utcTime(e.nextAttemptAt)}
          {e.lastError ? ` (after ${stateLabel(e.lastError.kind)})` : ""}
        </>
      );
    case "awaiting_approval":
      return <>a reviewer on /approvals</>;
    case "qa_required":
      return <>manual QA on /qa</>;
    case "in_review":
      return e.pullRequest ? (
        <a className="underline" href={e.pullRequest.url}>
          pull request #{e.pullRequest.number}
        </a>
      ) : (
        <>its pull request</>
      );
    default:
      return <>—</>;
  }
}

/**
 * Where the speculative pipeline put an entry this round: batch k of n stacked on the entry
 * under it (or the tip), or a probe checked alone while the lane bisects a failure.
 */
function PipelinePlace({ e }: { e: Moving }) {
  const p = e.pipeline;
  if (!p) return null;
  return (
    <span data-testid="pipeline-place" data-role={p.role}>
      {p.role === "probe" ? "bisecting: checked alone" : `batch ${p.batch} of ${p.of}`} ({p.size}{" "}
      change{p.size === 1 ? "" : "s"}) on {p.stackedOn ? <EntryLink id={p.stackedOn} /> : "the tip"}{" "}
      · round {p.round}
    </span>
  );
}

/** "about 12 s" from the measured check durations; a dash before any check ran. */
function Estimate({ ms }: { ms: number | null }) {
  if (ms === null) return <>—</>;
  const s = Math.max(1, Math.round(ms / 1000));
  return (
    <span data-testid="entry-eta">about {s < 120 ? `${s} s` : `${Math.round(s / 60)} min`}</span>
  );
}

/** What is on its way to the branch: a count by state, then an entry a row with what it waits for. */
export function MovingSection({
  entries,
  counts,
}: {
  entries: Moving[];
  counts: Overview["status"]["counts"];
}) {
  const shown = movingStates.map((s) => [s, counts[s]] as const).filter(([, n]) => n > 0);
  return (
    <section aria-labelledby="moving-heading">
      <h2 id="moving-heading" className="mb-2 font-semibold">
        Moving ({entries.length})
      </h2>
      {shown.length > 0 && (
        <ul className="mb-3 flex flex-wrap gap-2 text-sm" data-testid="state-counts">
          {shown.map(([state, n]) => (
            <li key={state} className="rounded bg-white px-2 py-1" data-state={state}>
              {stateLabel(state)}: <strong>{n}</strong>
            </li>
          ))}
        </ul>
      )}
      <table className={stacked.table} data-testid="pending-table">
        <StackedHead
          columns={["Entry", "Change", "State", "Waiting for", "Lands in", "Attempts", "Age"]}
        />
        <tbody className={stacked.tbody}>
          {entries.length === 0 && (
            <EmptyRow colSpan={7}>
              <span data-testid="queue-moving-empty">Nothing moving.</span> Submit with{" "}
              <code>npx hyperion submit change.json</code>, or file a request.
            </EmptyRow>
          )}
          {entries.map((e) => (
            <tr key={e.id} id={`entry-${e.id}`} className={stacked.row} data-testid="moving-entry">
              <EntryCells e={e} />
              <Cell label="State">
                <EntryState id={e.id} state={e.state} />
              </Cell>
              <Cell label="Waiting for">
                <WaitingFor e={e} />
              </Cell>
              <Cell label="Lands in">
                <Estimate ms={e.etaMs} />
              </Cell>
              <Cell label="Attempts">
                {e.attempts}/{e.maxAttempts}
              </Cell>
              <Cell label="Age">
                <Age at={e.createdAt} />
              </Cell>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
