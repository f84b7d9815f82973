import { eq } from "drizzle-orm";
import { may } from "@/server/auth/permissions";
import type { Db } from "@/server/db/client";
import { requests } from "@/server/db/schema";
import { ConflictError, ForbiddenError, NotFoundError } from "@/server/errors";
import { appendEvent } from "@/server/events/log";
import { moveRequest } from "@/server/state/requests/store";
import { moveTask } from "@/server/state/tasks/store";
import type { User } from "@/server/users/service";
import { replacedWork } from "./edit";
import { setAside } from "./set-aside";

/** A request's status does not allow a restart: said in words, nothing written. */
export class RestartRefused extends Error {
  override name = "RestartRefused";
}

/**
 * Restarts a failed or cancelled request: it is planned again as filed, the way "Edit and plan
 * again" plans a failed one (server/requests/edit.ts) without changing a word — its failed and
 * triaged tasks are superseded by the new plan (what landed stays), its quarantined changes set
 * aside, and it goes back to `received`, where the worker plans it. One transaction (a
 * savepoint in the caller's: the meta queue seals its item's move with it). Its requester may
 * restart it; operators and admins any, as for running it again.
 */
export async function restartRequest(db: Db, id: number, user: User, why: string) {
  const [row] = await db.select().from(requests).where(eq(requests.id, id)).limit(1);
  if (!row) throw new NotFoundError(`no request R${id}`);
  if (!may(user, "request.rerun", { ownerId: row.requesterId }))
    throw new ForbiddenError(`R${id} is not yours; its requester or an operator may restart it`);
  if (row.status !== "failed" && row.status !== "cancelled")
    throw new RestartRefused(
      `R${id} is ${row.status.replaceAll("_", " ")}; only a failed or cancelled request can be restarted`,
    );
  const replaced = await replacedWork(db, id);
  return db.transaction(async (tx) => {
    await moveRequest(tx, { id, from: row.status, to: "received", reason: why }).catch((err) => {
      throw err instanceof ConflictError ? new RestartRefused(err.message) : err;
    });
    await setAside(tx, replaced.quarantined, user, "restarted");
    for (const t of replaced.tasks)
      await moveTask(tx, {
        id: t.id,
        from: t.state,
        to: "superseded",
        event: { reason: `its request was restarted: ${why}` },
      });
    await appendEvent(tx, {
      topic: "request",
      type: "request.restarted",
      entityId: id,
      payload: { id, by: user.email, from: row.status, reason: why },
    });
    return { id, from: row.status, superseded: replaced.tasks.map((t) => t.id) };
  });
}
