import { and, count, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import {
  BOARD_COLUMN_LIMIT,
  BOARD_REPO_MAX,
  BoardQuery,
  type BoardValues,
  boardColumns,
} from "@/schemas/board";

import { fieldIssues } from "@/schemas/issues";
import { MineFilter } from "@/schemas/mine";
import type { RequestStatus } from "@/schemas/request-status";
import { requestKinds } from "@/schemas/task-request";
import type { Db } from "@/server/db/client";
import { requestSpecs, requests, users } from "@/server/db/schema";
import { jsonText } from "@/server/db/sql";
import { ValidationError } from "@/server/errors";
import type { User } from "@/server/users/service";
import { mineCondition } from "./mine";

/** One card: enough to recognise a request and open it. */
export type BoardCard = {
  id: number;
  title: string;
  status: RequestStatus;
  repo: string;
  kind: string | null;
  requester: string;
  updatedAt: number;
};

export type Board = {
  columns: { key: string; label: string; total: number; cards: BoardCard[] }[];
};

/** The requester's kind, or else the Engineer's from the spec. */
const effectiveKind = sql<
  string | null
>`coalesce(${requests.kind}, ${jsonText(requestSpecs.spec, "kind")})`;

/**
 * The board: requests in columns by status (schemas/board.ts), each column its newest-updated
 * cards and how many it holds in all, with the filters applied together. Input is checked here
 * too (the API passes it through): an unknown kind or `mine`, or an overlong repository, is a
 * ValidationError naming the field; an unknown repository is simply empty.
 */
export async function requestBoard(
  db: Db,
  input: unknown,
  viewer: Pick<User, "id" | "role">,
): Promise<Board> {
  const parsed = BoardQuery.safeParse(input ?? {});
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const q = parsed.data;
  const where: SQL[] = [];
  if (q.repo) where.push(eq(requests.repo, q.repo));
  if (q.kind) where.push(sql`${effectiveKind} = ${q.kind}`);
  if (q.mine) where.push(mineCondition(viewer, q.mine));

  const totals = new Map(
    (
      await db
        .select({ status: requests.status, n: count() })
        .from(requests)
        .leftJoin(requestSpecs, eq(requestSpecs.requestId, requests.id))
        .where(where.length ? and(...where) : undefined)
        .groupBy(requests.status)
    ).map((r) => [r.status, r.n]),
  );
  return {
    columns: await Promise.all(
      boardColumns.map(async (c) => {
        const statuses = [...c.statuses] as RequestStatus[];
        const total = statuses.reduce((n, s) => n + (totals.get(s) ?? 0), 0);
        const cards = total
          ? (
              await db
                .select({
                  id: requests.id,
                  title: requests.title,
                  status: requests.status,
                  repo: requests.repo,
                  kind: effectiveKind,
                  requester: users.email,
                  updatedAt: requests.updatedAt,
                })
                .from(requests)
                .innerJoin(users, eq(users.id, requests.requesterId))
                .leftJoin(requestSpecs, eq(requestSpecs.requestId, requests.id))
                .where(and(inArray(requests.status, statuses), ...where))
                .orderBy(desc(requests.updatedAt), desc(requests.id))
                .limit(BOARD_COLUMN_LIMIT)
            ).map((r) => ({
              ...r,
              kind: r.kind && (requestKinds as readonly string[]).includes(r.kind) ? r.kind : null,
            }))
          : [];
        return { key: c.key, label: c.label, total, cards };
      }),
    ),
  };
}

// Long hostile values are shown back cut short; React escapes what is shown.
const shown = (value: string) => (value.length > 60 ? `${value.slice(0, 60)}…` : value);

/**
 * The /board URL read without ever failing: each value that is not known (a repository not in
 * the list, a kind or `mine` that is not one, a value given twice, one too long) becomes a
 * sentence saying so, and the page lists nothing but that and a way to clear the filters.
 */
export function readBoardParams(
  params: Partial<Record<string, string | string[] | undefined>>,
  repos: readonly string[],
): { values: BoardValues; query: BoardQuery | null; problems: string[] } {
  const problems: string[] = [];
  const one = (name: string, raw: string | string[] | undefined) => {
    if (Array.isArray(raw)) {
      problems.push(`Choose one ${name}, not ${raw.length}.`);
      return "";
    }
    return raw ?? "";
  };
  const values: BoardValues = {
    repo: one("repository", params.repo),
    kind: one("kind", params.kind),
    mine: one("'mine' filter", params.mine),
  };
  if (values.repo.length > BOARD_REPO_MAX)
    problems.push(`A repository name is at most ${BOARD_REPO_MAX} characters.`);
  else if (values.repo && !repos.includes(values.repo))
    problems.push(`No repository called '${shown(values.repo)}'.`);
  if (values.kind && !(requestKinds as readonly string[]).includes(values.kind))
    problems.push(`No kind called '${shown(values.kind)}' (kinds: ${requestKinds.join(", ")}).`);
  const mine = MineFilter.optional().safeParse(values.mine || undefined);
  if (!mine.success)
    problems.push(`No 'mine' filter called '${shown(values.mine)}' (filed or waiting).`);
  if (problems.length) return { values, query: null, problems };
  return {
    values,
    query: BoardQuery.parse({
      ...(values.repo ? { repo: values.repo } : {}),
      ...(values.kind ? { kind: values.kind } : {}),
      ...(mine.data ? { mine: mine.data } : {}),
    }),
    problems,
  };
}
