import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { type SQL, sql } from "drizzle-orm";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawAll, rawValue } from "@/server/db/sql";
import { git } from "@/server/git/run";
import { makeWorld, type TestWorld, worldEnv } from "@/test-support/fixtures";

// The whole worker process under hostile input: patches that would spin a thread, inbox files
// that would block the event loop or leak what they point at, a config that turns bad while it
// runs. It must keep beating, keep landing good work, and leave every branch fsck-clean.

const BIN = path.resolve("bin/hyperion.mjs");
const SECRET = "CANARY-SECRET-7f3a";
let world: TestWorld;
let worker: ResultPromise;
let stderr = "";
let canary: string;
let repoPath: string;

const env = () => ({
  ...worldEnv(world),
  HYPERION_MAX_ATTEMPTS: "1",
  HYPERION_BACKOFF_MS: "20",
  HYPERION_BACKOFF_MAX_MS: "50",
  HYPERION_POLL_MS: "20",
  HYPERION_DISPATCH_MS: "50",
});
const hyperion = (args: string[], input?: string) =>
  execa("node", [BIN, ...args], { env: env(), input, reject: false });
const rows = <T>(query: SQL) => rawAll<T>(world.db, query);

/** How far the worker has got: every event and queue move it writes adds to this. */
const progress = async () =>
  Number(
    await rawValue(
      world.db,
      sql`SELECT (SELECT coalesce(max(id), 0) FROM events) + (SELECT coalesce(max(id), 0) FROM change_queue_logs)`,
    ),
  );

/**
 * Waits for a condition the worker brings about. The deadline only turns a hang into a failure,
 * so it is measured from the worker's last progress, not from the start: on a busy machine a
 * slow worker that keeps writing events is waited for, a stuck one is not.
 */
async function until<T>(what: string, probe: () => T | Promise<T>, ms = 60_000): Promise<T> {
  let seen = await progress();
  let deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    const now = await progress();
    if (now !== seen) {
      seen = now;
      deadline = Date.now() + ms;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what} (no progress for ${ms} ms)\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  world = await makeWorld();
  repoPath = world.config.repositories[0]?.path ?? "";
  canary = path.join(path.dirname(repoPath), "canary");
  fs.mkdirSync(canary);
  fs.writeFileSync(path.join(canary, "secret.txt"), SECRET);
  worker = execa("node", [BIN, "worker"], { env: env(), reject: false });
  worker.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  await until(
    "the worker's first heartbeat",
    async () =>
      (
        await rows<{ n: number }>(
          sql`SELECT count(*) n FROM worker_heartbeats WHERE stopped_at IS NULL`,
        )
      )[0]?.n,
  );
}, 60_000);

afterAll(async () => {
  worker.kill("SIGTERM");
  await worker;
  await world.cleanup();
});

describe("the worker under hostile input", () => {
  it("keeps beating and landing while hostile input arrives on every channel", async () => {
    const inbox = path.join(world.dir, "inbox");
    fs.mkdirSync(inbox, { recursive: true });

    // 1. A hunk far past the end of the file: refused or a quick conflict, never a spin.
    const far = [
      "diff --git a/docs/guide.md b/docs/guide.md",
      "--- a/docs/guide.md",
      "+++ b/docs/guide.md",
      "@@ -9000000,1 +9000000,2 @@",
      " # Guide",
      "+far away",
      "",
    ].join("\n");
    const submitted = await hyperion(
      ["submit", "-"],
      JSON.stringify({
        repo: "demo",
        patch: far,
        summary: "far hunk",
        author: { name: "A", email: "a@example.test" },
      }),
    );

    // 2. The inbox: a FIFO, links out of it, a file over the size limit.
    execFileSync("mkfifo", [path.join(inbox, "fifo.json")]);
    fs.symlinkSync(path.join(canary, "secret.txt"), path.join(inbox, "link.json"));
    fs.symlinkSync("/etc/passwd", path.join(inbox, "passwd.json"));
    fs.writeFileSync(path.join(inbox, "huge.json"), `"${"x".repeat(9 * 1024 * 1024)}"`);

    // 3. The config turns bad while the worker runs, and is mended.
    const configFile = path.join(world.dir, "hyperion.config.json");
    const good = fs.readFileSync(configFile, "utf8");
    fs.writeFileSync(configFile, "{ not json");
    await until("the worker to report the bad config and keep the last good one", () =>
      stderr.includes("the last good configuration stays in force"),
    );
    fs.writeFileSync(configFile, good);
    await until("it to report the mended config", () =>
      stderr.includes("configuration file is valid again"),
    );

    // Good work after all of it: an inbox request and a CLI request both land.
    const after = Date.now();
    fs.writeFileSync(
      path.join(inbox, "good.json"),
      JSON.stringify({
        title: "Note the inbox",
        description: "",
        repo: "demo",
        files: ["docs/inbox.md"],
        allowNewFiles: true,
      }),
    );
    const filed = await hyperion(
      ["request", "-", "--allow-new-files"],
      JSON.stringify({
        title: "Note the CLI",
        description: "",
        repo: "demo",
        files: ["docs/cli.md"],
      }),
    );
    expect(filed.exitCode, filed.stderr).toBe(0);
    await until("both good requests done", async () => {
      const done = await rows<{ title: string; status: string }>(
        sql`SELECT title, status FROM requests WHERE title LIKE 'Note the %'`,
      );
      return done.length === 2 && done.every((r) => r.status === "done") ? done : null;
    });
    // Every thread and the supervisor beat again after the hostile input.
    await until("every heartbeat after the hostile input", async () => {
      const beats = await rows<{ id: string; beat_at: number }>(
        sql`SELECT id, beat_at FROM worker_heartbeats WHERE stopped_at IS NULL`,
      );
      return beats.length >= 4 && beats.every((b) => b.beat_at > after) ? beats : null;
    });
    expect(worker.exitCode).toBeNull();

    // The far hunk never landed.
    if (submitted.exitCode === 0) {
      const entry = await until("the far hunk's entry to end", async () =>
        (
          await rows<{ state: string; last_error: string }>(
            sql`SELECT state, last_error FROM queue_entries q JOIN change_requests c ON c.id = q.change_request_id WHERE c.summary = 'far hunk'`,
          )
        ).find((e) => e.state === "quarantined"),
      );
      expect(entry?.last_error).toMatch(/does not apply|conflict/);
    } else {
      expect(submitted.stderr).toMatch(/patch/);
    }
    expect(await git(["show", "main:docs/guide.md"], { cwd: repoPath })).not.toContain("far away");

    // The inbox took the good file, set the others aside, and quoted nothing.
    const rejected = path.join(inbox, "rejected");
    const errors = fs.existsSync(rejected)
      ? fs
          .readdirSync(rejected)
          .filter((f) => f.endsWith(".error.txt"))
          .map((f) => fs.readFileSync(path.join(rejected, f), "utf8"))
          .join("\n")
      : "";
    expect(errors).not.toContain(SECRET);
    expect(errors).not.toContain("root:");
    expect(errors).not.toContain(world.dir);
    expect(fs.readdirSync(inbox).filter((f) => f.endsWith(".json"))).toEqual([]);

    // Nothing outside the repository changed, and every branch passes fsck --strict.
    expect(fs.readdirSync(canary)).toEqual(["secret.txt"]);
    expect(fs.readFileSync(path.join(canary, "secret.txt"), "utf8")).toBe(SECRET);
    await git(["fsck", "--strict", "--no-progress"], { cwd: repoPath });
  }, 120_000);
});
