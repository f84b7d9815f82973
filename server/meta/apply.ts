import { eq } from "drizzle-orm";
import { MetaItemInput } from "@/schemas/meta";
import type { Db, DbLike } from "@/server/db/client";
import { metaItems, requests } from "@/server/db/schema";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/server/errors";
import { appendEvent } from "@/server/events/log";
import { log } from "@/server/log";
import { cancelRequest } from "@/server/requests/cancel";
import { RestartRefused, restartRequest } from "@/server/requests/restart";
import { steerRun } from "@/server/runs/steers";
import { overridesInForce } from "@/server/state/meta/overrides";
import {
  type MetaItemRow,
  MetaMoveConflict,
  moveMetaItem,
  noteMetaWait,
} from "@/server/state/meta/store";
import { getUser, type User } from "@/server/users/service";
import { dependencyCycle } from "./cycle";

/** The item names things that exist, but their state does not allow it now or ever. */
class Refused extends Error {}
/** The item's effect must wait (a task of the request is in an agent's hands): try again later. */
class Later extends Error {}

const FINISHED = ["done", "failed", "cancelled", "rolled_back"];

/**
 * Applies a pending item, once: its effect and its move to `applied` are one transaction, so a
 * second attempt (the worker's, or a repeat that raced the first) finds it applied and does
 * nothing. An item the state refuses moves to `refused` with the reason, and nothing of it is
 * written; one that must wait stays pending, saying what for. Returns the item as it stands.
 */
export async function applyMetaItem(db: Db, id: number): Promise<MetaItemRow> {
  try {
    await db.transaction(async (tx) => {
      const item = await itemOf(tx, id);
      if (item.state !== "pending") return;
      const user = await userOf(tx, item);
      const effect = await effectOf(tx, item, user);
      await moveMetaItem(tx, { id, from: "pending", to: "applied", effect });
    });
  } catch (err) {
    if (err instanceof Refused || err instanceof RestartRefused)
      await db
        .transaction((tx) =>
          moveMetaItem(tx, { id, from: "pending", to: "refused", effect: err.message }),
        )
        .catch((e) => {
          if (!(e instanceof MetaMoveConflict)) throw e;
        });
    else if (err instanceof Later) await noteMetaWait(db, id, `waiting: ${err.message}`);
    else if (!(err instanceof MetaMoveConflict)) {
      // Anything else (a busy database, a git hiccup) leaves it pending for the worker's pass.
      log.warn({ err, item: id }, "meta item not applied; the worker tries it again");
      await noteMetaWait(db, id, `waiting: will try again (${(err as Error).message})`);
    }
  }
  return itemOf(db, id);
}

/** The pending items, oldest first, each applied in turn: the worker's pass. */
export async function applyPendingMetaItems(db: Db, limit = 50): Promise<number> {
  const pending = await db
    .select({ id: metaItems.id })
    .from(metaItems)
    .where(eq(metaItems.state, "pending"))
    .orderBy(metaItems.id)
    .limit(limit);
  let applied = 0;
  for (const p of pending) if ((await applyMetaItem(db, p.id)).state !== "pending") applied++;
  return applied;
}

async function itemOf(db: DbLike, id: number): Promise<MetaItemRow> {
  const [row] = await db.select().from(metaItems).where(eq(metaItems.id, id)).limit(1);
  if (!row) throw new NotFoundError(`no meta item ${id}`);
  return row;
}

async function userOf(db: Db, item: MetaItemRow): Promise<User> {
  const user = item.userId !== null ? await getUser(db, item.userId) : undefined;
  if (!user) throw new Refused(`its submitter (${item.by}) is no longer a user`);
  return user;
}

/** What the services below throw, as the item's outcome: refused, or to be tried later. */
function outcomeOf(err: unknown): never {
  if (err instanceof ConflictError) throw new Later(err.message);
  if (err instanceof ValidationError)
    throw new Refused(err.issues.map((i) => i.message).join("; "));
  if (err instanceof NotFoundError || err instanceof ForbiddenError) throw new Refused(err.message);
  throw err;
}

/** Writes the item's effect (in the caller's transaction) and says what it did. */
async function effectOf(tx: Db, row: MetaItemRow, user: User): Promise<string> {
  if (row.kind === "qa_escalation") throw new Refused("recorded by the QA gate: nothing to apply");
  const item = MetaItemInput.parse({ ...row.payload, sourceEventId: row.sourceEventId });
  const via = `meta item #${row.id}${item.note ? `: ${item.note}` : ""}`;
  switch (item.kind) {
    case "depend":
      return addDependency(tx, row.id, item.request, item.on);
    case "priority": {
      const target = item.request !== undefined ? `R${item.request}` : `${item.repo}`;
      return `${target}'s pending tasks are dispatched at ${item.priority} priority${
        item.request === undefined ? " (a request's own override comes first)" : ""
      }`;
    }
    case "pause": {
      const was = (await overridesInForce(tx)).paused.get(item.repo);
      return was
        ? `${item.repo} was already paused (meta item #${was.itemId}); it stays paused`
        : `${item.repo} paused: none of its tasks is dispatched until a resume item; running work goes on`;
    }
    case "resume":
      return (await overridesInForce(tx)).paused.has(item.repo)
        ? `${item.repo} resumed: its tasks are dispatched again`
        : `${item.repo} was not paused: nothing changed`;
    case "cancel": {
      const res = await cancelRequest(tx, item.request, user, via).catch(outcomeOf);
      return `R${item.request} cancelled: its pending tasks closed${
        res.rejectedEntries.length
          ? `, its waiting changes ${res.rejectedEntries.map((e) => `Q${e}`).join(", ")} withdrawn from the queue`
          : ""
      }`;
    }
    case "restart": {
      const res = await restartRequest(
        tx,
        item.request,
        user,
        `restarted by ${row.by} (${via})`,
      ).catch(outcomeOf);
      return `R${item.request} restarted (it was ${res.from}): the worker plans it again${
        res.superseded.length ? `; tasks ${res.superseded.join(", ")} superseded` : ""
      }`;
    }
    case "steer": {
      const res = await steerRun(tx, item.run, user, {
        command: item.command,
        reason: item.message,
        sourceEventId: row.sourceEventId,
      }).catch(outcomeOf);
      return res.repeated
        ? `run ${item.run} already had this steering (from its page); nothing new was sent`
        : `${item.command} sent to run ${item.run}: its supervisor applies it within a tick`;
    }
  }
}

/**
 * "R12 waits for R9 to land": R9 added to R12's dependsOn, with a `request.dependency` event, so
 * the dispatcher holds R12's pending tasks until R9 is done, and fails them if it fails.
 */
async function addDependency(tx: Db, itemId: number, id: number, on: number): Promise<string> {
  const [waiting] = await tx.select().from(requests).where(eq(requests.id, id)).limit(1);
  const [other] = await tx.select().from(requests).where(eq(requests.id, on)).limit(1);
  if (!waiting || !other) throw new Refused(`request R${waiting ? on : id} no longer exists`);
  const name = (r: { id: number; repo: string }) => `R${r.id} (${r.repo})`;
  if (FINISHED.includes(waiting.status))
    throw new Refused(
      `${name(waiting)} is ${waiting.status.replaceAll("_", " ")}; only a request that has not finished can wait for another`,
    );
  if (["failed", "cancelled", "rolled_back"].includes(other.status))
    throw new Refused(
      `${name(other)} is ${other.status.replaceAll("_", " ")}; a request cannot wait for one that ended without landing`,
    );
  if (waiting.dependsOn.includes(on)) return `${name(waiting)} already waits for ${name(other)}`;
  // Checked again here: another item may have added the other half since this one was checked.
  const cycle = await dependencyCycle(tx, id, on);
  if (cycle) throw new Refused(`dependency cycle: ${cycle} (each waits for the next)`);
  await tx
    .update(requests)
    .set({ dependsOn: [...waiting.dependsOn, on], updatedAt: Date.now() })
    .where(eq(requests.id, id));
  await appendEvent(tx, {
    topic: "request",
    type: "request.dependency",
    entityId: id,
    payload: { id, on, onRepo: other.repo, metaItem: itemId },
  });
  return other.status === "done"
    ? `${name(waiting)} waits for ${name(other)}, which has landed already: nothing to hold`
    : `${name(waiting)} waits for ${name(other)} to land: none of its tasks is dispatched before, and it fails if ${name(other)} fails`;
}
