import { count, eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HistoryQuery, type HistoryQueryInput } from "@/schemas/history";
import { events, requestSpecs, requests } from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { createRequests } from "../requests/service";
import { filterRepos, historyRow, likePattern, listHistory } from "./history";

let world: TestWorld;
beforeAll(async () => {
  world = await makeWorld();
});
afterAll(() => world.cleanup());
beforeEach(async () => {
  await world.db.delete(requestSpecs);
  await world.db.delete(requests);
});

/** Files one request per title, oldest first (in batches: intake takes 100 at a time). */
async function file(titles: string[], extra: Record<string, unknown> = {}) {
  const made = [];
  for (let i = 0; i < titles.length; i += 100) {
    const input = titles
      .slice(i, i + 100)
      .map((title) => ({ title, description: "", repo: "demo", ...extra }));
    made.push(
      ...(await createRequests(world.db, {
        input,
        requester: world.admin,
        config: world.config,
        source: "cli",
      })),
    );
  }
  return made;
}
const list = async (input: HistoryQueryInput = {}) =>
  listHistory(world.db, HistoryQuery.parse(input));
const titles = async (input: HistoryQueryInput = {}) =>
  (await list(input)).rows.map((r) => r.title);
const cursorError = async (input: HistoryQueryInput) => {
  try {
    await list(input);
  } catch (e) {
    return e as ValidationError;
  }
};

/** Every page from the first, following `next`; the titles of each. */
async function walk(input: HistoryQueryInput): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 100; guard++) {
    const page = await list({ ...input, cursor });
    pages.push(page.rows.map((r) => r.title));
    if (!page.next) return pages;
    cursor = page.next;
  }
  throw new Error("paging did not end");
}

describe("listHistory: search and filters", () => {
  it("searches titles case-insensitively, with %, _ and \\ matching only themselves", async () => {
    await file([
      "Cap discounts at 50%",
      "Cap discounts at 500",
      "snake_case names",
      "snakeXcase",
      "a\\b",
    ]);
    expect(await titles({ q: "CAP DISCOUNTS" })).toEqual([
      "Cap discounts at 500",
      "Cap discounts at 50%",
    ]);
    expect(await titles({ q: "50%" })).toEqual(["Cap discounts at 50%"]);
    expect(await titles({ q: "%" })).toEqual(["Cap discounts at 50%"]);
    expect(await titles({ q: "e_c" })).toEqual(["snake_case names"]);
    expect(await titles({ q: "\\" })).toEqual(["a\\b"]);
    expect(await titles({ q: "  snake  ".trim() })).toEqual(["snakeXcase", "snake_case names"]);
    expect(await titles({ q: "   " })).toHaveLength(5);
    expect(likePattern("50%_\\")).toBe("%50\\%\\_\\\\%");
  });

  it("applies status, repository and kind together", async () => {
    const [a, b] = await file(["alpha", "beta"], { kind: "docs" });
    await file(["gamma"], { kind: "bugfix" });
    await world.db
      .update(requests)
      .set({ status: "done" })
      .where(eq(requests.id, a?.id ?? 0));
    expect(await titles({ status: "done" })).toEqual(["alpha"]);
    expect(await titles({ kind: "docs" })).toEqual(["beta", "alpha"]);
    expect(await titles({ kind: "docs", status: "received" })).toEqual(["beta"]);
    expect(await titles({ kind: "docs", status: "received", q: "gam" })).toEqual([]);
    expect(await titles({ repo: "demo", q: "BET" })).toEqual(["beta"]);
    expect(await titles({ repo: "elsewhere" })).toEqual([]);
    expect(b?.id).toBeGreaterThan(a?.id ?? 0);
    expect(await filterRepos(world.db, [])).toEqual(["demo"]);
    // Configured first, then any the history still has; each once.
    expect(await filterRepos(world.db, [{ name: "web" }, { name: "demo" }])).toEqual([
      "web",
      "demo",
    ]);
  });

  it("shows the Engineer's kind when the requester gave none, and filters by it", async () => {
    const [given, inferred, asked] = [
      ...(await file(["given"], { kind: "docs" })),
      ...(await file(["inferred", "asked"])),
    ];
    const spec = {
      kind: "bugfix" as const,
      risk: "low" as const,
      areas: [],
      files: [],
      acceptance: [],
      checks: [],
      contextTokens: 0,
    };
    const specRow = { questions: [], answers: [], engineer: "builtin", updatedAt: 1 };
    await world.db.insert(requestSpecs).values([
      { ...specRow, requestId: given?.id ?? 0, spec: { ...spec, kind: "refactor" } },
      { ...specRow, requestId: inferred?.id ?? 0, spec },
      { ...specRow, requestId: asked?.id ?? 0, spec: null, questions: ["Which file?"] },
    ]);
    const rows = (await list()).rows.map((r) => [r.title, r.kind, r.kindInferred]);
    expect(rows).toEqual([
      ["asked", null, false],
      ["inferred", "bugfix", true],
      ["given", "docs", false],
    ]);
    expect(await titles({ kind: "bugfix" })).toEqual(["inferred"]);
    expect(await titles({ kind: "refactor" })).toEqual([]);
    // The live history's row for one request is the row a reload shows, inferred kind included.
    expect(await historyRow(world.db, inferred?.id ?? 0)).toEqual(
      (await list()).rows.find((r) => r.id === inferred?.id),
    );
    expect(await historyRow(world.db, inferred?.id ?? 0)).toMatchObject({
      kind: "bugfix",
      kindInferred: true,
    });
    expect(await historyRow(world.db, 999_999)).toBeUndefined();
  });
});

describe("listHistory: order and pages", () => {
  it("sorts newest, oldest, recently updated and by title", async () => {
    const made = await file(["banana", "Apple", "cherry"]);
    const [banana] = made;
    await world.db
      .update(requests)
      .set({ updatedAt: Date.now() + 60_000 })
      .where(eq(requests.id, banana?.id ?? 0));
    expect(await titles()).toEqual(["cherry", "Apple", "banana"]);
    expect(await titles({ sort: "old" })).toEqual(["banana", "Apple", "cherry"]);
    expect(await titles({ sort: "updated" })).toEqual(["banana", "cherry", "Apple"]);
    expect(await titles({ sort: "title" })).toEqual(["Apple", "banana", "cherry"]);
  });

  it("pages through more than 100 rows in every order, each row once", async () => {
    const all = Array.from({ length: 230 }, (_, i) => `Request ${String(i).padStart(3, "0")}`);
    await file(all);
    for (const sort of ["new", "old", "updated", "title"] as const) {
      const pages = await walk({ sort, limit: 100 });
      expect(pages.map((p) => p.length)).toEqual([100, 100, 30]);
      expect(new Set(pages.flat()).size).toBe(230);
    }
    expect((await walk({ sort: "title" })).flat()).toEqual(all);
    expect((await walk({})).map((p) => p.length)).toEqual([50, 50, 50, 50, 30]);
  });

  it("keeps pages stable when requests are filed between them", async () => {
    await file(Array.from({ length: 120 }, (_, i) => `old ${i}`));
    const first = await list({ limit: 50 });
    expect(first.prev).toBeNull();
    await file(["filed meanwhile 1", "filed meanwhile 2"]);
    const second = await list({ limit: 50, cursor: first.next ?? undefined });
    expect(second.rows[0]?.id).toBe((first.rows.at(-1)?.id ?? 0) - 1);
    // Back from the second page: the rows of the first, and the new ones still before them.
    const back = await list({ limit: 50, cursor: second.prev ?? undefined });
    expect(back.rows.map((r) => r.id)).toEqual(first.rows.map((r) => r.id));
    expect(back.prev).not.toBeNull();
    expect(
      (await list({ limit: 50, cursor: back.prev ?? undefined })).rows.map((r) => r.title),
    ).toEqual(["filed meanwhile 2", "filed meanwhile 1"]);
    const third = await list({ limit: 50, cursor: second.next ?? undefined });
    expect(third.rows).toHaveLength(20);
    expect(third.next).toBeNull();
    expect(third.rows.at(-1)?.title).toBe("old 0");
  });

  it("pages with filters and the title order across equal titles", async () => {
    await file(Array.from({ length: 7 }, () => "same title"));
    await file(["other"]);
    const pages = await walk({ sort: "title", q: "same", limit: 3 });
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    const ids = [];
    let cursor: string | undefined;
    do {
      const page = await list({ sort: "title", q: "same", limit: 3, cursor });
      ids.push(...page.rows.map((r) => r.id));
      cursor = page.next ?? undefined;
    } while (cursor);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it("pages the title order without regard to case, as it sorts", async () => {
    await file(["b", "A", "a", "B", "c"]);
    expect((await walk({ sort: "title", limit: 1 })).flat()).toEqual(["A", "a", "b", "B", "c"]);
    expect((await walk({ sort: "title", limit: 2 })).flat()).toEqual(["A", "a", "b", "B", "c"]);
  });
});

describe("listHistory: bad input", () => {
  it("refuses a malformed cursor, naming it, and writes nothing", async () => {
    await file(["one"]);
    const before = (await world.db.select({ n: count() }).from(events).limit(1))[0]?.n;
    for (const cursor of ["nope", "%%%", Buffer.from('{"s":"new"}').toString("base64url"), "e30"]) {
      const err = await cursorError({ cursor });
      expect(err).toBeInstanceOf(ValidationError);
      expect(err?.issues.map((i) => i.path)).toEqual(["cursor"]);
    }
    expect((await world.db.select({ n: count() }).from(events).limit(1))[0]?.n).toBe(before);
  });

  it("refuses a cursor made for another sort", async () => {
    await file(["one", "two", "three"]);
    const next = (await list({ sort: "title", limit: 1 })).next ?? undefined;
    expect(next).toBeDefined();
    expect((await cursorError({ sort: "new", cursor: next }))?.issues).toEqual([
      { path: "cursor", message: "made for sort 'title', not 'new'" },
    ]);
  });

  it("bounds limit and search length in the schema, naming the field", () => {
    const paths = (input: unknown) => {
      const r = HistoryQuery.safeParse(input);
      return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
    };
    expect(paths({ limit: 101 })).toEqual(["limit"]);
    expect(paths({ limit: 0 })).toEqual(["limit"]);
    expect(paths({ limit: 100 })).toEqual([]);
    expect(paths({ q: "x".repeat(201) })).toEqual(["q"]);
    expect(paths({ status: "nope" })).toEqual(["status"]);
    expect(paths({ sort: "random" })).toEqual(["sort"]);
    expect(paths({ extra: 1 })).toEqual([""]);
  });
});
