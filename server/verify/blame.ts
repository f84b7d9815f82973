import { and, desc, eq, ne } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { changeRequests, queueEntries } from "@/server/db/schema";
import { NotFoundError, ValidationError } from "@/server/errors";
import { Repo } from "@/server/git/repo";
import { changeRequestOfMessage } from "@/server/queue/commit";
import { rollbackEntry } from "@/server/queue/rollback";
import { type ChangeRow, type Entry, getChange } from "@/server/state/queue/store";
import { moveVerification, type VerificationRow } from "../state/verify/store";
import { type Carrying, short, type VerifyOutcome } from "./carrying";
import type { Culprit } from "./culprit";
import { reopenTask } from "./reopen";

/**
 * Blames the culprit: the queue entry that landed it is found, its change reverted through the
 * merge queue and its task reopened, in the verification's move. A commit the queue did not
 * land, a revert already queued, an entry no longer merged, or a revert the queue refuses each
 * end the verification saying so.
 */
export async function blameCulprit(carry: Carrying, found: Culprit): Promise<VerifyOutcome> {
  const { db, row, opts, names, finish } = carry;
  const culprit = found.commit;
  const entry = await entryForCommit(db, carry.gitDir, row.repo, culprit);
  const base = `post-merge checks (${names}) fail from ${short(culprit)} on (bisection over ${found.candidates} commit${found.candidates === 1 ? "" : "s"})`;
  if (!entry)
    return finish("culprit", `${base}; it is not a landing of the merge queue: revert it by hand`, {
      culpritCommit: culprit,
      output: found.output,
    });
  const change = (await getChange(db, entry.changeRequestId)) as ChangeRow;
  const blamed = { culpritCommit: culprit, culpritEntryId: entry.id, output: found.output };
  const existing = await existingRevert(db, change.id);
  if (existing)
    return finish(
      "culprit",
      `${base}: change #${change.id} (Q${entry.id}); its revert is already Q${existing.id} (${existing.state})`,
      { ...blamed, revertEntryId: existing.id },
      async (tx, v) => reopenTask(tx, change, v, `${base}: change #${change.id} (Q${entry.id})`),
    );
  if (entry.state !== "merged")
    return finish(
      "culprit",
      `${base}: change #${change.id} (Q${entry.id}), which is ${entry.state.replace("_", " ")}; nothing to revert`,
      blamed,
    );
  let done: VerificationRow | null = null;
  try {
    await rollbackEntry(db, carry.config, entry.id, {
      within: async (tx, [revert]) => {
        const reason = `${base}: change #${change.id} (Q${entry.id}) is reverted by Q${revert?.entryId}`;
        done = await moveVerification(tx, {
          id: row.id,
          from: "running",
          to: "culprit",
          owner: opts.owner,
          set: { ...blamed, revertEntryId: revert?.entryId ?? null },
          note: { reason },
        });
        await reopenTask(tx, change, done, reason);
      },
    });
  } catch (err) {
    if (!(err instanceof ValidationError || err instanceof NotFoundError)) throw err;
    return finish(
      "culprit",
      `${base}: change #${change.id} (Q${entry.id}), whose revert could not be queued: ${err.message}`,
      blamed,
      async (tx, v) => reopenTask(tx, change, v, `${base}: change #${change.id} (Q${entry.id})`),
    );
  }
  const moved = done as unknown as VerificationRow;
  carry.tell("culprit", `${base}: change #${change.id} (Q${entry.id}) reverted`, moved);
  return { kind: "done", verification: moved };
}

/**
 * The queue entry that landed a commit: by its merged commit, else by the commit's
 * `Hyperion-Change-Request` trailer (server/queue/commit.ts).
 */
export async function entryForCommit(
  db: DbLike,
  gitDir: string,
  repo: string,
  commit: string,
): Promise<Entry | undefined> {
  const [direct] = await db
    .select()
    .from(queueEntries)
    .where(and(eq(queueEntries.repo, repo), eq(queueEntries.mergedCommit, commit)))
    .limit(1);
  if (direct) return direct;
  const text = await Repo.ofGitDir(gitDir)
    .readCommit(commit)
    .catch(() => "");
  const changeId = changeRequestOfMessage(text);
  if (changeId === null) return undefined;
  return (
    await db
      .select()
      .from(queueEntries)
      .where(and(eq(queueEntries.repo, repo), eq(queueEntries.changeRequestId, changeId)))
      .limit(1)
  )[0];
}

/** A revert of the change already on its way or landed (as rollbackEntry counts them: not rejected). */
async function existingRevert(db: DbLike, changeId: number): Promise<Entry | undefined> {
  return (
    await db
      .select({ entry: queueEntries })
      .from(changeRequests)
      .innerJoin(queueEntries, eq(queueEntries.changeRequestId, changeRequests.id))
      .where(and(eq(changeRequests.revertOf, changeId), ne(queueEntries.state, "rejected")))
      .orderBy(desc(queueEntries.id))
      .limit(1)
  )[0]?.entry;
}
