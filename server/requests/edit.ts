import { and, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { fieldIssues } from "@/schemas/issues";
import { TaskRequest } from "@/schemas/task-request";
import { may } from "@/server/auth/permissions";
import { requestedCheckIssues } from "@/server/checks/checks";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db } from "@/server/db/client";
import { requests, tasks } from "@/server/db/schema";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/server/errors";
import { appendEvent } from "@/server/events/log";
import { planRequest } from "@/server/planning/plan";
import { moveTask } from "@/server/state/tasks/store";
import type { User } from "@/server/users/service";
import { moveRequest } from "../state/requests/store";
import { quarantinedOf, setAside } from "./set-aside";

/**
 * What an edit may change: the request's words and scope. Each field given replaces the old
 * value (a list is replaced, not added to); fields left out stay. The repository and the
 * requests it depends on stay as filed: changing them is a new request.
 */
const filing = TaskRequest.shape;
// The filing rules without their defaults: a field left out must stay as it was, not become [].
export const RequestEdit = z.strictObject({
  title: filing.title.optional(),
  description: filing.description.optional(),
  kind: filing.kind,
  areas: filing.areas.unwrap().optional(),
  files: filing.files.unwrap().optional(),
  acceptance: filing.acceptance.unwrap().optional(),
  checks: filing.checks.unwrap().optional(),
});

export type RequestEditInput = z.input<typeof RequestEdit>;

const EDITABLE = ["needs_clarification", "needs_attention", "failed"] as const;

/**
 * Edits a request that waits for clarification, or one that failed, and plans it again. Its
 * requester edits while the Engineer waits for them; once the question came back after an answer
 * (needs_attention) a reviewer, operator or admin takes over, as for answers. A failed request is
 * its requester's (or an operator's or admin's, as for running it again) to edit: its failed and
 * triaged tasks are superseded by the new plan (what landed stays), and its quarantined changes
 * set aside. Validation is the filing rules', on the request as it would be after the edit, so
 * nothing is written unless all of it is valid.
 */
export async function editRequest(
  db: Db,
  config: LoadedConfig,
  id: number,
  user: User,
  input: unknown,
) {
  const parsed = RequestEdit.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const edit = parsed.data;
  const given = Object.keys(edit).filter(
    (k) => edit[k as keyof typeof edit] !== undefined,
  ) as (keyof typeof edit)[];
  if (given.length === 0)
    throw new ValidationError([
      {
        path: "",
        message:
          "an edit must change at least one of title, description, kind, areas, files, acceptance or checks",
      },
    ]);
  const [row] = await db.select().from(requests).where(eq(requests.id, id)).limit(1);
  if (!row) throw new NotFoundError(`no request ${id}`);
  const target = { ownerId: row.requesterId };
  const failed = row.status === "failed";
  if (failed && !may(user, "request.rerun", target))
    throw new ForbiddenError(
      `R${id} is not yours; its requester, an operator or an admin may edit it and plan it again`,
    );
  if (!failed && !may(user, "request.edit", target))
    throw new ForbiddenError(
      `request ${id} is another requester's; only its requester may edit it`,
    );
  if (!(EDITABLE as readonly string[]).includes(row.status))
    throw new ValidationError([
      {
        path: "id",
        message: `request ${id} is ${row.status.replaceAll("_", " ")}; only a request that waits for clarification or failed can be edited (cancel it and file a new one instead)`,
      },
    ]);
  if (row.status === "needs_attention" && !may(user, "request.rescope", target))
    throw new ForbiddenError(
      `request ${id} needs a reviewer or operator to re-scope it; the same question came back after an answer`,
    );

  const next = TaskRequest.safeParse({
    title: edit.title ?? row.title,
    description: edit.description ?? row.description,
    repo: row.repo,
    priority: row.priority,
    areas: edit.areas ?? row.areas,
    files: edit.files ?? row.files,
    dependsOn: row.dependsOn,
    acceptance: edit.acceptance ?? row.acceptance,
    checks: edit.checks ?? row.checks,
    ...((edit.kind ?? row.kind) ? { kind: edit.kind ?? row.kind } : {}),
  });
  if (!next.success) throw new ValidationError(fieldIssues(next.error));
  const policy = policyFor(config, row.repo);
  const unknown = next.data.areas.flatMap((area, i) =>
    policy.areas.some((p) => p.name === area)
      ? []
      : [
          {
            path: `areas[${i}]`,
            message: `unknown area '${area}'; areas of ${row.repo}: ${policy.areas.map((p) => p.name).join(", ")}`,
          },
        ],
  );
  const badChecks = requestedCheckIssues(
    config.repositories.find((r) => r.name === row.repo)?.policy,
    row.repo,
    next.data.checks,
  );
  if (unknown.length || badChecks.length) throw new ValidationError([...unknown, ...badChecks]);

  const r = next.data;
  const replaced = failed ? await replacedWork(db, id) : { tasks: [], quarantined: [] };
  await db.transaction(async (tx) => {
    // Compare-and-swap: an answer or another edit at the same moment wins or loses whole.
    await moveRequest(tx, {
      id,
      from: row.status,
      to: "received",
      reason: `edited by ${user.email}`,
    });
    await setAside(tx, replaced.quarantined, user, "edited and planned again");
    for (const t of replaced.tasks)
      await moveTask(tx, {
        id: t.id,
        from: t.state,
        to: "superseded",
        event: { reason: `its request was edited and planned again by ${user.email}` },
      });
    await tx
      .update(requests)
      .set({
        title: r.title,
        description: r.description,
        kind: r.kind ?? null,
        areas: r.areas,
        files: r.files,
        acceptance: r.acceptance,
        checks: [...new Set(r.checks)],
        updatedAt: Date.now(),
      })
      .where(eq(requests.id, id));
    await appendEvent(tx, {
      topic: "request",
      type: "request.edited",
      entityId: id,
      payload: {
        id,
        by: user.email,
        fields: given,
        ...(failed ? { replaced: replaced.tasks.map((t) => t.id) } : {}),
      },
    });
  });
  try {
    return await planRequest(db, config, id);
  } catch (err) {
    // As for answers: the worker may plan it between the commit and this call.
    const now = (
      await db
        .select({ status: requests.status })
        .from(requests)
        .where(eq(requests.id, id))
        .limit(1)
    )[0]?.status;
    if (!now || (now === "received" && !(err instanceof ConflictError))) throw err;
    return { status: now, tasks: [] as string[], questions: [] as string[] };
  }
}

/**
 * What a new plan of a failed request replaces: its failed and triaged tasks (done ones stay:
 * their changes landed), and their changes waiting in quarantine.
 */
export async function replacedWork(db: Db, id: number) {
  const old = (await db
    .select({ id: tasks.id, state: tasks.state, change: tasks.changeRequestId })
    .from(tasks)
    .where(and(eq(tasks.requestId, id), inArray(tasks.state, ["failed", "triage"])))) as {
    id: string;
    state: "failed" | "triage";
    change: number | null;
  }[];
  const quarantined = await quarantinedOf(
    db,
    old.map((t) => t.change),
  );
  return { tasks: old, quarantined };
}
