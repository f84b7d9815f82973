import { and, asc, desc, eq, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { type HistoryQuery, HistorySort } from "@/schemas/history";
import { requestKinds } from "@/schemas/task-request";
import type { Db } from "@/server/db/client";
import { requestSpecs, requests, users } from "@/server/db/schema";
import { jsonText, likeNoCase, noCase } from "@/server/db/sql";
import { ValidationError } from "@/server/errors";
import type { User } from "@/server/users/service";
import type { RequestSummary } from "../requests/service";
import { mineCondition } from "./mine";

type Viewer = Pick<User, "id" | "role">;

/** A history row: the request's summary, with the kind the Engineer inferred when none was given. */
export type HistoryRow = RequestSummary & {
  /** True when `kind` is the Engineer's (from the request's spec), not the requester's. */
  kindInferred: boolean;
  updatedAt: number;
};

export type HistoryPage = {
  rows: HistoryRow[];
  /** Cursors for the pages after and before this one; null at either end. */
  next: string | null;
  prev: string | null;
};

// Each order is a keyset: its key, then the id to break ties, so a page starts exactly after the
// last row of the one before however many rows are filed in the meantime.
type Order = {
  key?: SQL;
  /** The cursor's key as the order compares it (titles without case, as they sort). */
  at?: (key: string | number) => SQL;
  desc: boolean;
  keyOf: (row: HistoryRow) => string | number | undefined;
};
const orders: Record<HistorySort, Order> = {
  new: { desc: true, keyOf: () => undefined },
  old: { desc: false, keyOf: () => undefined },
  updated: { key: sql`${requests.updatedAt}`, desc: true, keyOf: (r) => r.updatedAt },
  title: {
    key: noCase(requests.title),
    at: (k) => noCase(sql`${k}`),
    desc: false,
    keyOf: (r) => r.title,
  },
};

const Cursor = z.strictObject({
  s: HistorySort,
  /** "n": the rows after this position; "p": the rows before it. */
  d: z.enum(["n", "p"]),
  k: z.union([z.string(), z.number()]).optional(),
  i: z.number().int().nonnegative(),
});
type Cursor = z.infer<typeof Cursor>;

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

const badCursor = (message: string) => new ValidationError([{ path: "cursor", message }]);

/** The cursor's position, checked against the sort it is used with. */
function decodeCursor(raw: string, sort: HistorySort): Cursor {
  let parsed: Awaited<ReturnType<typeof Cursor.safeParse>>;
  try {
    parsed = Cursor.safeParse(JSON.parse(Buffer.from(raw, "base64url").toString("utf8")));
  } catch {
    throw badCursor("not a page cursor from this list");
  }
  if (!parsed.success) throw badCursor("not a page cursor from this list");
  const c = parsed.data;
  if (c.s !== sort) throw badCursor(`made for sort '${c.s}', not '${sort}'`);
  const keyType = sort === "updated" ? "number" : sort === "title" ? "string" : "undefined";
  if (typeof c.k !== keyType) throw badCursor("not a page cursor from this list");
  return c;
}

/** `%`, `_` and `\` in a search match themselves. */
export function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, "\\$&")}%`;
}

/** The requester's kind, or else the Engineer's from the spec. */
const effectiveKind = sql`coalesce(${requests.kind}, ${jsonText(requestSpecs.spec, "kind")})`;

function filters(query: HistoryQuery, viewer?: Viewer): SQL[] {
  const where: SQL[] = [];
  const q = query.q?.trim();
  if (q) where.push(likeNoCase(requests.title, likePattern(q)));
  if (query.status) where.push(eq(requests.status, query.status));
  if (query.repo) where.push(eq(requests.repo, query.repo));
  if (query.kind) where.push(sql`${effectiveKind} = ${query.kind}`);
  if (query.mine) {
    if (!viewer)
      throw new ValidationError([{ path: "mine", message: "'mine' needs a signed-in viewer" }]);
    where.push(mineCondition(viewer, query.mine));
  }
  return where;
}

/** Rows strictly beyond a position: after it (`forward`) or before it, in the sort's order. */
function beyond(order: Order, at: Pick<Cursor, "k" | "i">, forward: boolean): SQL {
  const op = sql.raw(order.desc === forward ? "<" : ">");
  return order.key
    ? sql`(${order.key}, ${requests.id}) ${op} (${order.at && at.k !== undefined ? order.at(at.k) : at.k}, ${at.i})`
    : sql`${requests.id} ${op} ${at.i}`;
}

function select(db: Db, where: SQL[]) {
  return db
    .select({
      id: requests.id,
      title: requests.title,
      status: requests.status,
      givenKind: requests.kind,
      inferredKind: sql<string | null>`${jsonText(requestSpecs.spec, "kind")}`,
      priority: requests.priority,
      repo: requests.repo,
      requester: users.email,
      source: requests.source,
      createdAt: requests.createdAt,
      updatedAt: requests.updatedAt,
    })
    .from(requests)
    .innerJoin(users, eq(users.id, requests.requesterId))
    .leftJoin(requestSpecs, eq(requestSpecs.requestId, requests.id))
    .where(where.length ? and(...where) : undefined);
}

/**
 * One page of the task history: the filters apply together, the order is the query's, and the
 * page starts at `cursor` (a `next` or `prev` from an earlier page). A cursor that is not one,
 * or was made for another sort, is a ValidationError naming `cursor`. `viewer` is whom `mine`
 * means.
 */
export async function listHistory(
  db: Db,
  query: HistoryQuery,
  viewer?: Viewer,
): Promise<HistoryPage> {
  const order = orders[query.sort];
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor, query.sort);
  const forward = cursor?.d !== "p";
  const where = filters(query, viewer);
  const direction = order.desc === forward ? desc : asc;

  const fetched = await select(db, cursor ? [...where, beyond(order, cursor, forward)] : where)
    .orderBy(...(order.key ? [direction(order.key)] : []), direction(requests.id))
    .limit(query.limit + 1);
  const more = fetched.length > query.limit;
  const page = fetched.slice(0, query.limit);
  if (!forward) page.reverse();
  const rows: HistoryRow[] = page.map(toRow);

  const positionOf = (row: HistoryRow | undefined) =>
    row ? { k: order.keyOf(row), i: row.id } : cursor;
  const first = positionOf(rows[0]);
  const last = positionOf(rows.at(-1));
  const anyBeyond = async (at: Pick<Cursor, "k" | "i">, ahead: boolean) =>
    (await select(db, [...where, beyond(order, at, ahead)]).limit(1)).length > 0;
  const hasNext = forward ? more : last !== undefined && (await anyBeyond(last, true));
  const hasPrev = forward
    ? first !== undefined && cursor !== undefined && (await anyBeyond(first, false))
    : more;
  return {
    rows,
    next: hasNext && last ? encodeCursor({ s: query.sort, d: "n", ...last }) : null,
    prev: hasPrev && first ? encodeCursor({ s: query.sort, d: "p", ...first }) : null,
  };
}

type Selected = Awaited<ReturnType<typeof select>>[number];

function toRow({ givenKind, inferredKind, ...r }: Selected): HistoryRow {
  const inferred = givenKind === null && isKind(inferredKind);
  return { ...r, kind: givenKind ?? (inferred ? inferredKind : null), kindInferred: inferred };
}

/**
 * One request's history row as a reload would show it, for the live history: a row that moves
 * (planned, done) carries the kind the Engineer inferred with it, not only its new status.
 */
export async function historyRow(db: Db, id: number): Promise<HistoryRow | undefined> {
  const [row] = await select(db, [eq(requests.id, id)]);
  return row ? toRow(row) : undefined;
}

const kinds = new Set<string>(requestKinds);
function isKind(value: string | null): value is NonNullable<RequestSummary["kind"]> {
  return value !== null && kinds.has(value);
}

/**
 * The repositories a filter offers: those configured, then any the history has rows for (a
 * repository that has left the config keeps its history, so it stays a choice).
 */
export async function filterRepos(
  db: Db,
  configured: readonly { name: string }[],
): Promise<string[]> {
  const filed = (
    await db.selectDistinct({ repo: requests.repo }).from(requests).orderBy(requests.repo)
  ).map((r) => r.repo);
  return [...new Set([...configured.map((r) => r.name), ...filed])];
}

/** The newest requests as picker choices (a request to depend on): id, title and repository. */
export async function recentRequests(
  db: Db,
  limit = 500,
): Promise<{ id: number; title: string; repo: string }[]> {
  return await db
    .select({ id: requests.id, title: requests.title, repo: requests.repo })
    .from(requests)
    .orderBy(desc(requests.id))
    .limit(limit);
}
