import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { execa, type Result, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, dbFile, openDb } from "@/server/db/client";
import { rawAll, rawValue } from "@/server/db/sql";
import { git } from "@/server/git/run";
import { makeWorld, type TestWorld, tempDir, worldEnv } from "@/test-support/fixtures";

// `hyperion backup` while requests are filed and the worker lands their changes, then
// `hyperion restore` into a fresh data folder: the restored queue replays without divergence
// and every commit the restored database says landed is on the restored repository's branch.
// Then what a backup or a restore refuses: a clear message naming the path, exit 2, nothing
// written.

const BIN = path.resolve("bin/hyperion.mjs");
let world: TestWorld;
let scratch: string;
/** The backup made while the worker ran: the bad-input tests copy it and spoil the copy. */
let backup: string;
const running = new Set<ResultPromise>();

const workerEnv = () => ({
  ...worldEnv(world),
  HYPERION_POLL_MS: "20",
  HYPERION_DISPATCH_MS: "50",
  HYPERION_BACKOFF_MS: "20",
  HYPERION_BACKOFF_MAX_MS: "100",
});
const hyperion = (args: string[], env: Record<string, string>, input?: string) =>
  execa("node", [BIN, ...args], { env, input, reject: false });

beforeAll(async () => {
  world = await makeWorld();
  scratch = tempDir("hyperion-backup-");
}, 60_000);

afterAll(async () => {
  for (const child of running) {
    child.kill("SIGKILL");
    await child.catch(() => undefined);
  }
  await world.cleanup();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const doneCount = async () =>
  Number(await rawValue(world.db, sql`SELECT count(*) FROM requests WHERE status = 'done'`));

function fileRequests(from: number, n: number): Promise<Result> {
  const input = Array.from({ length: n }, (_, k) => ({
    title: `Backup note ${from + k}`,
    description: `A note in docs/backup-${from + k}.md, landed while a backup is made.`,
    repo: "demo",
    files: [`docs/backup-${from + k}.md`],
  }));
  return hyperion(["request", "-", "--allow-new-files"], worldEnv(world), JSON.stringify(input));
}

/** Polls until `check` holds; a worker that exits first fails the wait with its output. */
async function until(worker: ResultPromise, check: () => Promise<boolean>) {
  let exited: string | null = null;
  void worker.then((r) => {
    exited = `exit ${r.exitCode}\n${r.stderr}`;
  });
  for (;;) {
    if (await check()) return;
    if (exited !== null) throw new Error(`the worker stopped: ${exited}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("hyperion backup and restore", () => {
  it("backs up while requests are filed and changes land; the restore replays without divergence and has every landed commit", async () => {
    const worker = execa("node", [BIN, "worker"], { env: workerEnv(), reject: false });
    running.add(worker);
    expect((await fileRequests(0, 4)).exitCode).toBe(0);
    await until(worker, async () => (await doneCount()) >= 2);
    // The backup runs while a second batch is filed and the first lands.
    backup = path.join(scratch, "backup");
    const [made, filed] = await Promise.all([
      hyperion(["backup", backup], worldEnv(world)),
      fileRequests(4, 4),
    ]);
    expect(made.exitCode, String(made.stderr)).toBe(0);
    expect(filed.exitCode, String(filed.stderr)).toBe(0);
    expect(made.stdout).toMatch(/^repository demo: \d+ refs/m);
    expect(made.stdout).toMatch(/^manifest: \d+ files/m);
    await until(worker, async () => (await doneCount()) === 8);
    worker.kill("SIGTERM");
    expect((await worker).exitCode).toBe(0);
    running.delete(worker);

    const manifest = JSON.parse(fs.readFileSync(path.join(backup, "manifest.json"), "utf8"));
    const listed = manifest.files.map((f: { path: string }) => f.path);
    if (world.env.HYPERION_DATABASE_URL) {
      // PostgreSQL: the database is pg_dump's (docs/storage.md); the rest is backed up.
      expect(made.stdout).toContain("back it up with pg_dump");
      expect(manifest.database).toBeNull();
      expect(listed).toContain("repos/demo.bundle");
      return;
    }
    expect(made.stdout).toMatch(/^database: copying/m);
    expect(listed.filter((p: string) => p !== "auth-secret").sort()).toEqual(
      ["hyperion.config.json", "hyperion.db", "repos/demo.bundle"].sort(),
    );
    expect(manifest.migrations.length).toBeGreaterThan(0);

    const restored = path.join(scratch, "restored");
    const env = { HYPERION_DATA: restored };
    const r = await hyperion(["restore", backup], env);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stdout).toContain(`checked ${listed.length} files`);

    const replay = await hyperion(["replay", "--out", path.join(scratch, "replay.db")], env);
    expect(replay.exitCode, `${replay.stdout}${replay.stderr}`).toBe(0);
    expect(replay.stdout).toContain("no divergence");

    const db = openDb(dbFile(restored), { migrate: false });
    try {
      const landed = await rawAll<{ id: number; merged_commit: string }>(
        db,
        sql`SELECT id, merged_commit FROM queue_entries WHERE state = 'merged'`,
      );
      // The backup was made after two requests were done: at least their changes landed.
      expect(landed.length).toBeGreaterThanOrEqual(2);
      const repo = path.join(restored, "repos", "demo");
      for (const e of landed)
        await expect(
          git(["merge-base", "--is-ancestor", e.merged_commit, "main"], { cwd: repo }),
        ).resolves.toBeDefined();
      // The working tree is the branch's tip, checked out.
      expect((await git(["status", "--porcelain"], { cwd: repo })).trim()).toBe("");
    } finally {
      await closeDb(db);
    }
  }, 600_000);

  it("refuses a backup folder that is not empty, not a folder or cannot be made: exit 2, the path named, nothing written", async () => {
    const full = path.join(scratch, "full");
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, "keep.txt"), "mine");
    const a = await hyperion(["backup", full], worldEnv(world));
    expect(a.exitCode).toBe(2);
    expect(a.stderr).toContain(`${full} is not empty`);
    expect(fs.readdirSync(full)).toEqual(["keep.txt"]);

    const file = path.join(scratch, "a-file");
    fs.writeFileSync(file, "x");
    const b = await hyperion(["backup", file], worldEnv(world));
    expect(b.exitCode).toBe(2);
    expect(b.stderr).toContain(`${file} is not a folder`);

    const under = path.join(file, "backup");
    const c = await hyperion(["backup", under], worldEnv(world));
    expect(c.exitCode).toBe(2);
    expect(c.stderr).toContain(`${under} is not writable`);
    expect(fs.readFileSync(file, "utf8")).toBe("x");

    // Not writable by its permissions (root writes anywhere, so only for another user).
    if (process.getuid?.() !== 0) {
      const locked = path.join(scratch, "locked");
      fs.mkdirSync(locked, { mode: 0o555 });
      const d = await hyperion(["backup", locked], worldEnv(world));
      expect(d.exitCode).toBe(2);
      expect(d.stderr).toContain(`${locked} is not writable`);
    }
  }, 120_000);

  /** A copy of the good backup, spoiled by `spoil`, restored into a fresh folder. */
  async function restoreSpoiled(name: string, spoil: (dir: string) => void) {
    const copy = path.join(scratch, name);
    fs.cpSync(backup, copy, { recursive: true });
    spoil(copy);
    const target = path.join(scratch, `${name}-data`);
    const r = await hyperion(["restore", copy], { HYPERION_DATA: target });
    return { r, target, copy };
  }

  it("refuses a truncated backup, naming the file; nothing is written", async () => {
    // The database (the config on PostgreSQL, whose database pg_dump backs up) cut in half.
    const cutFile = world.env.HYPERION_DATABASE_URL ? "hyperion.config.json" : "hyperion.db";
    const { r, target, copy } = await restoreSpoiled("truncated", (dir) => {
      const f = path.join(dir, cutFile);
      fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2));
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${path.join(copy, cutFile)} is `);
    expect(r.stderr).toContain("truncated or damaged");
    expect(fs.existsSync(target)).toBe(false);
  }, 120_000);

  it("refuses a backup with an altered file (same size), or a bundle cut short, or no manifest", async () => {
    const altered = await restoreSpoiled("altered", (dir) => {
      const f = path.join(dir, "hyperion.config.json");
      fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace('"demo"', '"dem0"'));
    });
    expect(altered.r.exitCode).toBe(2);
    expect(altered.r.stderr).toContain(
      `${path.join(altered.copy, "hyperion.config.json")} does not match its sha256`,
    );
    expect(fs.existsSync(altered.target)).toBe(false);

    const cut = await restoreSpoiled("cut", (dir) => {
      const f = path.join(dir, "repos", "demo.bundle");
      fs.truncateSync(f, fs.statSync(f).size - 10);
    });
    expect(cut.r.exitCode).toBe(2);
    expect(cut.r.stderr).toContain(path.join(cut.copy, "repos", "demo.bundle"));
    expect(fs.existsSync(cut.target)).toBe(false);

    const unfinished = await restoreSpoiled("unfinished", (dir) =>
      fs.rmSync(path.join(dir, "manifest.json")),
    );
    expect(unfinished.r.exitCode).toBe(2);
    expect(unfinished.r.stderr).toContain("the backup did not finish");
    expect(fs.existsSync(unfinished.target)).toBe(false);
  }, 120_000);

  it("refuses a data folder that is not empty; nothing in it changes", async () => {
    const target = path.join(scratch, "occupied");
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, "notes.txt"), "mine");
    const r = await hyperion(["restore", backup], { HYPERION_DATA: target });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`the data folder ${target} is not empty`);
    expect(fs.readdirSync(target)).toEqual(["notes.txt"]);
  }, 120_000);
});
