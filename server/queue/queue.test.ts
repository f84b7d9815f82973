import fs from "node:fs";
import path from "node:path";
import { count as countRows, eq, sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Policy } from "@/schemas/policy";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { changeQueueLogs, queueEntries } from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import type { ObjectStore } from "@/server/git/objects";
import { git } from "@/server/git/run";
import { log } from "@/server/log";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { countTrailers, makeRepoPair } from "@/test-support/git-fixtures";
import { claimNext } from "../state/queue/claim";
import { getEntry, StaleLeaseError, transition } from "../state/queue/store";
import { defaultLoopOptions, type LoopOptions, runQueueLoop } from "./loop";
import { processEntry } from "./process";
import { submitChanges } from "./submit";

let world: TestWorld;
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let config: LoadedConfig;

const lines = (n: number, tag = "line") =>
  `${Array.from({ length: n }, (_, i) => `${tag} ${i + 1}`).join("\n")}\n`;

beforeEach(async () => {
  world = await makeWorld();
  repo = await makeRepoPair({
    "src/a.txt": lines(30, "a"),
    "src/b.txt": lines(30, "b"),
    "docs/guide.md": "# Guide\n",
    "bin/run.sh": "#!/bin/sh\necho hi\n",
    "img/logo.bin": Buffer.from([0, 1, 2, 3, 255, 254, 0, 7]),
  });
  const policy = Policy.parse({
    checks: {
      boom: "node -e \"console.log('boom'); process.exit(3)\"",
      "grep-checked": "grep -q checked docs/guide.md",
    },
  });
  config = {
    file: "test",
    repositories: [{ name: "t", path: repo.bare, targetBranch: "main", policy }],
  };
});
afterEach(async () => {
  await world.cleanup();
  repo.cleanup();
});

const author = { name: "Agent Smith", email: "agent@example.test" };
const opts = (o: Partial<LoopOptions> = {}): LoopOptions => ({
  ...defaultLoopOptions({}),
  backoffBaseMs: 0,
  backoffMaxMs: 0,
  pollMs: 10,
  drain: true,
  ...o,
});

function submit(patch: string, extra: Record<string, unknown> = {}) {
  return submitChanges(
    world.db,
    { repo: "t", patch, summary: "a change", author, ...extra },
    config,
  );
}

async function drain(o: Partial<LoopOptions> = {}, db: Db = world.db, owner = "test-thread") {
  return runQueueLoop({ db, config: () => config, owner, opts: opts(o), shouldStop: () => false });
}

const stateOf = async (entryId: number) => (await getEntry(world.db, entryId))?.state;
const write = (dir: string, file: string, content: string | Buffer) => {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  fs.writeFileSync(path.join(dir, file), content);
};
const read = async (rev: string, file: string) =>
  git(["show", `${rev}:${file}`], { cwd: repo.bare });

describe("landing", () => {
  it("lands a change with its trailers, through every transition", async () => {
    const { patch, after } = await repo.change((d) =>
      write(d, "src/a.txt", lines(30, "a").replace("a 5\n", "A FIVE\n")),
    );
    const [sub] = await submit(patch, { taskId: "task-1" });
    await drain();
    const entry = await getEntry(world.db, sub?.entryId ?? 0);
    expect(entry?.state).toBe("merged");
    const tip = await repo.tip();
    expect(entry?.mergedCommit).toBe(tip);
    expect(await repo.treeOf(tip)).toBe(await repo.treeOf(after, repo.work));
    const log = await repo.log();
    expect(log).toContain(`Hyperion-Change-Request: ${sub?.id}`);
    expect(log).toContain("Hyperion-Task: task-1");
    const moves = (await world.db.select().from(changeQueueLogs)).map(
      (l) => `${l.event.from}→${l.event.to}`,
    );
    expect(moves).toEqual(["null→queued", "queued→applying", "applying→ready", "ready→merged"]);
  });

  it("lands new, deleted, renamed, mode-changed and binary files", async () => {
    const { patch, after } = await repo.change(async (d) => {
      write(d, "src/new.txt", "brand new\n");
      fs.rmSync(path.join(d, "docs/guide.md"));
      fs.renameSync(path.join(d, "src/b.txt"), path.join(d, "src/renamed.txt"));
      fs.chmodSync(path.join(d, "bin/run.sh"), 0o755);
      write(d, "img/logo.bin", Buffer.from([9, 8, 7, 0, 0, 1, 2, 3, 4, 5]));
      write(d, "img/new.bin", Buffer.from([0, 0, 0, 42]));
    });
    expect(patch).toContain("GIT binary patch");
    expect(patch).toContain("rename from src/b.txt");
    const [sub] = await submit(patch);
    await drain();
    expect(await stateOf(sub?.entryId ?? 0)).toBe("merged");
    expect(await repo.treeOf(await repo.tip())).toBe(await repo.treeOf(after, repo.work));
  });

  it("applies a patch made on an older base onto a moved tip", async () => {
    const base = await repo.head();
    const first = await repo.change((d) =>
      write(d, "src/a.txt", lines(30, "a").replace("a 25\n", "a twenty-five\n")),
    );
    await repo.run(["reset", "-q", "--hard", base]);
    const second = await repo.change((d) =>
      write(d, "src/a.txt", lines(30, "a").replace("a 2\n", "a two\n")),
    );
    const [s1] = await submit(first.patch, { baseCommit: base });
    const [s2] = await submit(second.patch, { baseCommit: base });
    await drain();
    expect([await stateOf(s1?.entryId ?? 0), await stateOf(s2?.entryId ?? 0)]).toEqual([
      "merged",
      "merged",
    ]);
    const text = await read("main", "src/a.txt");
    expect(text).toContain("a two\n");
    expect(text).toContain("a twenty-five\n");
  });

  it("rebases with merge-tree when the patch's context moved but the changes do not overlap", async () => {
    const base = await repo.head();
    const first = await repo.change((d) =>
      write(d, "src/a.txt", lines(30, "a").replace("a 3\n", "a three\n")),
    );
    await repo.run(["reset", "-q", "--hard", base]);
    const second = await repo.change((d) =>
      write(d, "src/a.txt", lines(30, "a").replace("a 5\n", "a five\n")),
    );
    const [s1] = await submit(first.patch, { baseCommit: base });
    const [s2] = await submit(second.patch, { baseCommit: base });
    await drain();
    expect([await stateOf(s1?.entryId ?? 0), await stateOf(s2?.entryId ?? 0)]).toEqual([
      "merged",
      "merged",
    ]);
    const text = await read("main", "src/a.txt");
    expect(text).toContain("a three\na 4\na five\n");
  });

  it("lands changes that touch a common path in submission order", async () => {
    const one = await repo.change((d) => write(d, "src/a.txt", `${lines(30, "a")}one\n`));
    const two = await repo.change((d) => write(d, "src/a.txt", `${lines(30, "a")}one\ntwo\n`));
    const three = await repo.change((d) => write(d, "src/b.txt", `${lines(30, "b")}three\n`));
    const subs = [
      ...(await submit(one.patch)),
      ...(await submit(two.patch)),
      ...(await submit(three.patch)),
    ];
    // The second may not be claimed while the first is pending; the disjoint third may.
    const c1 = await claimNext(world.db, "w1", opts());
    const c2 = await claimNext(world.db, "w2", opts());
    expect([c1?.id, c2?.id]).toEqual([subs[0]?.entryId, subs[2]?.entryId]);
    expect(await claimNext(world.db, "w3", opts())).toBeUndefined();
  });

  it("sends a conflict to retry_wait, then quarantines it with the paths after the last attempt", async () => {
    const base = await repo.head();
    const theirs = await repo.change((d) =>
      write(d, "src/a.txt", lines(30, "a").replace("a 10\n", "theirs\n")),
    );
    await repo.run(["reset", "-q", "--hard", base]);
    const mine = await repo.change((d) =>
      write(d, "src/a.txt", lines(30, "a").replace("a 10\n", "mine\n")),
    );
    await submit(theirs.patch);
    const [s2] = await submitChanges(
      world.db,
      { repo: "t", patch: mine.patch, summary: "mine", author, baseCommit: base },
      config,
      { maxAttempts: 2 },
    );
    await drain();
    const entry = await getEntry(world.db, s2?.entryId ?? 0);
    expect(entry?.state).toBe("quarantined");
    expect(entry?.attempts).toBe(2);
    expect(entry?.lastError).toMatchObject({ kind: "conflict", paths: ["src/a.txt"] });
    const moves = (await world.db.select().from(changeQueueLogs))
      .filter((l) => l.entryId === s2?.entryId)
      .map((l) => l.event.to);
    expect(moves).toEqual(["queued", "applying", "retry_wait", "applying", "quarantined"]);
  });

  it("quarantines a change whose check fails, with the check's output", async () => {
    const { patch } = await repo.change((d) => write(d, "docs/guide.md", "# Guide\nmore\n"));
    const [sub] = await submit(patch, {
      checks: ["boom"],
    });
    const tipBefore = await repo.tip();
    await drain();
    const entry = await getEntry(world.db, sub?.entryId ?? 0);
    expect(entry?.state).toBe("quarantined");
    expect(entry?.lastError?.kind).toBe("check_failed");
    expect(entry?.lastError?.outputTail).toContain("boom");
    expect(await repo.tip()).toBe(tipBefore);
  });

  it("runs passing checks on the candidate before landing", async () => {
    const { patch } = await repo.change((d) => write(d, "docs/guide.md", "# Guide\nchecked\n"));
    // Named by the policy's command line: the same check as its name 'grep-checked'.
    const [sub] = await submit(patch, { checks: ["grep -q checked docs/guide.md"] });
    await drain();
    expect(await stateOf(sub?.entryId ?? 0)).toBe("merged");
    const moves = (await world.db.select().from(changeQueueLogs)).map((l) => l.event.to);
    expect(moves).toContain("checking");
  });

  it("refuses checks the repository's policy does not define, and queues nothing", async () => {
    const { patch } = await repo.change((d) => write(d, "docs/guide.md", "# Guide\nx\n"));
    const err = await submit(patch, { checks: ["grep-checked", "sh -c id>/tmp/x"] }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues).toEqual([
      {
        path: "checks[1]",
        message: expect.stringContaining(
          "only its policy defines checks (defined: boom, grep-checked)",
        ),
      },
    ]);
    expect(await world.db.select().from(changeQueueLogs)).toEqual([]);
  });

  it("in dry-run mode does everything but move the branch", async () => {
    const { patch } = await repo.change((d) => write(d, "docs/guide.md", "# Guide\ndry\n"));
    const tipBefore = await repo.tip();
    const [sub] = await submit(patch);
    await drain({ dryRun: true });
    expect(await stateOf(sub?.entryId ?? 0)).toBe("merged");
    expect(await repo.tip()).toBe(tipBefore);
  });

  it("never lands a change twice when re-run after it landed", async () => {
    const { patch } = await repo.change((d) => write(d, "docs/guide.md", "# Guide\nonce\n"));
    const [sub] = await submit(patch);
    // A worker lands the change and dies before recording it: land it, then rewind the row
    // to how the crash would have left it (a lease that then expired).
    await drain();
    await world.db
      .update(queueEntries)
      .set({ state: "ready", mergedCommit: null, leaseOwner: "dead", leaseExpiresAt: 1 })
      .where(eq(queueEntries.id, sub?.entryId ?? 0));
    await drain();
    expect(await stateOf(sub?.entryId ?? 0)).toBe("merged");
    expect(countTrailers(await repo.log(), sub?.id ?? 0)).toBe(1);
  });

  it("refuses a stale worker's write after its lease was taken over", async () => {
    const { patch } = await repo.change((d) => write(d, "docs/guide.md", "# Guide\nstale\n"));
    await submit(patch);
    const entry = await claimNext(world.db, "old", opts());
    if (!entry) throw new Error("no entry");
    await world.db
      .update(queueEntries)
      .set({ leaseOwner: "new", attempts: sql`${queueEntries.attempts} + 1` })
      .where(eq(queueEntries.id, entry.id));
    await expect(
      (async () => transition(world.db, entry, { from: "applying", to: "ready", owner: "old" }))(),
    ).rejects.toThrow(StaleLeaseError);
  });
});

describe("a lock on the target branch", () => {
  const lockFile = () => path.join(repo.bare, "refs/heads/main.lock");
  const lockAged = (ageMs: number) => {
    fs.mkdirSync(path.dirname(lockFile()), { recursive: true });
    fs.writeFileSync(lockFile(), "");
    const when = new Date(Date.now() - ageMs);
    fs.utimesSync(lockFile(), when, when);
  };
  afterEach(() => vi.restoreAllMocks());

  it("held by a live writer is no conflict: the entry waits without using up its attempt", async () => {
    const { patch } = await repo.change((d) => write(d, "docs/guide.md", "# Guide\nlocked\n"));
    const [sub] = await submitChanges(
      world.db,
      { repo: "t", patch, summary: "locked out", author },
      config,
      { maxAttempts: 1 },
    );
    const tipBefore = await repo.tip();
    lockAged(1_000);
    const entry = await claimNext(world.db, "w1", opts());
    if (!entry) throw new Error("nothing claimed");
    const stores = new Map<string, ObjectStore>();
    try {
      const state = await processEntry(
        { db: world.db, config, owner: "w1", opts: opts(), stores },
        entry,
      );
      expect(state).toBe("retry_wait");
    } finally {
      for (const s of stores.values()) s.close();
    }
    const after = await getEntry(world.db, sub?.entryId ?? 0);
    expect(after).toMatchObject({ state: "retry_wait", attempts: 1, maxAttempts: 2 });
    expect(after?.lastError?.kind).toBe("ref_locked");
    expect(after?.lastError?.message).toContain(lockFile());
    const moves = (await world.db.select().from(changeQueueLogs)).map((l) => l.event.to);
    // One try, not MAX_TIP_RACES rebuilds, and never a conflict.
    expect(moves).toEqual(["queued", "applying", "retry_wait"]);
    expect(await repo.tip()).toBe(tipBefore);
    expect(fs.existsSync(lockFile())).toBe(true);

    fs.rmSync(lockFile());
    await drain();
    expect(await stateOf(sub?.entryId ?? 0)).toBe("merged");
  });

  it("left by a killed writer is removed and logged, and the change lands", async () => {
    const warn = vi.spyOn(log, "warn");
    const { patch } = await repo.change((d) => write(d, "docs/guide.md", "# Guide\nstale\n"));
    const [sub] = await submit(patch);
    lockAged(10 * 60_000);
    await drain();
    expect(await stateOf(sub?.entryId ?? 0)).toBe("merged");
    expect(fs.existsSync(lockFile())).toBe(false);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ lockPath: lockFile() }),
      expect.stringContaining("stale ref lock"),
    );
  });
});

describe("submit refuses bad changes and queues nothing", () => {
  const count = async () => (await world.db.select({ n: countRows() }).from(queueEntries))[0]?.n;
  const refusal = async (input: Record<string, unknown>) => {
    const err = await submitChanges(
      world.db,
      { repo: "t", summary: "x", author, ...input },
      config,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(await count()).toBe(0);
    return (err as ValidationError).issues;
  };

  it("a patch that is not a diff", async () => {
    expect(await refusal({ patch: "hello world" })).toEqual([
      { path: "patch", message: "not a git diff: no 'diff --git' header found" },
    ]);
  });

  it.each([
    ["../outside.txt", "must not contain '..'"],
    [".git/hooks/pre-commit", "must not be inside .git"],
  ])("a patch that touches %s", async (file, message) => {
    const patch = `diff --git a/${file} b/${file}\nnew file mode 100644\nindex 0000000000000000000000000000000000000000..e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\n`;
    expect(await refusal({ patch })).toEqual([
      { path: "patch", message: `path '${file}' ${message}` },
    ]);
  });

  it("a patch that writes through a symlink", async () => {
    await repo.run(["rm", "-q", "-r", "docs"]);
    fs.symlinkSync("/tmp", path.join(repo.work, "docs"));
    await repo.run(["add", "-A"]);
    await repo.run(["commit", "-q", "-m", "docs is a link"]);
    await repo.run(["push", "-q", repo.bare, "main"]);
    const patch =
      "diff --git a/docs/x.md b/docs/x.md\nnew file mode 100644\nindex 0000000000000000000000000000000000000000..e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\n";
    expect(await refusal({ patch })).toEqual([
      { path: "patch", message: "path 'docs/x.md' goes through the symlink 'docs'" },
    ]);
  });

  it("a patch over the size limit", async () => {
    const err = await submitChanges(
      world.db,
      { repo: "t", summary: "x", author, patch: "diff --git a/x b/x\n" },
      config,
      { maxPatchBytes: 5 },
    ).catch((e: unknown) => e);
    expect((err as ValidationError).issues[0]?.message).toMatch(/limit is 5 bytes/);
  });

  it("an unknown base commit", async () => {
    const { patch } = await repo.change((d) => write(d, "docs/guide.md", "# x\n"));
    expect(await refusal({ patch, baseCommit: "1".repeat(40) })).toEqual([
      { path: "baseCommit", message: `unknown commit ${"1".repeat(40)} in repository 't'` },
    ]);
  });

  it("an unknown field or repository", async () => {
    const issues = await refusal({ patch: "x", colour: "red" });
    expect(issues).toEqual([{ path: "colour", message: "is not a known field" }]);
    expect(await refusal({ patch: "x", repo: "nope" })).toEqual([
      { path: "repo", message: "unknown repository 'nope'; configured: t" },
    ]);
  });
});
