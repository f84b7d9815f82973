import { and, eq, inArray, ne, or, type SQL, sql } from "drizzle-orm";
import type { MineFilter } from "@/schemas/mine";
import { can } from "@/server/auth/permissions";
import { changeRequests, queueEntries, requests, tasks } from "@/server/db/schema";
import type { User } from "@/server/users/service";

/**
 * The "Mine" filter as a condition on `requests`, shared by the board and the history: what the
 * viewer filed, or what waits for them — their own request's question; a request whose question
 * came back, for whoever may re-scope; a change waiting for approval on someone else's request,
 * for a reviewer (`server/auth/permissions.ts` decides who may do each).
 */
export function mineCondition(viewer: Pick<User, "id" | "role">, mine: MineFilter): SQL {
  const filed = eq(requests.requesterId, viewer.id);
  if (mine === "filed") return filed;
  const waiting: SQL[] = [
    and(filed, eq(requests.status, "needs_clarification")) as SQL,
    and(filed, eq(requests.status, "failed")) as SQL,
  ];
  if (can(viewer.role, "request.rescope")) waiting.push(eq(requests.status, "needs_attention"));
  if (can(viewer.role, "change.approve"))
    waiting.push(
      and(
        ne(requests.requesterId, viewer.id),
        inArray(
          requests.id,
          sql`(SELECT ${tasks.requestId} FROM ${tasks}
                 JOIN ${changeRequests} ON ${changeRequests.taskId} = ${tasks.id}
                 JOIN ${queueEntries} ON ${queueEntries.changeRequestId} = ${changeRequests.id}
                WHERE ${queueEntries.state} = 'awaiting_approval')`,
        ),
      ) as SQL,
    );
  return or(...waiting) as SQL;
}
