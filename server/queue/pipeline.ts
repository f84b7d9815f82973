import { inArray } from "drizzle-orm";
import type { QueuePipeline } from "@/schemas/policy";
import type { EntryError } from "@/schemas/queue";
import { runChecks } from "@/server/checks/checks";
import { recordCheckRuns } from "@/server/checks/record";
import { policyFor } from "@/server/config/policy";
import { queueEntryPaths } from "@/server/db/schema";
import { ApplyConflict } from "@/server/git/apply";
import { InvalidTreeEntryError, MissingObjectError, type ObjectStore } from "@/server/git/objects";
import { PatchParseError } from "@/server/git/patch";
import { casRefFs, RefLockedError, RefMovedError, readRefFs } from "@/server/git/refs-fs";
import { log } from "@/server/log";
import { approvalGate } from "@/server/queue/approval-gate";
import { claimLane } from "../state/queue/claim";
import {
  type ChangeRow,
  type Entry,
  getChange,
  heartbeatEntry,
  StaleLeaseError,
} from "../state/queue/store";
import { buildCandidate, type CandidateCache, checkedOutTree, findLanded } from "./land";
import { LandLock } from "./land-lock";
import { Moves } from "./land-on-tip";
import { claimedBefore, type ProcessContext, processEntry, storeFor } from "./process";
import { markRolledBack } from "./rollback";

// The speculative pipeline of one branch (policy queue.pipeline), run by the thread that claimed
// its first entry: up to `window` entries in one lane, stacked in batches of up to `batch.max`
// on the branch's tip, each batch's top commit checked at the same time as the others. The
// passing batches ahead of the first failure land in one move of the branch (one commit per
// change, each with its trailers); the first failing batch is split in two (bisection) — a single
// change that fails again on a re-run of the same commit is quarantined with the output, one
// that passes on the re-run was flaky and blames nobody — and everything stacked on it is
// stacked again on the new tip. Each check runs on exactly the commit that would land.

/** One change of the lane: its entry, its change, its moves and its commit in the stack. */
type Member = {
  entry: Entry;
  change: ChangeRow;
  moves: Moves;
  cache: CandidateCache;
  trailers: string[];
  commit: string | null;
};

/** A batch as built in a round: its members and the commit on top of it. */
type Built = { group: Member[]; top: string };

/** What one round of the pipeline did, for the log and the tests. */
export type PipelineRound = { batches: number[]; landed: number; failedBatch: number | null };

export type PipelineReport = { rounds: PipelineRound[]; checkRuns: number };

const half = <T>(xs: T[]): [T[], T[]] => [
  xs.slice(0, Math.ceil(xs.length / 2)),
  xs.slice(Math.ceil(xs.length / 2)),
];

/** `xs` in up to `k` parts of near-equal size, in order. */
function parts<T>(xs: T[], k: number): T[][] {
  return chunk(xs, Math.ceil(xs.length / Math.min(k, xs.length)));
}

function chunk<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

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
  const store = await storeFor(ctx, repo.path);
  // A checked-out branch is synced one landing at a time (land-on-tip.ts): no pipeline there.
  if (checkedOutTree(store, first.targetBranch)) {
    await processEntry(ctx, first);
    return report;
  }
  const lane = claimLane(ctx.db, ctx.owner, first, settings.window, ctx.opts);
  const held = new Set(lane.map((e) => e.id));
  const beat = setInterval(
    () => {
      for (const e of lane)
        if (held.has(e.id) && !heartbeatEntry(ctx.db, e, ctx.owner, ctx.opts)) held.delete(e.id);
    },
    Math.max(50, Math.floor(ctx.opts.leaseMs / 3)),
  );
  let members: Member[] = [];
  try {
    members = await admit(ctx, store, lane, held);
    await rounds(ctx, store, `refs/heads/${first.targetBranch}`, members, settings, report);
  } catch (err) {
    // Whatever went wrong, the lane's entries still in hand go back to wait for a retry (one
    // whose lease another worker holds now is left to it).
    const message = err instanceof Error ? err.message : String(err);
    if (!(err instanceof StaleLeaseError)) log.error({ error: message }, "pipeline failed");
    for (const m of members)
      if (["applying", "checking", "ready"].includes(m.moves.state))
        try {
          m.moves.fail({ kind: "internal", message, paths: [] });
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
  for (const entry of lane) {
    const change = getChange(ctx.db, entry.changeRequestId);
    const moves = new Moves(ctx, entry);
    try {
      if (!change) {
        moves.fail({ kind: "internal", message: "its change request is gone", paths: [] });
        continue;
      }
      if (ctx.opts.dryRun || change.dryRun) {
        held.delete(entry.id);
        await processEntry(ctx, entry);
        continue;
      }
      if (claimedBefore(ctx.db, entry.id)) {
        const ref = `refs/heads/${entry.targetBranch}`;
        const landed = await findLanded(
          store,
          readRefFs(store.gitDir, ref),
          change.id,
          entry.createdAt,
        );
        if (landed) {
          merge(ctx, [{ entry, change, moves, cache: {}, trailers: [], commit: landed }]);
          continue;
        }
      }
      const gate = approvalGate(ctx.db, policy, change, entry.id);
      if (!gate.satisfied) {
        moves.to("awaiting_approval", {
          note: `${change.risk} risk: waiting for ${gate.needed - gate.have} more approval(s); the pipeline goes on without it`,
        });
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

/**
 * A batch of the lane: `unknown` until checked on its own, `clean` once it passed (alone or in
 * the stack), `suspect` when it is half of a batch that failed (or failed on its own).
 */
type Group = { members: Member[]; mark: "unknown" | "clean" | "suspect" };

/**
 * Rounds until every member has landed, or was quarantined or sent to retry. While no batch is
 * suspect, all are stacked in order and checked at once (the speculative pipeline). Once one
 * failed, the lane probes: the clean batches are stacked on the tip, and every other batch is
 * checked alone on top of them at the same time, so the culprits of several batches are found in
 * the same rounds (bisection in parallel); the first probe that passes lands with the clean
 * stack. Probing reorders batches, so a lane whose changes share a path only ever stacks.
 */
async function rounds(
  ctx: ProcessContext,
  store: ObjectStore,
  branchRef: string,
  members: Member[],
  settings: QueuePipeline,
  report: PipelineReport,
): Promise<void> {
  const policy = policyFor(ctx.config, members[0]?.entry.repo ?? "");
  const lock = ctx.landLock ?? new LandLock();
  const mayProbe = disjoint(ctx, members);
  let groups: Group[] = chunk(members, settings.batch.max).map((m) => ({
    members: m,
    mark: "unknown",
  }));
  // Single changes being re-run on their failing commit, apart from the rounds: a flaky one
  // comes back clean, a failing one is quarantined meanwhile.
  const blaming = new Map<Member, Promise<Group | null>>();
  const settled: Group[] = [];
  while (groups.length > 0 || blaming.size > 0) {
    if (groups.length === 0) await Promise.race(blaming.values());
    groups = [...groups, ...settled.splice(0)].sort((x, y) => firstId(x) - firstId(y));
    if (groups.length === 0) continue;
    const tip = readRefFs(store.gitDir, branchRef);
    const probing = mayProbe && groups.some((g) => g.mark === "suspect");
    const stacked = probing ? groups.filter((g) => g.mark === "clean") : groups;
    const probes = probing ? groups.filter((g) => g.mark !== "clean") : [];
    const built = await stack(
      store,
      stacked.map((g) => g.members),
      tip,
    );
    const probed = "built" in built ? await probe(store, probes, topOf(built.built, tip)) : built;
    const failedBuild = "dropped" in built ? built : "dropped" in probed ? probed : null;
    if (failedBuild) {
      // A change that no longer applies leaves the lane; the rest is built again.
      drop(failedBuild.dropped, failedBuild.error);
      groups = groups
        .map((g) => ({ ...g, members: g.members.filter((m) => m !== failedBuild.dropped) }))
        .filter((g) => g.members.length);
      continue;
    }
    const inStack = "built" in built ? built.built : [];
    const onTop = "built" in probed ? probed.built : [];
    for (const m of [...inStack, ...onTop].flatMap((b) => b.group)) {
      if (m.moves.state === "ready") m.moves.to("applying");
      if (m.moves.state !== "checking") m.moves.to("checking");
    }
    // The stack's tops are checked for every check of their changes and of those under them
    // (the branch after each must pass them all); a probe for its own and the stack's.
    const wanted = new Set<string>();
    const stackChecks = inStack.map(({ group, top }) => {
      for (const m of group) for (const c of m.change.checks) wanted.add(c);
      return checkTop(ctx, policy, store, group, top, [...wanted], report);
    });
    const probeChecks = onTop.map(({ group, top }) => {
      const own = new Set(wanted);
      for (const m of group) for (const c of m.change.checks) own.add(c);
      return checkTop(ctx, policy, store, group, top, [...own], report);
    });
    const [stackResults, probeResults] = await Promise.all([
      Promise.all(stackChecks),
      Promise.all(probeChecks),
    ]);
    const failed = stackResults.findIndex((r) => !r.ok);
    const passing = failed === -1 ? inStack : inStack.slice(0, failed);
    // With the whole stack passing, the first probe that passed sits on its top: it lands too.
    const firstProbe = failed === -1 ? probeResults.findIndex((r) => r.ok) : -1;
    const landing = firstProbe === -1 ? passing : [...passing, onTop[firstProbe] as Built];
    const landed = landing.length > 0 ? landPrefix(ctx, store, branchRef, tip, landing, lock) : 0;
    report.rounds.push({
      batches: [...inStack, ...onTop].map((b) => b.group.length),
      landed,
      failedBatch: failed === -1 ? null : failed,
    });
    if (landed < 0) continue; // the tip moved under us: build again on the new one
    const gone = new Set(landing.flatMap((b) => b.group));
    // What the round taught: the first failing batch of the stack is bad; a probe is bad or
    // clean by its own result (unless the stack under it failed, which says nothing of it).
    const verdicts = new Map<Member[], boolean>();
    if (failed !== -1) verdicts.set((inStack[failed] as Built).group, false);
    if (failed === -1) onTop.forEach((b, i) => verdicts.set(b.group, probeResults[i]?.ok === true));
    const results = new Map<Member[], Awaited<ReturnType<typeof checkTop>>>();
    inStack.forEach((b, i) => results.set(b.group, stackResults[i] as never));
    onTop.forEach((b, i) => results.set(b.group, probeResults[i] as never));
    const next: Group[] = [];
    // A batch found bad is split: in halves while the lane only stacks, in quarters while it
    // probes (the parts are checked side by side, so fewer rounds find the culprits).
    const split = (xs: Member[]) => (mayProbe ? parts(xs, 4) : half(xs));
    for (const g of groups) {
      const left = g.members.filter((m) => !gone.has(m));
      if (left.length === 0) continue;
      const key = [...inStack, ...onTop].find((b) => b.group === g.members)?.group;
      const verdict = key ? verdicts.get(key) : undefined;
      if (verdict === true) next.push({ members: left, mark: "clean" });
      else if (verdict === false && left.length > 1)
        for (const h of split(left)) next.push({ members: h, mark: "suspect" });
      else if (verdict === false) {
        const built = [...inStack, ...onTop].find((b) => b.group === g.members) as Built;
        const [m] = built.group as [Member];
        const result = results.get(g.members);
        blaming.set(
          m,
          blame(ctx, policy, store, built, result, settings, report).then((back) => {
            blaming.delete(m);
            if (back) settled.push(back);
            return back;
          }),
        );
      } else next.push({ members: left, mark: g.mark });
    }
    groups = next;
  }
}

const firstId = (g: Group) => g.members[0]?.entry.id ?? 0;

/** The commit the probes stand on: the clean stack's top, or the tip. */
function topOf(built: Built[], tip: string | null): string | null {
  return built.at(-1)?.top ?? tip;
}

/** Each probe built alone on `base`. */
async function probe(
  store: ObjectStore,
  probes: Group[],
  base: string | null,
): Promise<{ built: Built[] } | { dropped: Member; error: EntryError | "quarantine" }> {
  const built: Built[] = [];
  for (const g of probes) {
    const one = await stack(store, [g.members], base);
    if ("dropped" in one) return one;
    built.push(...one.built);
  }
  return { built };
}

/**
 * A single change that failed: re-run on the same commit (policy flakyReruns); a pass there was
 * flaky and blames nobody (it goes on, clean), a failure again quarantines it with the output.
 */
async function blame(
  ctx: ProcessContext,
  policy: ReturnType<typeof policyFor>,
  store: ObjectStore,
  built: Built,
  result: Awaited<ReturnType<typeof checkTop>> | undefined,
  settings: QueuePipeline,
  report: PipelineReport,
): Promise<Group | null> {
  const [m] = built.group as [Member];
  if (await rerunFailed(ctx, policy, store, built, result, settings, report))
    return { members: [m], mark: "clean" };
  if (!result || result.ok) return null;
  m.moves.to("quarantined", {
    error: {
      kind: result.timedOut ? "check_timeout" : "check_failed",
      message: result.reason,
      paths: [],
      outputTail: result.outputTail,
    },
  });
  return null;
}

/** Whether no two of the lane's changes touch a common path (then batches may be reordered). */
function disjoint(ctx: ProcessContext, members: Member[]): boolean {
  const ids = members.map((m) => m.entry.id);
  if (ids.length < 2) return true;
  const rows = ctx.db
    .select({ path: queueEntryPaths.path })
    .from(queueEntryPaths)
    .where(inArray(queueEntryPaths.entryId, ids))
    .all();
  return new Set(rows.map((r) => r.path)).size === rows.length;
}

/**
 * Every member's commit, stacked batch on batch on the tip. A change that no longer applies on
 * its place in the stack is returned with why, to leave the lane.
 */
async function stack(
  store: ObjectStore,
  groups: Member[][],
  tip: string | null,
): Promise<{ built: Built[] } | { dropped: Member; error: EntryError | "quarantine" }> {
  let base = tip;
  const built: Built[] = [];
  for (const group of groups) {
    for (const m of group) {
      try {
        const c = await buildCandidate(store, m.change, base, m.trailers, m.cache);
        m.commit = c.commit;
        base = c.commit;
      } catch (err) {
        if (err instanceof ApplyConflict)
          return {
            dropped: m,
            error: { kind: "conflict", message: err.message, paths: err.paths },
          };
        if (
          err instanceof PatchParseError ||
          err instanceof MissingObjectError ||
          err instanceof InvalidTreeEntryError
        ) {
          m.moves.to("quarantined", {
            error: { kind: "apply_failed", message: err.message, paths: [] },
          });
          return { dropped: m, error: "quarantine" };
        }
        throw err;
      }
    }
    if (base) built.push({ group, top: base });
  }
  return { built };
}

function drop(m: Member, error: EntryError | "quarantine"): void {
  if (error !== "quarantine") m.moves.fail(error);
}

/** The checks on a batch's top commit, recorded against it for each of its changes. */
async function checkTop(
  ctx: ProcessContext,
  policy: ReturnType<typeof policyFor>,
  store: ObjectStore,
  group: Member[],
  top: string,
  checks: string[],
  report: PipelineReport,
) {
  const result = await runChecks({
    gitDir: store.gitDir,
    commit: top,
    policy,
    checks,
    timeoutMs: ctx.opts.checkTimeoutMs,
  });
  if (checks.length > 0) report.checkRuns++;
  // One run on one commit, recorded for each change it stood for, at one time.
  const at = Date.now();
  for (const m of group)
    recordCheckRuns(
      ctx.db,
      {
        place: "landing",
        repo: m.entry.repo,
        commit: top,
        entryId: m.entry.id,
        changeRequestId: m.change.id,
      },
      result.ran,
      at,
    );
  return result;
}

/** Re-runs a failed batch's checks on the same commit; true when a re-run passes (flaky). */
async function rerunFailed(
  ctx: ProcessContext,
  policy: ReturnType<typeof policyFor>,
  store: ObjectStore,
  built: Built,
  result: Awaited<ReturnType<typeof checkTop>> | undefined,
  settings: QueuePipeline,
  report: PipelineReport,
): Promise<boolean> {
  if (!result || result.ok) return true;
  for (let i = 0; i < settings.flakyReruns; i++) {
    const again = await checkTop(
      ctx,
      policy,
      store,
      built.group,
      built.top,
      [result.check],
      report,
    );
    if (again.ok) {
      log.warn(
        { commit: built.top, check: result.check, entries: built.group.map((m) => m.entry.id) },
        "a check failed and then passed on the same commit: flaky, nobody blamed",
      );
      return true;
    }
  }
  return false;
}

/**
 * Moves the branch from the tip the stack was built on to the top of the passing batches, under
 * the landing lock, and records each change merged as its own commit. The number landed, or -1
 * when the tip moved meanwhile (nothing landed; the lane stacks again).
 */
function landPrefix(
  ctx: ProcessContext,
  store: ObjectStore,
  branchRef: string,
  tip: string | null,
  passing: Built[],
  lock: LandLock,
): number {
  const top = (passing.at(-1) as Built).top;
  lock.acquire();
  try {
    casRefFs(store.gitDir, branchRef, top, tip);
  } catch (err) {
    if (err instanceof RefMovedError || err instanceof RefLockedError) return -1;
    throw err;
  } finally {
    lock.release();
  }
  const landed = passing.flatMap((b) => b.group);
  merge(ctx, landed);
  return landed.length;
}

/** Records landed changes as merged, each as its own commit, in one transaction. */
function merge(ctx: ProcessContext, landed: Member[]): void {
  ctx.db.transaction(() => {
    for (const m of landed) {
      if (m.moves.state === "checking" || m.moves.state === "applying") m.moves.to("ready");
      m.moves.to("merged", { mergedCommit: m.commit ?? undefined });
      if (m.change.revertOf) markRolledBack(ctx.db, m.change.revertOf, ctx.owner);
    }
  });
}
