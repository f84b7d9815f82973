import { and, desc, eq, like } from "drizzle-orm";
import type { VerificationState } from "@/schemas/verification-state";
import type { DbLike } from "@/server/db/client";
import { events, verifications } from "@/server/db/schema";
import { appendEvent } from "@/server/events/log";
import { VerificationMoveConflict, verificationMachine } from "./states";

export { VerificationMoveConflict };

export type VerificationRow = typeof verifications.$inferSelect;
export type VerificationStep = VerificationRow["steps"][number];

type Fields = Partial<
  Pick<
    VerificationRow,
    "culpritCommit" | "culpritEntryId" | "revertEntryId" | "output" | "steps" | "finishedAt"
  >
>;

/** What an operator reads in the event: the outcome in words (the row has the whole output). */
export type VerificationNote = { reason?: string };

/**
 * Starts a verification of a target branch in `running`, with its event naming the verifier
 * that runs it (the owner a crash recovery asks about), in the caller's transaction.
 */
export async function createVerification(
  tx: DbLike,
  v: Pick<VerificationRow, "repo" | "targetBranch" | "goodCommit" | "headCommit"> & {
    owner: string;
  },
  now = Date.now(),
): Promise<VerificationRow> {
  const [row] = await tx
    .insert(verifications)
    .values({
      repo: v.repo,
      targetBranch: v.targetBranch,
      goodCommit: v.goodCommit,
      headCommit: v.headCommit,
      state: "running",
      steps: [],
      createdAt: now,
    })
    .returning();
  if (!row) throw new Error("verification not created");
  await announce(tx, row, null, "running", { owner: v.owner });
  return row;
}

/**
 * The one way a verification changes state, through `verificationMachine.move`: checks the move
 * against ./states.ts, updates the row only if it is still in `from` (compare-and-swap) and —
 * leaving `running` — still run by `owner` (a verifier whose run was restarted by another learns
 * it here), and appends the `verification.<to>` event in the same transaction.
 * `running → running` hands the run to `newOwner` and clears its steps: a restart from the top.
 */
export async function moveVerification(
  db: DbLike,
  move: {
    id: number;
    from: VerificationState;
    to: VerificationState;
    /** The verifier making the move; checked when leaving `running`. */
    owner: string;
    /** For a restart: who runs it now (the caller, usually). */
    newOwner?: string;
    /** For a restart: the owner found dead (null if none was recorded), instead of `owner`. */
    takeOverFrom?: string | null;
    set?: Fields;
    note?: VerificationNote;
    now?: number;
  },
): Promise<VerificationRow> {
  const now = move.now ?? Date.now();
  const restart = move.to === "running";
  return verificationMachine.move(db, {
    from: move.from,
    to: move.to,
    swap: async (tx) => {
      if (move.from === "running") {
        const holder = await verificationOwner(tx, move.id);
        const expected = move.takeOverFrom !== undefined ? move.takeOverFrom : move.owner;
        if (holder !== expected)
          throw new VerificationMoveConflict(
            `verification ${move.id}: run by ${holder ?? "nobody"}, not ${expected}; ${move.from} → ${move.to} not made`,
          );
      }
      return (
        await tx
          .update(verifications)
          .set({
            ...move.set,
            ...(restart ? { steps: [] } : {}),
            state: move.to,
            ...(move.to !== "running" ? { finishedAt: now } : {}),
          })
          .where(and(eq(verifications.id, move.id), eq(verifications.state, move.from)))
          .returning()
      )[0];
    },
    refused: async (tx) => {
      const [found] = await tx
        .select({ state: verifications.state })
        .from(verifications)
        .where(eq(verifications.id, move.id))
        .limit(1);
      return new VerificationMoveConflict(
        `verification ${move.id}: expected ${move.from}, found ${found?.state ?? "no verification"}; ${move.from} → ${move.to} not made`,
      );
    },
    record: async (tx, row) =>
      announce(tx, row, move.from, move.to, {
        owner: restart ? (move.newOwner ?? move.owner) : move.owner,
        ...(restart && move.takeOverFrom !== undefined ? { restartedFrom: move.takeOverFrom } : {}),
        ...move.note,
      }),
  });
}

/**
 * Records one commit the checks ran on, and its verdict, while the verification runs: not a
 * move (the state stays `running`), but guarded the same way, with a `verification.step` event
 * so the queue page can follow a bisection.
 */
export async function recordStep(
  tx: DbLike,
  s: { id: number; owner: string; step: VerificationStep },
): Promise<VerificationRow> {
  const holder = await verificationOwner(tx, s.id);
  const [row] = await tx.select().from(verifications).where(eq(verifications.id, s.id)).limit(1);
  if (row?.state !== "running" || holder !== s.owner)
    throw new VerificationMoveConflict(
      `verification ${s.id}: ${row ? `${row.state}, run by ${holder ?? "nobody"}` : "gone"}; step not recorded by ${s.owner}`,
    );
  const steps = [...row.steps, s.step];
  await tx.update(verifications).set({ steps }).where(eq(verifications.id, s.id));
  await appendEvent(tx, {
    topic: "queue",
    type: "verification.step",
    entityId: s.id,
    payload: {
      id: s.id,
      repo: row.repo,
      branch: row.targetBranch,
      step: steps.length,
      commit: s.step.commit,
      ok: s.step.ok,
      ...(s.step.note ? { note: s.step.note } : {}),
    },
  });
  return { ...row, steps };
}

/**
 * Who runs a verification: the owner named by its latest `verification.running` event (its
 * start, or the restart that took it over).
 */
export async function verificationOwner(tx: DbLike, id: number): Promise<string | null> {
  const [row] = await tx
    .select({ payload: events.payload })
    .from(events)
    .where(
      and(
        eq(events.topic, "queue"),
        eq(events.type, "verification.running"),
        eq(events.entityId, id),
      ),
    )
    .orderBy(desc(events.id))
    .limit(1);
  const owner = (row?.payload as { owner?: unknown } | undefined)?.owner;
  return typeof owner === "string" ? owner : null;
}

/** The verification events of the queue topic, newest first (for a page or the CLI). */
export async function verificationEvents(tx: DbLike, id: number) {
  return await tx
    .select()
    .from(events)
    .where(
      and(eq(events.topic, "queue"), eq(events.entityId, id), like(events.type, "verification.%")),
    )
    .orderBy(desc(events.id));
}

async function announce(
  tx: DbLike,
  row: VerificationRow,
  from: VerificationState | null,
  to: VerificationState,
  extra: Record<string, unknown>,
) {
  await appendEvent(tx, {
    topic: "queue",
    type: `verification.${to}`,
    entityId: row.id,
    payload: {
      id: row.id,
      repo: row.repo,
      branch: row.targetBranch,
      from,
      to,
      head: row.headCommit,
      good: row.goodCommit,
      ...(row.culpritCommit ? { culpritCommit: row.culpritCommit } : {}),
      ...(row.culpritEntryId !== null ? { culpritEntryId: row.culpritEntryId } : {}),
      ...(row.revertEntryId !== null ? { revertEntryId: row.revertEntryId } : {}),
      ...extra,
    },
  });
}
