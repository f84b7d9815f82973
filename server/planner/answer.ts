import { eq } from "drizzle-orm";
import { z } from "zod";
import { fieldIssues } from "@/schemas/issues";
import { repoPath } from "@/schemas/paths";
import { requestKinds } from "@/schemas/task-request";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { requestSpecs, requests } from "@/server/db/schema";
import { NotFoundError, ValidationError } from "@/server/errors";
import type { User } from "@/server/users/service";
import { planRequest, setRequestStatus } from "./plan";

/** An answer to the Engineer's questions: what to add to the request before planning again. */
export const Answer = z.strictObject({
  files: z.array(repoPath).max(500).default([]),
  areas: z.array(z.string().min(1)).max(50).default([]),
  kind: z.enum(requestKinds).optional(),
  note: z.string().max(5000).optional(),
});

export type AnswerInput = z.input<typeof Answer>;

export async function answerRequest(
  db: Db,
  config: LoadedConfig,
  requestId: number,
  user: User,
  input: unknown,
) {
  const parsed = Answer.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const row = db.select().from(requests).where(eq(requests.id, requestId)).get();
  if (!row) throw new NotFoundError(`no request ${requestId}`);
  if (row.status !== "needs_clarification") {
    throw new ValidationError([
      {
        path: "id",
        message: `request ${requestId} is ${row.status}; only one that needs clarification takes answers`,
      },
    ]);
  }
  if (user.role === "requester" && user.id !== row.requesterId) {
    throw new ValidationError([
      { path: "id", message: "only the requester (or a reviewer, operator or admin) may answer" },
    ]);
  }
  const a = parsed.data;
  db.transaction((tx) => {
    tx.update(requests)
      .set({
        files: [...new Set([...row.files, ...a.files])],
        areas: [...new Set([...row.areas, ...a.areas])],
        ...(a.kind ? { kind: a.kind } : {}),
        description: a.note ? `${row.description}\n\n**Answer:** ${a.note}` : row.description,
      })
      .where(eq(requests.id, requestId))
      .run();
    const spec = tx.select().from(requestSpecs).where(eq(requestSpecs.requestId, requestId)).get();
    if (spec) {
      tx.update(requestSpecs)
        .set({ answers: [...spec.answers, { at: Date.now(), by: user.email, answer: a }] })
        .where(eq(requestSpecs.requestId, requestId))
        .run();
    }
    setRequestStatus(tx, requestId, "needs_clarification", "received");
  });
  return planRequest(db, config, requestId);
}
