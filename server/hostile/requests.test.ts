import fs from "node:fs";
import path from "node:path";
import { TRPCError } from "@trpc/server";
import { sql } from "drizzle-orm";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changeRequests } from "@/server/db/schema";
import { rawValue } from "@/server/db/sql";
import { advance } from "@/server/dispatch/advance";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { type Context, createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import type { User } from "@/server/users/service";
import { makeWorld, type TestWorld, tempDir, worldEnv } from "@/test-support/fixtures";

// Hostile requests over the API (tRPC with a real context on a real SQLite file) and the CLI
// (the real binary): each refused with the field it is about, nothing written.

let world: TestWorld;
let requester: User;
let operator: User;
const createCaller = createCallerFactory(appRouter);
const ctx = (user: User): Context => ({
  db: world.db,
  env: world.env,
  user,
  crossOrigin: false,
  via: "token",
});

beforeAll(async () => {
  world = await makeWorld();
  requester = await world.userWith("requester");
  operator = await world.userWith("operator");
});
afterAll(() => world.cleanup());

const count = async (table: string) =>
  Number(await rawValue(world.db, sql`SELECT count(*) FROM ${sql.identifier(table)}`));
const ok = { title: "Explain caps", description: "Say why.", repo: "demo" };

/** [case, input fields over a valid request, the path named, what the message says] */
const REQUEST_CASES: [string, Record<string, unknown>, string, RegExp][] = [
  ["empty title", { title: "" }, "title", /required/],
  ["title over the limit", { title: "t".repeat(201) }, "title", /at most 200/],
  ["title with U+2028", { title: "a\u2028b" }, "title", /line separators/],
  ["title with U+2029", { title: "a\u2029b" }, "title", /line separators/],
  ["title with a bidi override", { title: "a\u202eb" }, "title", /direction overrides/],
  ["title with a bidi isolate", { title: "a\u2066b" }, "title", /direction overrides/],
  ["title with a zero-width space", { title: "a\u200bb" }, "title", /zero-width/],
  ["title with a BOM", { title: "a\ufeffb" }, "title", /zero-width/],
  ["title with NUL", { title: "a\u0000b" }, "title", /control characters/],
  ["title with ESC", { title: "a\u001b[31mb" }, "title", /control characters/],
  ["title with a newline", { title: "a\nb" }, "title", /control characters/],
  ["title with a carriage return", { title: "a\rb" }, "title", /control characters/],
  ["title with DEL", { title: "a\u007fb" }, "title", /control characters/],
  ["description over the limit", { description: "d".repeat(20_001) }, "description", /20000/],
  ["description with NUL", { description: "a\u0000" }, "description", /control/],
  ["description with BEL", { description: "a\u0007" }, "description", /control/],
  ["description with ESC", { description: "\u001b]8;;http://x\u0007" }, "description", /control/],
  ["unknown repository", { repo: "nope" }, "repo", /unknown repository 'nope'/],
  ["repository by path", { repo: "../demo" }, "repo", /unknown repository/],
  ["empty repository", { repo: "" }, "repo", /required/],
  ["file outside", { files: ["../x"] }, "files[0]", /\.\./],
  ["absolute file", { files: ["/etc/passwd"] }, "files[0]", /absolute/],
  ["file in .git", { files: [".git/config"] }, "files[0]", /\.git/],
  ["file in .GIT", { files: [".GIT/config"] }, "files[0]", /\.git/],
  ["file in .git.", { files: [".git./config"] }, "files[0]", /\.git/],
  ["file in '.git '", { files: [".git /config"] }, "files[0]", /\.git/],
  ["file in GIT~1", { files: ["GIT~1/config"] }, "files[0]", /git/i],
  ["file with ./", { files: ["./docs/x.md"] }, "files[0]", /'\.'|segment/],
  ["file with /./", { files: ["docs/./x.md"] }, "files[0]", /'\.'|segment/],
  ["file with //", { files: ["docs//x.md"] }, "files[0]", /empty/],
  ["file with NUL", { files: ["docs/a\u0000b"] }, "files[0]", /NUL|control/],
  ["file with a drive letter", { files: ["C:/x"] }, "files[0]", /absolute/],
  ["file with a backslash", { files: ["docs\\x.md"] }, "files[0]", /slash/],
  ["file name over 255 bytes", { files: [`docs/${"n".repeat(256)}`] }, "files[0]", /255/],
  ["file with .git and a zero-width joiner", { files: [".g\u200dit/x"] }, "files[0]", /\.git/],
  ["file with a newline", { files: ["docs/x\n.md"] }, "files[0]", /control/],
  ["too many files", { files: Array.from({ length: 501 }, (_, i) => `f${i}`) }, "files", /500/],
  ["unknown area", { areas: ["kitchen"] }, "areas[0]", /unknown area 'kitchen'/],
  ["too many areas", { areas: Array.from({ length: 51 }, () => "docs") }, "areas", /50/],
  ["empty area", { areas: [""] }, "areas[0]", /empty/],
  ["dependsOn as text", { dependsOn: ["1"] }, "dependsOn[0]", /number/],
  ["dependsOn negative", { dependsOn: [-1] }, "dependsOn[0]", /request id/],
  ["dependsOn fractional", { dependsOn: [1.5] }, "dependsOn[0]", /whole number/],
  ["dependsOn unknown", { dependsOn: [999_999] }, "dependsOn[0]", /999999/],
  ["dependsOn too many", { dependsOn: Array.from({ length: 101 }, () => 1) }, "dependsOn", /100/],
  [
    "acceptance too many",
    { acceptance: Array.from({ length: 51 }, () => "x") },
    "acceptance",
    /50/,
  ],
  ["acceptance too long", { acceptance: ["a".repeat(1001)] }, "acceptance[0]", /1000/],
  ["acceptance with control chars", { acceptance: ["npm test\u0000"] }, "acceptance[0]", /control/],
  // `checks` names the policy's checks; a command line in it is refused, never run.
  ["a command as a check", { checks: ["sh -c id"] }, "checks[0]", /not a check of repository/],
  ["an unknown priority", { priority: "urgent" }, "priority", /low|normal|high/],
  ["an unknown kind", { kind: "hack" }, "kind", /feature/],
];

const SERVICE_LEVEL = ["unknown area", "dependsOn unknown", "a command as a check"];

async function refusal(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (err) {
    if (!(err instanceof TRPCError)) throw err;
    const issues = (err.cause as { issues?: { path: string; message: string }[] })?.issues ?? [];
    return { code: err.code, message: err.message, issues };
  }
  throw new Error("was accepted");
}

describe("hostile requests over the API", () => {
  it.each(REQUEST_CASES)(
    "refuses %s, naming the field, and writes nothing",
    async (_, extra, at, why) => {
      const before = await count("requests");
      const res = await refusal(
        createCaller(ctx(requester)).request.create({ ...ok, ...extra } as never),
      );
      expect(res.code).toBe("BAD_REQUEST");
      const issue = res.issues.find((i) => i.path === at) ?? {
        path: "",
        message: res.message,
      };
      expect(issue.path).toBe(at);
      expect(issue.message).toMatch(why);
      expect(await count("requests")).toBe(before);
    },
  );

  it("refuses more than 100 requests in one call, naming the limit", async () => {
    const before = await count("requests");
    const res = await refusal(
      createCaller(ctx(requester)).request.create(Array.from({ length: 101 }, () => ok)),
    );
    expect(res.code).toBe("BAD_REQUEST");
    expect(res.message).toMatch(/at most 100 requests per call/);
    expect(await count("requests")).toBe(before);
  });

  it("never runs a requester's acceptance as a command: it stays prose for the developer", async () => {
    const canary = tempDir("hyperion-canary-");
    const marker = path.join(canary, "ran");
    const acceptance = [
      `sh -c "touch ${marker}"`,
      `touch ${marker}`,
      `npm test; touch ${marker}`,
      `$(touch ${marker})`,
      `node -e require('fs').writeFileSync('${marker}','x')`,
    ];
    const [filed] = (await createCaller(ctx(requester)).request.create({
      ...ok,
      files: ["docs/guide.md"],
      acceptance,
    })) as { id: number }[];
    await advance(world.db, world.config, "hostile");
    await runQueueLoop({
      db: world.db,
      config: () => world.config,
      owner: "hostile-q",
      opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5 },
      shouldStop: () => false,
    });
    await advance(world.db, world.config, "hostile");
    const detail = await createCaller(ctx(requester)).request.detail({ id: filed?.id ?? 0 });
    expect(JSON.stringify(detail)).toContain('"checks":[]');
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.readdirSync(canary)).toEqual([]);
    const checks = (
      await world.db.select({ checks: changeRequests.checks }).from(changeRequests)
    ).map((c) => c.checks);
    for (const c of checks) expect(c).toEqual([]);
    fs.rmSync(canary, { recursive: true, force: true });
  });
});

const patch = [
  "diff --git a/docs/guide.md b/docs/guide.md",
  "--- a/docs/guide.md",
  "+++ b/docs/guide.md",
  "@@ -1 +1,2 @@",
  " # Guide",
  "+more",
  "",
].join("\n");
const change = {
  repo: "demo",
  patch,
  summary: "A change",
  author: { name: "A", email: "a@example.test" },
};

const SUBMIT_CASES: [string, Record<string, unknown>, string, RegExp][] = [
  [
    "a command as a check",
    { checks: ["sh -c id>/tmp/x"] },
    "checks[0]",
    /only its policy defines checks/,
  ],
  ["a policy command with more added", { checks: ["npm test; id"] }, "checks[0]", /not a check/],
  ["a command substitution", { checks: ["$(id)"] }, "checks[0]", /not a check/],
  ["a check name the policy lacks", { checks: ["deploy"] }, "checks[0]", /defined: test/],
  ["a branch lock file", { targetBranch: "main.lock" }, "targetBranch", /lock/],
  ["HEAD as a branch", { targetBranch: "HEAD" }, "targetBranch", /HEAD/],
  ["a branch into the git dir", { targetBranch: "../../config" }, "targetBranch", /\.\./],
  ["a branch ending in /", { targetBranch: "feature/" }, "targetBranch", /\//],
  ["an unknown field", { command: "id" }, "", /command/],
  [
    "an author with a newline",
    { author: { name: "a\nb", email: "a@example.test" } },
    "author.name",
    /one line/,
  ],
];

describe("hostile change requests over the API", () => {
  it.each(SUBMIT_CASES)(
    "refuses %s, naming the field, and queues nothing",
    async (_, extra, at, why) => {
      const before = await count("queue_entries");
      const res = await refusal(
        createCaller(ctx(operator)).queue.submit({ ...change, ...extra } as never),
      );
      expect(res.code).toBe("BAD_REQUEST");
      const issue = res.issues.find((i) => i.path === at) ?? { path: "", message: res.message };
      expect(issue.path).toBe(at);
      expect(issue.message).toMatch(why);
      expect(await count("queue_entries")).toBe(before);
    },
  );

  it("honours HYPERION_MAX_PATCH_BYTES as the CLI does", async () => {
    const saved = process.env.HYPERION_MAX_PATCH_BYTES;
    process.env.HYPERION_MAX_PATCH_BYTES = "64";
    try {
      const res = await refusal(createCaller(ctx(operator)).queue.submit(change as never));
      expect(res.issues).toEqual([
        { path: "patch", message: `is ${Buffer.byteLength(patch)} bytes; the limit is 64 bytes` },
      ]);
    } finally {
      if (saved === undefined) delete process.env.HYPERION_MAX_PATCH_BYTES;
      else process.env.HYPERION_MAX_PATCH_BYTES = saved;
    }
  });

  it("a requester cannot queue a change at all", async () => {
    expect((await refusal(createCaller(ctx(requester)).queue.submit(change as never))).code).toBe(
      "FORBIDDEN",
    );
  });
});

describe("hostile requests through the CLI", () => {
  const BIN = path.resolve("bin/hyperion.mjs");
  it("refuses every case of the table in one file: each index named, exit 1, nothing written", async () => {
    const before = await count("requests");
    // Checks against the database (areas, dependsOn) run once the shapes are valid: they get
    // their own file below.
    const cases = REQUEST_CASES.filter(([name]) => !SERVICE_LEVEL.includes(name));
    const batch = cases.map(([, extra]) => ({ ...ok, ...extra }));
    const file = path.join(world.dir, "hostile.json");
    fs.writeFileSync(file, JSON.stringify(batch));
    const res = await execa("node", [BIN, "request", file], {
      env: { ...worldEnv(world) },
      reject: false,
    });
    expect(res.exitCode).toBe(1);
    cases.forEach(([name, , at], i) => {
      if (at) expect(res.stderr, name).toContain(`[${i}].${at}:`);
      else expect(res.stderr, name).toMatch(new RegExp(`\\[${i}\\]`));
    });
    expect(res.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(await count("requests")).toBe(before);
  });

  it("refuses unknown areas and requests in one file, naming each", async () => {
    const before = await count("requests");
    const cases = REQUEST_CASES.filter(([name]) => SERVICE_LEVEL.includes(name));
    const file = path.join(world.dir, "refs.json");
    fs.writeFileSync(file, JSON.stringify(cases.map(([, extra]) => ({ ...ok, ...extra }))));
    const res = await execa("node", [BIN, "request", file], {
      env: { ...worldEnv(world) },
      reject: false,
    });
    expect(res.exitCode).toBe(1);
    cases.forEach(([, , at, why], i) => {
      expect(res.stderr).toContain(`[${i}].${at}:`);
      expect(res.stderr).toMatch(why);
    });
    expect(await count("requests")).toBe(before);
  });

  it("refuses more than 100 requests in one file", async () => {
    const file = path.join(world.dir, "many.json");
    fs.writeFileSync(file, JSON.stringify(Array.from({ length: 101 }, () => ok)));
    const res = await execa("node", [BIN, "request", file], {
      env: { ...worldEnv(world) },
      reject: false,
    });
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toMatch(/at most 100 requests per call/);
  });
});
