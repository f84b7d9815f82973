import { and, eq } from "drizzle-orm";
import { fieldIssues } from "@/schemas/issues";
import { TaskRequest } from "@/schemas/task-request";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db } from "@/server/db/client";
import { requestSpecs, requests, tasks } from "@/server/db/schema";
import { NotFoundError, ValidationError } from "@/server/errors";
import { decompose } from "@/server/planning/decompose";
import { BuiltinEngineer, type Engineer, type EngineerResult } from "@/server/planning/engineer";
import { listRepoFiles } from "@/server/planning/repo-files";
import { moveRequest } from "@/server/state/requests/store";
import { createPlannedTasks, moveTask } from "@/server/state/tasks/store";

/**
 * Engineer and Orchestrator for one received request: a spec and its tasks (status planned),
 * or questions back to the requester (status needs_clarification). All in one transaction.
 */
export async function planRequest(
  db: Db,
  config: LoadedConfig,
  requestId: number,
  engineer: Engineer = new BuiltinEngineer(),
) {
  const [row] = await db.select().from(requests).where(eq(requests.id, requestId)).limit(1);
  if (!row) throw new NotFoundError(`no request ${requestId}`);
  if (row.status !== "received")
    return { status: row.status, tasks: [] as string[], questions: [] as string[] };
  const repo = config.repositories.find((r) => r.name === row.repo);
  if (!repo) throw new NotFoundError(`repository '${row.repo}' is not configured`);
  const policy = policyFor(config, row.repo);
  const parsed = TaskRequest.safeParse({
    title: row.title,
    description: row.description,
    repo: row.repo,
    ...(row.kind ? { kind: row.kind } : {}),
    priority: row.priority,
    areas: row.areas,
    files: row.files,
    dependsOn: row.dependsOn,
    acceptance: row.acceptance,
    checks: row.checks,
  });
  // Stored requests were valid when filed; if one is not now (limits changed), it alone fails.
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const request = parsed.data;
  const [existingSpec] = await db
    .select({ answers: requestSpecs.answers })
    .from(requestSpecs)
    .where(eq(requestSpecs.requestId, requestId))
    .limit(1);
  const notes = (existingSpec?.answers ?? []).flatMap((a) =>
    a.answer.note ? [a.answer.note] : [],
  );
  const files = await listRepoFiles(repo.path, repo.targetBranch);
  const unknownAreas = request.areas.filter((a) => !policy.areas.some((p) => p.name === a));
  // Unknown areas are asked about before any Engineer (an agent's session costs) is run.
  let result: EngineerResult = unknownAreas.length
    ? {
        spec: null,
        questions: [
          `Unknown area(s): ${unknownAreas.join(", ")}. Areas: ${policy.areas.map((a) => a.name).join(", ")}.`,
        ],
      }
    : await engineer.scope({ request, policy, files, notes });
  let planned: Awaited<ReturnType<typeof decompose>> | null = null;
  if (result.spec) {
    try {
      planned = decompose({
        requestId,
        request,
        repo: row.repo,
        spec: result.spec,
        policy,
        files,
        firstIndex: await nextTaskIndex(db, requestId),
      });
    } catch (err) {
      result = { ...result, spec: null, questions: [(err as Error).message] };
    }
  }
  const now = Date.now();
  return db.transaction(async (tx) => {
    // The slow work ran outside the transaction; another process may have planned the request
    // meanwhile. The loser moves on quietly, writing nothing.
    const [current] = await tx
      .select({ status: requests.status })
      .from(requests)
      .where(eq(requests.id, requestId))
      .limit(1);
    if (current?.status !== "received")
      return {
        status: current?.status ?? row.status,
        tasks: [] as string[],
        questions: [] as string[],
      };
    const [existing] = await tx
      .select()
      .from(requestSpecs)
      .where(eq(requestSpecs.requestId, requestId))
      .limit(1);
    const values = {
      requestId,
      spec: result.spec,
      questions: result.questions,
      answers: existing?.answers ?? [],
      engineer: result.by ?? "builtin",
      engineerFallback: result.fallback ?? null,
      tasksTotal: planned?.tasks.length ?? 0,
      tasksIndependent: planned?.independent ?? 0,
      updatedAt: now,
    };
    if (existing)
      await tx.update(requestSpecs).set(values).where(eq(requestSpecs.requestId, requestId));
    else await tx.insert(requestSpecs).values(values);
    if (!planned) {
      // Asking again what an answer did not settle would loop for ever: a person takes over.
      const repeated =
        (existing?.answers.length ?? 0) > 0 &&
        JSON.stringify(existing?.questions ?? []) === JSON.stringify(result.questions);
      const to = repeated ? ("needs_attention" as const) : ("needs_clarification" as const);
      await moveRequest(tx, {
        id: requestId,
        from: "received",
        to,
        reason: repeated
          ? "the same question came back after an answer; a reviewer or operator can re-scope it"
          : undefined,
      });
      return { status: to, tasks: [] as string[], questions: result.questions };
    }
    // Tasks the gate sent back to triage belong to the plan this one replaces (the request
    // was re-scoped from needs_attention): they count no more.
    for (const t of await tx
      .select({ id: tasks.id })
      .from(tasks)
      .where(and(eq(tasks.requestId, requestId), eq(tasks.state, "triage"))))
      await moveTask(tx, {
        id: t.id,
        from: "triage",
        to: "superseded",
        event: { reason: "its request was re-scoped and planned again" },
      });
    await createPlannedTasks(
      tx,
      planned.tasks.map((t) => ({
        id: t.id,
        requestId,
        repo: t.repo,
        title: t.prompt.title,
        createdAt: now,
        updatedAt: now,
        area: t.area,
        neededFiles: t.neededFiles,
        lockScope: t.lockScope,
        lockKeys: t.lockKeys,
        dependsOn: t.dependsOn,
        acceptance: t.acceptance,
        prompt: t.prompt,
        limits: t.limits,
        contextTokens: t.contextTokens,
      })),
    );
    await moveRequest(tx, { id: requestId, from: "received", to: "planned" });
    return {
      status: "planned" as const,
      tasks: planned.tasks.map((t) => t.id),
      questions: [] as string[],
    };
  });
}

/**
 * The number the next plan's first task takes: 1, or one past the tasks of an earlier plan (a
 * failed request edited and planned again keeps its old tasks, superseded, so R5.1 stays R5.1).
 */
async function nextTaskIndex(db: Db, requestId: number): Promise<number> {
  const ids = (await db.select({ id: tasks.id }).from(tasks).where(eq(tasks.requestId, requestId)))
    .map((t) => Number(t.id.split(".").at(-1)))
    .filter((n) => Number.isInteger(n));
  return ids.length ? Math.max(...ids) + 1 : 1;
}
