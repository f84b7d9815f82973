import { eq, inArray } from "drizzle-orm";
import type { HyperionConfig } from "@/schemas/config";
import { fieldIssues } from "@/schemas/issues";
import type { RequestStatus } from "@/schemas/request-status";
import { parseTaskRequestBatch, type TaskRequest } from "@/schemas/task-request";
import { requestedCheckIssues } from "@/server/checks/checks";
import { repoNames } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { requests, users } from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import { appendEvent } from "@/server/events/log";
import type { User } from "@/server/users/service";
import { createRequest } from "../state/requests/store";

export type RequestSource = (typeof requests.$inferSelect)["source"];

export type RequestSummary = {
  id: number;
  title: string;
  status: RequestStatus;
  kind: NonNullable<TaskRequest["kind"]> | null;
  priority: TaskRequest["priority"];
  repo: string;
  requester: string;
  source: RequestSource;
  createdAt: number;
};

/**
 * The one intake path for the browser, the CLI, the API and the inbox: validates one request
 * or an array (all-or-nothing), checks references against the database, and records them in
 * one transaction together with their events. Nothing is written when anything is invalid.
 */
export function createRequests(
  db: Db,
  args: { input: unknown; requester: User; config: HyperionConfig; source: RequestSource },
): RequestSummary[] {
  const parsed = parseTaskRequestBatch(args.input, repoNames(args.config));
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const batch = parsed.data;
  const prefix = (i: number) => (Array.isArray(args.input) ? `[${i}].` : "");
  const checkIssues = batch.flatMap((r, i) =>
    requestedCheckIssues(
      args.config.repositories.find((repo) => repo.name === r.repo)?.policy,
      r.repo,
      r.checks,
      prefix(i),
    ),
  );
  const areaIssues = batch.flatMap((r, i) => {
    const policy = args.config.repositories.find((repo) => repo.name === r.repo)?.policy;
    if (!policy) return [];
    const known = policy.areas.map((a) => a.name);
    return r.areas.flatMap((a, j) =>
      known.includes(a)
        ? []
        : [
            {
              path: `${prefix(i)}areas[${j}]`,
              message: `unknown area '${a}'; areas: ${known.join(", ")}`,
            },
          ],
    );
  });
  return db.transaction((tx) => {
    const referenced = [...new Set(batch.flatMap((r) => r.dependsOn))];
    const found = referenced.length
      ? tx
          .select({ id: requests.id, repo: requests.repo })
          .from(requests)
          .where(inArray(requests.id, referenced))
          .all()
      : [];
    const repoOf = new Map(found.map((r) => [r.id, r.repo]));
    // Every reference problem at once, areas and requests together, so one round shows all.
    const issues = batch.flatMap((r, i) =>
      r.dependsOn.flatMap((dep, j) => {
        const path = `${prefix(i)}dependsOn[${j}]`;
        const repo = repoOf.get(dep);
        if (repo === undefined) return [{ path, message: `request ${dep} does not exist` }];
        if (repo !== r.repo)
          return [{ path, message: `request ${dep} is in repository '${repo}', not '${r.repo}'` }];
        return [];
      }),
    );
    if (areaIssues.length || checkIssues.length || issues.length)
      throw new ValidationError([...areaIssues, ...checkIssues, ...issues]);

    const now = Date.now();
    return batch.map((r) => {
      const row = createRequest(tx, {
        title: r.title,
        description: r.description,
        repo: r.repo,
        kind: r.kind ?? null,
        priority: r.priority,
        areas: r.areas,
        files: r.files,
        dependsOn: r.dependsOn,
        acceptance: r.acceptance,
        checks: [...new Set(r.checks)],
        requesterId: args.requester.id,
        source: args.source,
        createdAt: now,
        updatedAt: now,
      });
      const summary: RequestSummary = {
        id: row.id,
        title: row.title,
        status: row.status,
        kind: row.kind,
        priority: row.priority,
        repo: row.repo,
        requester: args.requester.email,
        source: row.source,
        createdAt: row.createdAt,
      };
      appendEvent(tx, {
        topic: "request",
        type: "request.created",
        entityId: row.id,
        payload: summary,
      });
      return summary;
    });
  });
}

export function getRequest(db: Db, id: number) {
  const row = db
    .select()
    .from(requests)
    .innerJoin(users, eq(users.id, requests.requesterId))
    .where(eq(requests.id, id))
    .get();
  if (!row) return undefined;
  const { passwordHash: _omit, ...requester } = row.users;
  return { ...row.requests, requester: requester.email };
}
