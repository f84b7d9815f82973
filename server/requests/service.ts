import { eq, inArray } from "drizzle-orm";
import type { HyperionConfig, LoadedRepository } from "@/schemas/config";
import { type FieldIssue, fieldIssues, NEW_FILE } from "@/schemas/issues";
import type { RequestStatus } from "@/schemas/request-status";
import { parseTaskRequestBatch, positionOf, type TaskRequest } from "@/schemas/task-request";
import { requestedCheckIssues } from "@/server/checks/checks";
import { type LoadedConfig, repoNames } from "@/server/config/load";
import type { Db, DbLike } from "@/server/db/client";
import { requests, users } from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import { appendEvent } from "@/server/events/log";
import { Repo } from "@/server/git/repo";
import { currentTraceContext, withSpan } from "@/server/trace";
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
 * An item of an array may depend on an earlier item of the same call by its position ("#0"),
 * which becomes that request's id as the call is recorded.
 */
export function createRequests(
  db: DbLike,
  args: {
    input: unknown;
    requester: User;
    config: HyperionConfig;
    source: RequestSource;
    /** From `newFilesIn`: the files to refuse as not on the target branch (none when unset). */
    newFiles?: readonly NewFile[];
  },
): Promise<RequestSummary[]> {
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
  const positionIssues = batch.flatMap((r, i) =>
    r.dependsOn.flatMap((dep, j) => {
      const k = positionOf(dep);
      if (k === null) return [];
      const path = `${prefix(i)}dependsOn[${j}]`;
      const earlier = batch[k];
      if (k >= i || !earlier)
        return [
          {
            path,
            message: `"${dep}" is not an earlier item of this call: ${whyNot(k, i, batch.length)}`,
          },
        ];
      return [];
    }),
  );
  return db.transaction(async (tx) => {
    const referenced = [
      ...new Set(batch.flatMap((r) => r.dependsOn.filter((d) => typeof d === "number"))),
    ];
    const found = new Set(
      referenced.length
        ? (
            await tx
              .select({ id: requests.id })
              .from(requests)
              .where(inArray(requests.id, referenced))
          ).map((r) => r.id)
        : [],
    );
    // Every reference problem at once, areas and requests together, so one round shows all. A
    // request may depend on one of another repository: its tasks wait until that one has landed
    // (server/dispatch), and fail if it fails (docs/worker-factory.md, the meta queue).
    const issues = batch.flatMap((r, i) =>
      r.dependsOn.flatMap((dep, j) =>
        typeof dep === "number" && !found.has(dep)
          ? [{ path: `${prefix(i)}dependsOn[${j}]`, message: `request ${dep} does not exist` }]
          : [],
      ),
    );
    const fileIssues = newFileIssues(args.newFiles ?? [], args.input);
    const all = [...areaIssues, ...checkIssues, ...fileIssues, ...issues, ...positionIssues];
    if (all.length) throw new ValidationError(all);

    const now = Date.now();
    // In order, so "#k" (always an earlier item) names a request recorded just before.
    const ids: number[] = [];
    const created: RequestSummary[] = [];
    for (const r of batch) {
      const dependsOn = [
        ...new Set(
          r.dependsOn.map((dep) => {
            const k = positionOf(dep);
            return k === null ? Number(dep) : (ids[k] as number);
          }),
        ),
      ];
      // The request's own span: its traceparent, stored, is continued by the worker's spans.
      const row = await withSpan(
        "request.file",
        { "hyperion.repo": r.repo, "hyperion.source": args.source },
        async (span) => {
          const filed = await createRequest(tx, {
            title: r.title,
            description: r.description,
            repo: r.repo,
            kind: r.kind ?? null,
            priority: r.priority,
            areas: r.areas,
            files: r.files,
            dependsOn,
            acceptance: r.acceptance,
            checks: [...new Set(r.checks)],
            requesterId: args.requester.id,
            source: args.source,
            createdAt: now,
            updatedAt: now,
            traceParent: currentTraceContext().traceparent ?? null,
          });
          span.setAttribute("hyperion.request", filed.id);
          return filed;
        },
      );
      ids.push(row.id);
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
      await appendEvent(tx, {
        topic: "request",
        type: "request.created",
        entityId: row.id,
        payload: summary,
      });
      created.push(summary);
    }
    return created;
  });
}

/** A file a request names that its repository's target branch does not have. */
export type NewFile = {
  /** The request's position in the call. */
  item: number;
  /** The file's position in its `files`. */
  index: number;
  path: string;
  branch: string;
};

/**
 * The files the requests of a call name that their repository's target branch lacks, except in
 * requests that say `allowNewFiles: true`: a mistyped path would otherwise become a new file.
 * Nothing when the input is not valid (the intake reports that). Read through git, so before
 * the intake's transaction; a branch that does not exist yet has no files.
 */
export async function newFilesIn(
  config: { repositories: readonly LoadedRepository[] },
  input: unknown,
): Promise<NewFile[]> {
  const parsed = parseTaskRequestBatch(input, repoNames(config));
  if (!parsed.success) return [];
  const out: NewFile[] = [];
  for (const repo of config.repositories) {
    const asked = parsed.data.flatMap((r, item) =>
      r.repo === repo.name && !r.allowNewFiles
        ? r.files.map((path, index) => ({ item, index, path, branch: repo.targetBranch }))
        : [],
    );
    if (asked.length === 0) continue;
    const git = Repo.at(repo.path);
    const tip = await git.findCommit(`refs/heads/${repo.targetBranch}`);
    const missing = new Set(
      tip
        ? await git.missingPaths(tip, [...new Set(asked.map((a) => a.path))])
        : asked.map((a) => a.path),
    );
    out.push(...asked.filter((a) => missing.has(a.path)));
  }
  return out.sort((a, b) => a.item - b.item || a.index - b.index);
}

/** The issues for files the target branch lacks, each naming `files[i]` (`[2].files[i]`). */
export function newFileIssues(newFiles: readonly NewFile[], input: unknown): FieldIssue[] {
  return newFiles.map((f) => ({
    path: `${Array.isArray(input) ? `[${f.item}].` : ""}files[${f.index}]`,
    message: `${f.path} does not exist on ${f.branch}: check the path, or file the request with allowNewFiles: true to create it`,
    code: NEW_FILE,
  }));
}

/** Why position `k` cannot be named by item `i` of a call of `n` items. */
function whyNot(k: number, i: number, n: number): string {
  if (k >= n)
    return n === 1
      ? "this call files one request, so there is none to name"
      : `this call has ${n} requests, #0 to #${n - 1}`;
  if (k === i) return "it is this request itself";
  return `it comes later; put it before the requests that depend on it`;
}

export async function getRequest(db: Db, id: number) {
  const [row] = await db
    .select()
    .from(requests)
    .innerJoin(users, eq(users.id, requests.requesterId))
    .where(eq(requests.id, id))
    .limit(1);
  if (!row) return undefined;
  const { passwordHash: _omit, ...requester } = row.users;
  return { ...row.requests, requester: requester.email };
}
