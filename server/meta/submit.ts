import { eq } from "drizzle-orm";
import { fieldIssues } from "@/schemas/issues";
import { MetaItemInput } from "@/schemas/meta";
import { can } from "@/server/auth/permissions";
import type { Db, DbLike } from "@/server/db/client";
import { agentRuns, requests } from "@/server/db/schema";
import { ForbiddenError, ValidationError } from "@/server/errors";
import {
  type MetaItemRow,
  metaItemBySource,
  type NewMetaItem,
  recordMetaItem,
} from "@/server/state/meta/store";
import type { User } from "@/server/users/service";
import { applyMetaItem } from "./apply";
import { dependencyCycle } from "./cycle";

type Config = { repositories: readonly { name: string }[] };

/** What a submit returns: the item as it stands, and whether this delivery was a repeat. */
export type Submitted = { item: MetaItemRow; repeated: boolean };

/**
 * Submits one item to the workspace meta queue: parsed with the contract (schemas/meta.ts), its
 * references checked (requests, repositories, runs, and that a dependency closes no cycle), then
 * recorded `pending` under its source event id and applied at once (./apply.ts). Bad input is
 * refused naming the field, and nothing is written. A source event id already recorded is a
 * repeat: nothing is written or done again, and the first item is returned as it stands (the
 * same id for a different item is refused, naming `sourceEventId`).
 */
export async function submitMetaItem(
  db: Db,
  config: Config,
  user: User,
  input: unknown,
): Promise<Submitted> {
  if (!can(user.role, "meta.operate"))
    throw new ForbiddenError(`${user.email} is a ${user.role}; the meta queue is for operators`);
  const parsed = MetaItemInput.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const { sourceEventId, ...payload } = parsed.data;
  const recorded = await db.transaction(async (tx) => {
    const existing = await metaItemBySource(tx, sourceEventId);
    if (existing) {
      if (existing.kind === payload.kind && sameJson(existing.payload, payload))
        return { item: existing, repeated: true };
      throw new ValidationError([
        {
          path: "sourceEventId",
          message: `'${sourceEventId}' already names meta item #${existing.id} (${existing.kind}), a different item; a new item needs a new id`,
        },
      ]);
    }
    const target = await checkReferences(tx, config, parsed.data);
    const item: NewMetaItem = {
      sourceEventId,
      kind: payload.kind,
      repo: target.repo,
      requestId: target.requestId,
      payload,
      by: user.email,
      userId: user.id,
    };
    return { item: await recordMetaItem(tx, item), repeated: false };
  });
  if (recorded.repeated) return recorded;
  // Recorded first, then applied: a crash in between leaves it pending for the worker to apply.
  return { item: await applyMetaItem(db, recorded.item.id), repeated: false };
}

/** The repository and request an item concerns; every reference checked, or a field error. */
async function checkReferences(
  tx: DbLike,
  config: Config,
  item: MetaItemInput,
): Promise<{ repo: string | null; requestId: number | null }> {
  const repoIssue = (repo: string) => {
    const known = config.repositories.map((r) => r.name);
    return known.includes(repo)
      ? null
      : {
          path: "repo",
          message: `unknown repository '${repo}'; repositories: ${known.join(", ") || "(none)"}`,
        };
  };
  const requestRow = async (path: string, id: number) => {
    const [row] = await tx
      .select({ id: requests.id, repo: requests.repo, dependsOn: requests.dependsOn })
      .from(requests)
      .where(eq(requests.id, id))
      .limit(1);
    if (!row) throw new ValidationError([{ path, message: `request R${id} does not exist` }]);
    return row;
  };
  switch (item.kind) {
    case "depend": {
      const [waiting, on] = [
        await requestRow("request", item.request).catch((e) => e as ValidationError),
        await requestRow("on", item.on).catch((e) => e as ValidationError),
      ];
      const missing = [waiting, on].flatMap((r) => (r instanceof ValidationError ? r.issues : []));
      if (missing.length || waiting instanceof Error || on instanceof Error)
        throw new ValidationError(missing);
      const cycle = await dependencyCycle(tx, waiting.id, on.id);
      if (cycle)
        throw new ValidationError([
          {
            path: "on",
            message: `dependency cycle: ${cycle} (each waits for the next); nothing was written`,
          },
        ]);
      return { repo: waiting.repo, requestId: waiting.id };
    }
    case "priority": {
      if (item.repo !== undefined) {
        const issue = repoIssue(item.repo);
        if (issue) throw new ValidationError([issue]);
        return { repo: item.repo, requestId: null };
      }
      const row = await requestRow("request", item.request ?? 0);
      return { repo: row.repo, requestId: row.id };
    }
    case "pause":
    case "resume": {
      const issue = repoIssue(item.repo);
      if (issue) throw new ValidationError([issue]);
      return { repo: item.repo, requestId: null };
    }
    case "cancel":
    case "restart": {
      const row = await requestRow("request", item.request);
      return { repo: row.repo, requestId: row.id };
    }
    case "steer": {
      const [run] = await tx
        .select({ repo: agentRuns.repo, requestId: agentRuns.requestId })
        .from(agentRuns)
        .where(eq(agentRuns.id, item.run))
        .limit(1);
      if (!run)
        throw new ValidationError([{ path: "run", message: `run ${item.run} does not exist` }]);
      return { repo: run.repo, requestId: run.requestId };
    }
  }
}

/** Two payloads are the same item: their JSON, keys sorted. */
function sameJson(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(norm)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
              .filter(([, x]) => x !== undefined)
              .sort(([x], [y]) => x.localeCompare(y))
              .map(([k, x]) => [k, norm(x)]),
          )
        : v;
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}
