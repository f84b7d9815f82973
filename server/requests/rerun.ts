import { and, eq } from "drizzle-orm";
import { may } from "@/server/auth/permissions";
import type { Db } from "@/server/db/client";
import { requests, tasks } from "@/server/db/schema";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/server/errors";
import { moveRequest } from "@/server/state/requests/store";
import { moveTask } from "@/server/state/tasks/store";
import type { User } from "@/server/users/service";
import { quarantinedOf, setAside } from "./set-aside";

/**
 * Runs a failed request again: its failed tasks go back to pending (dispatched again, to an
 * agent or the built-in developer), a quarantined change of theirs is set aside (rejected: the
 * new run makes a new one), and the request is in progress again — in one transaction. The
 * requester may do it for their own request; operators and admins for any.
 */
export async function rerunRequest(db: Db, id: number, user: User) {
  const [row] = await db.select().from(requests).where(eq(requests.id, id)).limit(1);
  if (!row) throw new NotFoundError(`no request R${id}`);
  if (!may(user, "request.rerun", { ownerId: row.requesterId }))
    throw new ForbiddenError(`R${id} is not yours; its requester or an operator may run it again`);
  if (row.status !== "failed")
    throw new ValidationError([
      {
        path: "id",
        message: `R${id} is ${row.status.replaceAll("_", " ")}; only a failed request can be run again`,
      },
    ]);
  const failed = await db
    .select()
    .from(tasks)
    .where(and(eq(tasks.requestId, id), eq(tasks.state, "failed")));
  if (!failed.length)
    throw new ConflictError(`R${id} has no failed task to run again; file a new request instead`);
  const quarantined = await quarantinedOf(
    db,
    failed.map((t) => t.changeRequestId),
  );
  const why = `run again by ${user.email}`;
  await db.transaction(async (tx) => {
    await setAside(tx, quarantined, user, "run again");
    for (const t of failed)
      await moveTask(tx, {
        id: t.id,
        from: "failed",
        to: "pending",
        set: { blockedReason: null },
        event: { reason: why, data: { previous: t.blockedReason } },
      });
    await moveRequest(tx, { id, from: "failed", to: "in_progress", reason: why });
  });
  return { id, tasks: failed.map((t) => t.id), setAside: quarantined };
}
