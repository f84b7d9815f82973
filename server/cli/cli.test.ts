import fs from "node:fs";
import path from "node:path";
import { count as countRows, eq } from "drizzle-orm";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requests } from "@/server/db/schema";
import { makeWorld, type TestWorld, tempDir, worldEnv } from "@/test-support/fixtures";

const BIN = path.resolve("bin/hyperion.mjs");
let world: TestWorld;

beforeAll(async () => {
  world = await makeWorld();
});
afterAll(() => world.cleanup());

function hyperion(args: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
  return execa("node", [BIN, ...args], {
    env: { ...worldEnv(world), ...opts.env },
    input: opts.input,
    reject: false,
  });
}

function writeJson(name: string, value: unknown): string {
  const file = path.join(world.dir, name);
  fs.writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value));
  return file;
}

const count = async () =>
  (await world.db.select({ n: countRows() }).from(requests).limit(1))[0]?.n ?? 0;
const ok = { title: "Document discounts", description: "Explain the cap.", repo: "demo" };

describe("hyperion request", () => {
  it("records a request and prints its id and status", async () => {
    const before = await count();
    const res = await hyperion(["request", writeJson("one.json", ok)]);
    expect(res.exitCode).toBe(0);
    // "Document discounts" names no file or area: the Engineer asks back.
    expect(res.stdout).toMatch(/^request \d+\tneeds_clarification\tDocument discounts$/m);
    expect(res.stdout).toContain("question: No file or area matches");
    expect(await count()).toBe(before + 1);
  });

  it("reads stdin with -, and files an array in one go", async () => {
    const before = await count();
    const res = await hyperion(["request", "-"], {
      input: JSON.stringify([ok, { ...ok, title: "Two" }]),
    });
    expect(res.exitCode).toBe(0);
    expect(res.stdout.match(/^request /gm)).toHaveLength(2);
    expect(await count()).toBe(before + 2);
  });

  it("on invalid input prints every failing path, exits 1 and writes nothing", async () => {
    const before = await count();
    const bad = [ok, { ...ok, title: "", files: ["../../etc/passwd"], repo: "nope", extra: 1 }];
    const res = await hyperion(["request", writeJson("bad.json", bad)]);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain("[1].title: is required");
    expect(res.stderr).toContain("[1].files[0]: must not contain '..'");
    expect(res.stderr).toContain("[1].extra: is not a known field");
    expect(await count()).toBe(before);
  });

  it('files a batch whose later items name earlier ones by position ("#0")', async () => {
    const res = await hyperion([
      "request",
      "--json",
      writeJson("batch.json", [ok, { ...ok, title: "Then", dependsOn: ["#0"] }]),
    ]);
    expect(res.exitCode).toBe(0);
    const [first, second] = JSON.parse(res.stdout) as { id: number }[];
    const [row] = await world.db
      .select({ dependsOn: requests.dependsOn })
      .from(requests)
      .where(eq(requests.id, second?.id ?? 0))
      .limit(1);
    expect(row?.dependsOn).toEqual([first?.id]);
  });

  it("refuses positions that point forward, at themselves or out of range, exits 1 and writes nothing", async () => {
    const before = await count();
    const bad = [
      ok,
      { ...ok, dependsOn: ["#2"] },
      { ...ok, dependsOn: ["#2"] },
      { ...ok, dependsOn: ["#5"] },
    ];
    const res = await hyperion(["request", writeJson("positions.json", bad)]);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain(
      '[1].dependsOn[0]: "#2" is not an earlier item of this call: it comes later; put it before the requests that depend on it',
    );
    expect(res.stderr).toContain(
      '[2].dependsOn[0]: "#2" is not an earlier item of this call: it is this request itself',
    );
    expect(res.stderr).toContain(
      '[3].dependsOn[0]: "#5" is not an earlier item of this call: this call has 4 requests, #0 to #3',
    );
    expect(await count()).toBe(before);
  });

  it("refuses a file main does not have unless --allow-new-files, exits 1 and writes nothing", async () => {
    const before = await count();
    const typo = writeJson("typo.json", { ...ok, files: ["docs/guide.md", "docs/gide.md"] });
    const res = await hyperion(["request", typo]);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain(
      "files[1]: docs/gide.md does not exist on main: check the path, or pass --allow-new-files to create it",
    );
    expect(await count()).toBe(before);

    const allowed = await hyperion(["request", "--allow-new-files", typo]);
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    expect(await count()).toBe(before + 1);
  });

  it("refuses a path outside the repository even with --allow-new-files", async () => {
    const before = await count();
    const res = await hyperion([
      "request",
      "--allow-new-files",
      writeJson("outside.json", [ok, { ...ok, files: ["../../etc/passwd", "docs/new.md"] }]),
    ]);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain("[1].files[0]: must not contain '..'");
    expect(res.stderr).not.toContain("docs/new.md");
    expect(await count()).toBe(before);
  });

  it.each([
    ["{ nope", "malformed JSON"],
    ["", "input is empty"],
    ["42", "(root)"],
  ])("refuses %j with a clear message", async (text, message) => {
    const res = await hyperion(["request", writeJson("x.json", text)]);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain(message);
  });

  it("refuses an oversized file before reading it", async () => {
    const res = await hyperion(["request", writeJson("big.json", ok)], {
      env: { HYPERION_MAX_BODY_BYTES: "10" },
    });
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toMatch(/the limit is 10 bytes/);
  });

  it("says when the file does not exist", async () => {
    const res = await hyperion(["request", "/nonexistent.json"]);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain("/nonexistent.json: no such file");
  });

  it("creates no database when the input is invalid on a fresh data directory", async () => {
    const dir = tempDir();
    fs.copyFileSync(
      path.join(world.dir, "hyperion.config.json"),
      path.join(dir, "hyperion.config.json"),
    );
    fs.cpSync(path.join(world.dir, "repos"), path.join(dir, "repos"), { recursive: true });
    const res = await hyperion(["request", writeJson("bad2.json", { title: "" })], {
      env: { HYPERION_DATA: dir },
    });
    expect(res.exitCode).toBe(1);
    expect(fs.existsSync(path.join(dir, "hyperion.db"))).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

// Each test here runs the CLI as a process several times (up to nine), each start a few seconds
// on a busy 2-core machine: the budget is per CLI run, not a wall-clock claim about the command.
const PER_RUN_MS = 12_000;

describe("hyperion close and edit on a failed request", { timeout: 8 * PER_RUN_MS }, () => {
  /** A request filed and failed before it was planned (received → failed is in the table). */
  async function failed(title: string): Promise<number> {
    const { createRequests } = await import("@/server/requests/service");
    const { moveRequest } = await import("@/server/state/requests/store");
    const [r] = await createRequests(world.db, {
      input: { ...ok, title },
      requester: world.admin,
      config: world.config,
      source: "cli",
    });
    const id = r?.id ?? 0;
    await moveRequest(world.db, { id, from: "received", to: "failed", reason: "test" });
    return id;
  }
  const statusOf = async (id: number) =>
    (
      await world.db
        .select({ status: requests.status })
        .from(requests)
        .where(eq(requests.id, id))
        .limit(1)
    )[0]?.status;

  it("close needs a reason (exit 2), refuses a request that did not fail, and closes a failed one", async () => {
    const id = await failed("Close me");
    for (const args of [
      ["close", `R${id}`],
      ["close", `R${id}`, "--reason", "  "],
    ]) {
      const res = await hyperion(args);
      expect(res.exitCode, args.join(" ")).toBe(2);
      expect(res.stderr).toContain("--reason is required");
    }
    const hostile = await hyperion(["close", `R${id}`, "--reason", "ring \u0007 the bell"]);
    expect(hostile.exitCode).toBe(1);
    expect(hostile.stderr).toContain("reason: control characters are not allowed");
    expect(await statusOf(id)).toBe("failed");
    const res = await hyperion(["close", `R${id}`, "--reason", "Filed twice"]);
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^R${id}\tclosed\tFiled twice`, "m"));
    expect(await statusOf(id)).toBe("cancelled");
    const again = await hyperion(["close", String(id), "--reason", "Again"]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain("only a failed request can be closed");
  });

  it("edit takes R12 and plans a failed request again", async () => {
    const id = await failed("Edit me");
    const res = await hyperion([
      "edit",
      `R${id}`,
      "--file",
      writeJson("edit.json", { files: ["docs/guide.md"] }),
    ]);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^request ${id}\t(planned|in_progress|done)`, "m"));
  });
});

describe("hyperion user and token", { timeout: 10 * PER_RUN_MS }, () => {
  it("adds a user with a generated password shown once, and lists users", async () => {
    const add = await hyperion(["user", "add", "rev@example.test", "--role", "reviewer"]);
    expect(add.exitCode).toBe(0);
    expect(add.stdout).toMatch(/password: \S{16,}/);
    const list = await hyperion(["user", "list", "--json"]);
    expect(JSON.parse(list.stdout)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ email: "rev@example.test", role: "reviewer" }),
      ]),
    );
  });

  it("refuses an unknown role and a duplicate email", async () => {
    const role = await hyperion(["user", "add", "x@example.test", "--role", "king"]);
    expect(role.exitCode).toBe(2);
    expect(role.stderr).toContain("king");
    const dup = await hyperion(["user", "add", "admin@hyperion.local", "--role", "admin"]);
    expect(dup.exitCode).toBe(1);
    expect(dup.stderr).toContain("exists");
  });

  it("changes a role, resets a password, disables and enables a user; refuses the last admin", async () => {
    await hyperion(["user", "add", "pat@example.test", "--role", "requester"]);
    const role = await hyperion(["user", "set-role", "pat@example.test", "reviewer"]);
    expect(role.exitCode, role.stderr).toBe(0);
    expect(role.stdout).toContain("pat@example.test is now reviewer");
    const bad = await hyperion(["user", "set-role", "pat@example.test", "king"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain("role: 'king' is not a role");
    const reset = await hyperion(["user", "reset-password", "pat@example.test"]);
    expect(reset.exitCode, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/password: \S+ {2}\(shown once; keep it\)/);
    const off = await hyperion(["user", "disable", "pat@example.test"]);
    expect(off.stdout).toContain("disabled");
    const list = await hyperion(["user", "list", "--json"]);
    expect(JSON.parse(list.stdout)).toContainEqual(
      expect.objectContaining({ email: "pat@example.test", state: "disabled" }),
    );
    expect((await hyperion(["user", "enable", "pat@example.test"])).exitCode).toBe(0);
    const last = await hyperion(["user", "disable", "admin@hyperion.local"]);
    expect(last.exitCode).toBe(1);
    expect(last.stderr).toContain("is the last admin");
  });

  it("creates a token for a user and never stores it in clear", async () => {
    const res = await hyperion(["token", "create", "--user", "admin@hyperion.local"]);
    expect(res.exitCode).toBe(0);
    const token = res.stdout.match(/hyp_\S+/)?.[0] ?? "";
    expect(token).not.toBe("");
    const raw = fs.readFileSync(path.join(world.dir, "hyperion.db"));
    expect(raw.includes(Buffer.from(token))).toBe(false);
  });

  it("prints help for every command", async () => {
    for (const args of [
      ["--help"],
      ["request", "--help"],
      ["user", "add", "--help"],
      ["token", "create", "--help"],
      ["start", "--help"],
      ["worker", "--help"],
    ]) {
      const res = await hyperion(args);
      expect([args, res.exitCode]).toEqual([args, 0]);
      expect(res.stdout).toContain("Usage: hyperion");
    }
  });

  it("reject --agent: refuses a name that is no agent, and --agent with --close, exit 2", async () => {
    const bad = await hyperion(["reject", "Q1", "--reason", "x", "--agent", "nobody"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("--agent must be one of command, codex, claude, copilot");
    const both = await hyperion(["reject", "Q1", "--reason", "x", "--agent", "claude", "--close"]);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toContain("--agent and --close cannot go together");
  });

  it("exits 2 on an unknown command", async () => {
    const res = await hyperion(["frobnicate"]);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("unknown command");
  });
});

describe("hyperion start", () => {
  it("stops with a message naming the bad key when the config is invalid", async () => {
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, "hyperion.config.json"),
      JSON.stringify({ repositories: [{ name: "demo", path: "nowhere" }] }),
    );
    const res = await hyperion(["start", "--no-build"], { env: { HYPERION_DATA: dir } });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("repositories[0].path: does not exist");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a repository path with a NUL byte, naming it, with exit 2 and no stack trace", async () => {
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, "hyperion.config.json"),
      JSON.stringify({ repositories: [{ name: "demo", path: "repo\u0000x" }] }),
    );
    for (const args of [
      ["start", "--no-build"],
      ["request", "-"],
    ]) {
      const res = await hyperion(args, { env: { HYPERION_DATA: dir }, input: "{}" });
      expect([args, res.exitCode]).toEqual([args, 2]);
      expect(res.stderr).toContain("repositories[0].path: must not contain a NUL byte");
      expect(res.stderr).not.toMatch(/\bat .*\(|ERR_INVALID_ARG_VALUE/);
    }
    expect(fs.existsSync(path.join(dir, "hyperion.db"))).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("stops with a message saying what to do when the database file is not a database", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "hyperion.db"), "this is not sqlite, just text ".repeat(200));
    const res = await hyperion(["start", "--no-build"], { env: { HYPERION_DATA: dir } });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/Cannot open the database .*move it aside or set HYPERION_DATA/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("stops with a message naming a bad environment variable", async () => {
    const res = await hyperion(["start", "--no-build"], { env: { PORT: "seventy" } });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("PORT:");
  });
});
