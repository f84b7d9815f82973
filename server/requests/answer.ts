import { eq } from "drizzle-orm";
import { z } from "zod";
import { fieldIssues } from "@/schemas/issues";
import { repoPath } from "@/schemas/paths";
import { CONTROL_BUT_LINES, requestKinds, TaskRequest } from "@/schemas/task-request";
import { may } from "@/server/auth/permissions";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db } from "@/server/db/client";
import { requestSpecs, requests } from "@/server/db/schema";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/server/errors";
import { moveRequest } from "@/server/state/requests/store";
import type { User } from "@/server/users/service";
import { planRequest } from "../planning/plan";

export const MAX_ANSWERS = 20;
export const ANSWER_NOTE_MAX = 5000;

/** An answer to the Engineer's questions: what to add to the request before planning again. */
export const Answer = z.strictObject({
  files: z.array(repoPath).max(500, "must list at most 500 files").default([]),
  areas: z
    .array(z.string().trim().min(1).max(100))
    .max(50, "must list at most 50 areas")
    .default([]),
  kind: z.enum(requestKinds).optional(),
  note: z
    .string()
    .max(ANSWER_NOTE_MAX, `must be at most ${ANSWER_NOTE_MAX} characters`)
    .refine(
      (n) => !CONTROL_BUT_LINES.test(n),
      "must not contain control characters other than tabs and line breaks",
    )
    .optional(),
});

export type AnswerInput = z.input<typeof Answer>;

/**
 * Records an answer and plans the request again. The answer is kept as an answer (the Engineer
 * reads the notes beside the description) so the description never grows past its limit; the
 * request with the answer's files and areas must still be a valid request, and its areas must
 * exist, or nothing is written.
 */
export async function answerRequest(
  db: Db,
  config: LoadedConfig,
  requestId: number,
  user: User,
  input: unknown,
) {
  const parsed = Answer.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const [row] = await db.select().from(requests).where(eq(requests.id, requestId)).limit(1);
  if (!row) throw new NotFoundError(`no request ${requestId}`);
  const target = { ownerId: row.requesterId };
  if (!may(user, "request.answer", target))
    throw new ForbiddenError(
      `request ${requestId} is another requester's; only its requester (or a reviewer, operator or admin) may answer`,
    );
  // A requester answers the Engineer's questions; when they keep coming back, a reviewer or
  // operator re-scopes the request through the same answer (kind, areas, files, a note).
  if (row.status === "needs_attention" && !may(user, "request.rescope", target))
    throw new ForbiddenError(
      `request ${requestId} needs a reviewer or operator to re-scope it; the same question came back after an answer`,
    );
  if (row.status !== "needs_clarification" && row.status !== "needs_attention") {
    throw new ValidationError([
      {
        path: "id",
        message: `request ${requestId} is ${row.status}; only one that needs clarification takes answers`,
      },
    ]);
  }
  const given = parsed.data;
  if (!given.files.length && !given.areas.length && !given.kind && !given.note?.trim())
    throw new ValidationError([
      { path: "", message: "an answer must give files, areas, a kind or a note" },
    ]);
  const a = parsed.data;
  const policy = policyFor(config, row.repo);
  const issues = a.areas.flatMap((area, i) =>
    policy.areas.some((p) => p.name === area)
      ? []
      : [
          {
            path: `areas[${i}]`,
            message: `unknown area '${area}'; areas of ${row.repo}: ${policy.areas.map((p) => p.name).join(", ")}`,
          },
        ],
  );
  const files = [...new Set([...row.files, ...a.files])];
  const areas = [...new Set([...row.areas, ...a.areas])];
  const merged = TaskRequest.safeParse({
    title: row.title,
    description: row.description,
    repo: row.repo,
    files,
    areas,
    ...(a.kind ? { kind: a.kind } : row.kind ? { kind: row.kind } : {}),
  });
  if (!merged.success)
    issues.push(
      ...fieldIssues(merged.error)
        .filter((i) => i.path.startsWith("files") || i.path.startsWith("areas"))
        .map((i) => ({
          ...i,
          message: `with this answer the request's ${i.path.split("[")[0]} ${i.message}`,
        })),
    );
  if (issues.length) throw new ValidationError(issues);
  await db.transaction(async (tx) => {
    const [spec] = await tx
      .select()
      .from(requestSpecs)
      .where(eq(requestSpecs.requestId, requestId))
      .limit(1);
    const answers = spec?.answers ?? [];
    if (answers.length >= MAX_ANSWERS)
      throw new ValidationError([
        {
          path: "id",
          message: `request ${requestId} already has ${answers.length} answers; the limit is ${MAX_ANSWERS}. Cancel it and file a new request`,
        },
      ]);
    // Compare-and-swap on the status, so two answers at once do not both re-plan.
    await moveRequest(tx, { id: requestId, from: row.status, to: "received" });
    await tx
      .update(requests)
      .set({ files, areas, ...(a.kind ? { kind: a.kind } : {}) })
      .where(eq(requests.id, requestId));
    if (spec) {
      await tx
        .update(requestSpecs)
        // The questions it answers, as they were asked: the page shows each answer under them.
        .set({
          answers: [
            ...answers,
            { at: Date.now(), by: user.email, questions: spec.questions, answer: a },
          ],
        })
        .where(eq(requestSpecs.requestId, requestId));
    }
  });
  try {
    return await planRequest(db, config, requestId);
  } catch (err) {
    // The answer is saved. The worker may have planned the request between that commit and this
    // call; then this planning loses (a ConflictError, or the task ids already taken) and the
    // caller is told where the request is now rather than of a conflict.
    const now = (
      await db
        .select({ status: requests.status })
        .from(requests)
        .where(eq(requests.id, requestId))
        .limit(1)
    )[0]?.status;
    if (!now || (now === "received" && !(err instanceof ConflictError))) throw err;
    return { status: now, tasks: [] as string[], questions: [] as string[] };
  }
}
