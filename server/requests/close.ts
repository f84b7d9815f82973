import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { fieldIssues } from "@/schemas/issues";
import { CONTROL_BUT_LINES } from "@/schemas/task-request";
import { may } from "@/server/auth/permissions";
import type { Db } from "@/server/db/client";
import { requests, tasks } from "@/server/db/schema";
import { ForbiddenError, NotFoundError, ValidationError } from "@/server/errors";
import { appendEvent } from "@/server/events/log";
import { moveRequest } from "@/server/state/requests/store";
import type { User } from "@/server/users/service";
import { quarantinedOf, setAside } from "./set-aside";

/** The longest reason a close keeps, in characters. */
export const CLOSE_REASON_MAX = 500;

/** Why a failed request is closed: a sentence a person writes, shown on the request page. */
export const CloseReason = z
  .string({ error: "say why you close it, in a sentence" })
  .trim()
  .min(1, "say why you close it, in a sentence")
  .max(CLOSE_REASON_MAX, `at most ${CLOSE_REASON_MAX} characters`)
  // Control characters (a NUL, an escape sequence) would reach every page and terminal.
  .refine((s) => !CONTROL_BUT_LINES.test(s), {
    message: "control characters are not allowed; write plain text",
  });

/**
 * Closes a failed request with a reason: it ends `cancelled`, its `request.closed` event keeps who
 * and why (the request page shows it), and its changes left in quarantine are set aside
 * (rejected), all in one transaction. What landed stays. Its requester may close it; operators
 * and admins any, as for cancelling. Only a failed request is closed this way: an unfinished one
 * is cancelled, a finished one stays as it ended.
 */
export async function closeRequest(db: Db, id: number, user: User, reason: unknown) {
  const parsed = CloseReason.safeParse(reason);
  if (!parsed.success)
    throw new ValidationError(
      // The reason is one string: every issue is about the `reason` field.
      fieldIssues(parsed.error).map((i) => ({ ...i, path: "reason" })),
    );
  const why = parsed.data;
  const [row] = await db.select().from(requests).where(eq(requests.id, id)).limit(1);
  if (!row) throw new NotFoundError(`no request R${id}`);
  if (!may(user, "request.cancel", { ownerId: row.requesterId }))
    throw new ForbiddenError(`R${id} is not yours; its requester or an operator may close it`);
  if (row.status !== "failed")
    throw new ValidationError([
      {
        path: "id",
        message: `R${id} is ${row.status.replaceAll("_", " ")}; only a failed request can be closed${
          ["done", "cancelled", "rolled_back"].includes(row.status) ? "" : " (cancel it instead)"
        }`,
      },
    ]);
  const quarantined = await quarantinedOf(
    db,
    (
      await db
        .select({ change: tasks.changeRequestId })
        .from(tasks)
        .where(and(eq(tasks.requestId, id), eq(tasks.state, "failed")))
    ).map((t) => t.change),
  );
  await db.transaction(async (tx) => {
    await moveRequest(tx, {
      id,
      from: "failed",
      to: "cancelled",
      reason: `closed by ${user.email}: ${why}`,
    });
    await setAside(tx, quarantined, user, "closed");
    await appendEvent(tx, {
      topic: "request",
      type: "request.closed",
      entityId: id,
      payload: { id, by: user.email, reason: why },
    });
  });
  return { id, status: "cancelled" as const, reason: why, setAside: quarantined };
}
