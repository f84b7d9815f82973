import type { QueuePipeline } from "@/schemas/policy";
import { policyFor } from "@/server/config/policy";
import type { ObjectStore } from "@/server/git/objects";
import { readRefFs } from "@/server/git/refs-fs";
import { log } from "@/server/log";
import { approvalGate } from "@/server/queue/approval-gate";
import { qaGate, qaWaitNote } from "@/server/queue/qa-gate";
import { claimLane } from "../state/queue/claim";
import {
  type Entry,
  getChange,
  handBack,
  heartbeatEntry,
  laneRival,
  pathsOf,
  StaleLeaseError,
} from "../state/queue/store";
import { checkedOutTree, findLanded } from "./land";
import { Moves } from "./land-on-tip";
import { readyMirror } from "./move-branch";
import { rounds } from "./pipeline-rounds";
import { type Member, merge, type PipelineReport } from "./pipeline-steps";
import { claimedBefore, type ProcessContext, processEntry, storeFor } from "./process";

// The speculative pipeline of one branch (policy queue.pipeline), run by the thread that claimed
// its first entry: up to `window` entries in one lane, stacked in batches of up to `batch.max`
// on the branch's tip, each batch's top commit checked at the same time as the others. The
// passing batches ahead of the first failure land in one move of the branch (one commit per
// change, each with its trailers); the first failing batch is split in two (bisection) — a single
// change that fails again on a re-run of the same commit is quarantined with the output, one
// that passes on the re-run was flaky and blames nobody — and everything stacked on it is
// stacked again on the new tip. Each check runs on exactly the commit that would land.

export type { PipelineReport, PipelineRound } from "./pipeline-steps";

/** Carries a lane of one branch to its end, starting from the entry this thread just claimed. */
export async function runPipeline(
  ctx: ProcessContext,
  first: Entry,
  settings: QueuePipeline,
): Promise<PipelineReport> {
  const report: PipelineReport = { rounds: [], checkRuns: 0 };
  const repo = ctx.config.repositories.find((r) => r.name === first.repo);
  if (!repo) {
    await processEntry(ctx, first);
    return report;
  }
  // A remote's mirror is fetched as the lane starts: entries claimed before are then looked for
  // on the server's branch as it is, and the lane builds on its tip.
  const unready = await readyMirror(ctx.db, repo, true);
  if (unready) {
    await new Moves(ctx, first).fail(unready);
    return report;
  }
  const store = await storeFor(ctx, repo.path);
  // A checked-out branch is synced one landing at a time (land-on-tip.ts): no pipeline there.
  if (checkedOutTree(store, first.targetBranch)) {
    await processEntry(ctx, first);
    return report;
  }
  // One lane a branch: a newer claim is given back to the lane (or the older claim) that leads it.
  const rival = await laneRival(ctx.db, first, ctx.owner);
  if (rival) {
    await handBack(
      ctx.db,
      first,
      ctx.owner,
      `the pipeline of ${first.targetBranch} is ${rival.owner}'s`,
    );
    return report;
  }
  const lane = await claimLane(ctx.db, ctx.owner, first, settings.window, ctx.opts);
  const held = new Set(lane.map((e) => e.id));
  // While entries keep arriving the lane takes them in between rounds, up to a budget, then ends
  // (so a worker asked to stop finishes it).
  let budget = 4 * settings.window - lane.length;
  const refill = async (room: number): Promise<Member[]> => {
    const n = Math.min(room, budget);
    if (n <= 0) return [];
    const more = (await claimLane(ctx.db, ctx.owner, first, n + 1, ctx.opts)).slice(1);
    budget -= more.length;
    for (const e of more) {
      lane.push(e);
      held.add(e.id);
    }
    const admitted = await admit(ctx, store, more, held);
    members.push(...admitted);
    return admitted;
  };
  const beat = setInterval(
    async () => {
      // A renewal the database does not take (out of reach) is tried again at the next beat.
      for (const e of lane)
        if (
          held.has(e.id) &&
          !(await heartbeatEntry(ctx.db, e, ctx.owner, ctx.opts).catch(() => true))
        )
          held.delete(e.id);
    },
    Math.max(50, Math.floor(ctx.opts.leaseMs / 3)),
  );
  let members: Member[] = [];
  try {
    members = await admit(ctx, store, lane, held);
    await rounds(
      ctx,
      store,
      `refs/heads/${first.targetBranch}`,
      [...members],
      settings,
      report,
      refill,
    );
  } catch (err) {
    // Whatever went wrong, the lane's entries still in hand go back to wait for a retry (one
    // whose lease another worker holds now is left to it).
    const message = err instanceof Error ? err.message : String(err);
    if (!(err instanceof StaleLeaseError)) log.error({ error: message }, "pipeline failed");
    for (const m of members)
      if (["applying", "checking", "ready"].includes(m.moves.state))
        try {
          await m.moves.fail({ kind: "internal", message, paths: [] });
        } catch (inner) {
          if (!(inner instanceof StaleLeaseError)) throw inner;
        }
  } finally {
    clearInterval(beat);
  }
  return report;
}

/**
 * The lane's entries that go through the pipeline: not one landed before a crash (recorded as
 * merged now), not a dry run (carried alone), not one whose risk wants a reviewer first (it
 * waits unleased, and the pipeline goes on without it).
 */
async function admit(
  ctx: ProcessContext,
  store: ObjectStore,
  lane: Entry[],
  held: Set<number>,
): Promise<Member[]> {
  const members: Member[] = [];
  const policy = policyFor(ctx.config, lane[0]?.repo ?? "");
  // Paths held by an entry of the lane that now waits for a reviewer (or by one given back for
  // that reason), with the entry that holds each: a later one on them is given back to wait.
  const paths = await pathsOf(
    ctx.db,
    lane.map((e) => e.id),
  );
  const heldPaths = new Map<string, number>();
  const hold = (entry: Entry, by: number) => {
    for (const p of paths.get(entry.id) ?? []) if (!heldPaths.has(p)) heldPaths.set(p, by);
  };
  for (const entry of lane) {
    const change = await getChange(ctx.db, entry.changeRequestId);
    const moves = new Moves(ctx, entry);
    try {
      const common = (paths.get(entry.id) ?? []).find((p) => heldPaths.has(p));
      if (common !== undefined) {
        const by = heldPaths.get(common) ?? entry.id;
        held.delete(entry.id);
        await handBack(
          ctx.db,
          entry,
          ctx.owner,
          `waits behind Q${by}, which waits for a reviewer and changes ${common} too`,
        );
        hold(entry, by);
        continue;
      }
      if (!change) {
        await moves.fail({ kind: "internal", message: "its change request is gone", paths: [] });
        continue;
      }
      if (ctx.opts.dryRun || change.dryRun) {
        held.delete(entry.id);
        await processEntry(ctx, entry);
        continue;
      }
      if (await claimedBefore(ctx.db, entry.id)) {
        const ref = `refs/heads/${entry.targetBranch}`;
        const landed = await findLanded(
          store,
          readRefFs(store.gitDir, ref),
          change.id,
          entry.createdAt,
        );
        if (landed) {
          await merge(ctx, [{ entry, change, moves, cache: {}, trailers: [], commit: landed }]);
          continue;
        }
      }
      const gate = await approvalGate(ctx.db, policy, change, entry.id);
      if (!gate.satisfied) {
        await moves.to("awaiting_approval", {
          note: `${change.risk} risk: waiting for ${gate.needed - gate.have} more approval(s); the pipeline goes on without it`,
        });
        held.delete(entry.id);
        hold(entry, entry.id);
        continue;
      }
      // Manual QA, like approval, is asked before the lane checks it: the pipeline does not
      // hold a lane open for a person (docs/worker-factory.md, "QA gating").
      const qa = await qaGate(ctx.db, policy, change, entry.id);
      if (!qa.satisfied && qa.kind) {
        await moves.to("qa_required", {
          note: `${qaWaitNote(qa.kind)}; the pipeline goes on without it`,
        });
        held.delete(entry.id);
        hold(entry, entry.id);
        continue;
      }
      members.push({
        entry,
        change,
        moves,
        cache: {},
        trailers: change.revertOf ? [`Hyperion-Reverts: ${change.revertOf}`] : [],
        commit: null,
      });
    } catch (err) {
      if (!(err instanceof StaleLeaseError)) throw err;
    }
  }
  return members;
}
