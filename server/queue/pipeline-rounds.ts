import { inArray } from "drizzle-orm";
import type { QueuePipeline } from "@/schemas/policy";
import { policyFor } from "@/server/config/policy";
import { queueEntryPaths } from "@/server/db/schema";
import type { ObjectStore } from "@/server/git/objects";
import { readRefFs } from "@/server/git/refs-fs";
import { notePipeline } from "../state/queue/store";
import { LandLock } from "./land-lock";
import {
  type Built,
  checkTop,
  drop,
  landPrefix,
  type Member,
  type PipelineReport,
  rerunFailed,
  stack,
  type Unbuilt,
} from "./pipeline-steps";
import type { ProcessContext } from "./process";

// The pipeline's rounds: what is stacked, what is probed, what the results say of each batch.

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
export async function rounds(
  ctx: ProcessContext,
  store: ObjectStore,
  branchRef: string,
  members: Member[],
  settings: QueuePipeline,
  report: PipelineReport,
  refill: (room: number) => Promise<Member[]> = async () => [],
): Promise<void> {
  const policy = policyFor(ctx.config, members[0]?.entry.repo ?? "");
  // The window adapts within the policy's: one more after a round that landed without a
  // failure, half after a failure.
  let window = settings.window;
  const lock = ctx.landLock ?? new LandLock();
  let groups: Group[] = chunk(members, settings.batch.max).map((m) => ({
    members: m,
    mark: "unknown",
  }));
  // Single changes being re-run on their failing commit, apart from the rounds: a flaky one
  // comes back clean, a failing one is quarantined meanwhile.
  const blaming = new Map<Member, Promise<Group | null>>();
  const waiting = new Map<Member, Member[]>();
  const settled: Group[] = [];
  while (groups.length > 0 || blaming.size > 0 || waiting.size > 0) {
    if (groups.length === 0 && blaming.size > 0) await Promise.race(blaming.values());
    // Those that waited for lane changes under them come back once those are gone.
    const inPlay = new Set([...groups.flatMap((g) => g.members), ...blaming.keys()]);
    for (const [m, below] of waiting)
      if (!below.some((b) => inPlay.has(b) || waiting.has(b))) {
        waiting.delete(m);
        settled.push({ members: [m], mark: "unknown" });
      }
    // (Should nothing be left in play to wait for, they all come back rather than wait for ever.)
    if (groups.length === 0 && blaming.size === 0 && settled.length === 0) {
      for (const m of waiting.keys()) settled.push({ members: [m], mark: "unknown" });
      waiting.clear();
    }
    groups = [...groups, ...settled.splice(0)];
    const inFlight = groups.reduce((n, g) => n + g.members.length, 0) + blaming.size;
    for (const more of chunk(await refill(window - inFlight), settings.batch.max))
      groups.push({ members: more, mark: "unknown" });
    groups.sort((x, y) => firstId(x) - firstId(y));
    if (groups.length === 0) continue;
    const tip = readRefFs(store.gitDir, branchRef);
    // Probing reorders batches: only while no two changes in play share a path.
    const mayProbe = await disjoint(ctx, [...groups.flatMap((g) => g.members), ...blaming.keys()]);
    const probing = mayProbe && groups.some((g) => g.mark === "suspect");
    // With a failure in the lane, batches never checked alone are probed in halves: where one
    // culprit was, others are likely, and smaller probes find them in fewer rounds.
    if (probing)
      groups = groups.flatMap((g) =>
        g.mark === "unknown" && g.members.length > 2
          ? half(g.members).map((members) => ({ members, mark: "unknown" as const }))
          : [g],
      );
    // Clean batches next to each other are stacked as one, up to batch.max: one check run
    // stands for them all.
    const stacked = mergeClean(
      probing ? groups.filter((g) => g.mark === "clean") : groups,
      settings.batch.max,
    );
    const probes = probing ? groups.filter((g) => g.mark !== "clean") : [];
    // The round's verdicts are read per batch as built: the joined ones replace their parts.
    groups = [...stacked, ...probes].sort((x, y) => firstId(x) - firstId(y));
    const built = await stack(
      store,
      stacked.map((g) => g.members),
      tip,
    );
    const probed =
      "built" in built
        ? await probe(
            store,
            probes,
            topOf(built.built, tip),
            built.built.flatMap((b) => b.group),
          )
        : built;
    const failedBuild = "dropped" in built ? built : "dropped" in probed ? probed : null;
    if (failedBuild) {
      const { dropped, error, below } = failedBuild;
      // A change that conflicts with lane changes under it (not with the tip) is no worse for
      // it: it waits, spending no attempt, until those have landed or left; one that conflicts
      // with the tip itself, or cannot apply at all, leaves the lane.
      if (error !== "quarantine" && below.length > 0) waiting.set(dropped, below);
      else await drop(dropped, error);
      groups = groups
        .map((g) => ({ ...g, members: g.members.filter((m) => m !== failedBuild.dropped) }))
        .filter((g) => g.members.length);
      continue;
    }
    const inStack = "built" in built ? built.built : [];
    const onTop = "built" in probed ? probed.built : [];
    await place(ctx, report.rounds.length + 1, inStack, onTop, settings.window);
    for (const m of [...inStack, ...onTop].flatMap((b) => b.group)) {
      if (m.moves.state === "ready") await m.moves.to("applying");
      if (m.moves.state !== "checking") await m.moves.to("checking");
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
    const landed =
      landing.length > 0 ? await landPrefix(ctx, store, branchRef, tip, landing, lock) : 0;
    report.rounds.push({
      batches: [...inStack, ...onTop].map((b) => b.group.length),
      landed,
      failedBatch: failed === -1 ? null : failed,
    });
    if (landed < 0) continue; // the tip moved under us: build again on the new one
    window =
      failed !== -1 || probing
        ? Math.max(1, Math.floor(window / 2))
        : Math.min(settings.window, window + 1);
    const gone = new Set(landing.flatMap((b) => b.group));
    // What the round taught: the first failing batch of the stack is bad; a probe is bad or
    // clean by its own result (unless the stack under it failed, which says nothing of it).
    const verdicts = new Map<Member[], boolean>();
    if (failed !== -1) verdicts.set((inStack[failed] as Built).group, false);
    if (failed === -1)
      for (const [i, b] of onTop.entries()) verdicts.set(b.group, probeResults[i]?.ok === true);
    const results = new Map<Member[], Awaited<ReturnType<typeof checkTop>>>();
    for (const [b, r] of zip(inStack, stackResults)) results.set(b.group, r);
    for (const [b, r] of zip(onTop, probeResults)) results.set(b.group, r);
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

/** Records for /queue where this round put each batch: stacked on which entry, or a probe. */
async function place(
  ctx: ProcessContext,
  round: number,
  inStack: Built[],
  onTop: Built[],
  window: number,
) {
  const lastOf = (b: Built | undefined) => b?.group.at(-1)?.entry.id ?? null;
  for (const [i, b] of inStack.entries())
    await notePipeline(
      ctx.db,
      b.group.map((m) => m.entry.id),
      ctx.owner,
      {
        round,
        role: "stacked",
        batch: i + 1,
        of: inStack.length,
        size: b.group.length,
        stackedOn: lastOf(inStack[i - 1]),
        window,
      },
    );
  for (const [i, b] of onTop.entries())
    await notePipeline(
      ctx.db,
      b.group.map((m) => m.entry.id),
      ctx.owner,
      {
        round,
        role: "probe",
        batch: i + 1,
        of: onTop.length,
        size: b.group.length,
        stackedOn: lastOf(inStack.at(-1)),
        window,
      },
    );
}

/** Neighbouring clean batches joined while they fit in `max`; others left as they are. */
function mergeClean(groups: Group[], max: number): Group[] {
  const out: Group[] = [];
  for (const g of groups) {
    const last = out.at(-1);
    if (
      last &&
      last.mark === "clean" &&
      g.mark === "clean" &&
      last.members.length + g.members.length <= max
    )
      out[out.length - 1] = { members: [...last.members, ...g.members], mark: "clean" };
    else out.push(g);
  }
  return out;
}

/** Pairs of a list and its results, as long as both have them. */
const zip = <A, B>(as: A[], bs: B[]): [A, B][] =>
  as.flatMap((a, i) => (i < bs.length ? [[a, bs[i] as B] as [A, B]] : []));

const firstId = (g: Group) => g.members[0]?.entry.id ?? 0;

/** The commit the probes stand on: the clean stack's top, or the tip. */
function topOf(built: Built[], tip: string | null): string | null {
  return built.at(-1)?.top ?? tip;
}

/** Each probe built alone on `base`, the top of the clean stack (`under`). */
async function probe(
  store: ObjectStore,
  probes: Group[],
  base: string | null,
  under: Member[],
): Promise<{ built: Built[] } | Unbuilt> {
  const built: Built[] = [];
  for (const g of probes) {
    const one = await stack(store, [g.members], base);
    if ("dropped" in one) return { ...one, below: [...under, ...one.below] };
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
  policy: Awaited<ReturnType<typeof policyFor>>,
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
  await m.moves.to("quarantined", {
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
async function disjoint(ctx: ProcessContext, members: Member[]): Promise<boolean> {
  const ids = members.map((m) => m.entry.id);
  if (ids.length < 2) return true;
  const rows = await ctx.db
    .select({ path: queueEntryPaths.path })
    .from(queueEntryPaths)
    .where(inArray(queueEntryPaths.entryId, ids));
  return new Set(rows.map((r) => r.path)).size === rows.length;
}
