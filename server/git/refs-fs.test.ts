import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { log } from "@/server/log";
import { makeRepoPair } from "@/test-support/git-fixtures";
import { casRefFs, RefLockedError, RefMovedError } from "./refs-fs";
import { git } from "./run";

let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let first: string;
let second: string;
const ref = "refs/heads/main";
const lockFile = () => path.join(repo.bare, `${ref}.lock`);

beforeEach(async () => {
  repo = await makeRepoPair({ "a.txt": "a\n" });
  first = await repo.tip();
  const { after } = await repo.change((d) => fs.writeFileSync(path.join(d, "a.txt"), "b\n"));
  await repo.run(["push", "-q", repo.bare, `${after}:refs/heads/next`]);
  second = after;
});
afterEach(() => {
  vi.restoreAllMocks();
  repo.cleanup();
});

const tipInGit = async () => (await git(["rev-parse", "main"], { cwd: repo.bare })).trim();

function lockAged(ageMs: number) {
  fs.writeFileSync(lockFile(), "");
  const when = new Date(Date.now() - ageMs);
  fs.utimesSync(lockFile(), when, when);
}

const thrown = (f: () => void) => {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error("did not throw");
};

describe("casRefFs", () => {
  it("moves the branch when it is where the caller expects, as git sees it", async () => {
    casRefFs(repo.bare, ref, second, first);
    expect(await tipInGit()).toBe(second);
    expect(fs.existsSync(lockFile())).toBe(false);
  });

  it("a moved tip is RefMovedError and leaves the branch alone", async () => {
    const err = thrown(() => casRefFs(repo.bare, ref, second, second));
    expect(err).toBeInstanceOf(RefMovedError);
    expect(err).not.toBeInstanceOf(RefLockedError);
    expect(await tipInGit()).toBe(first);
    expect(fs.existsSync(lockFile())).toBe(false);
  });

  it("a fresh lock is RefLockedError with its path and age, and is left in place", async () => {
    lockAged(5_000);
    const err = thrown(() => casRefFs(repo.bare, ref, second, first, { staleLockMs: 60_000 }));
    expect(err).toBeInstanceOf(RefLockedError);
    expect(err).not.toBeInstanceOf(RefMovedError);
    const locked = err as RefLockedError;
    expect(locked.lockPath).toBe(lockFile());
    expect(locked.ageMs).toBeGreaterThanOrEqual(4_000);
    expect(locked.ageMs).toBeLessThan(60_000);
    expect(locked.message).toContain(lockFile());
    expect(fs.existsSync(lockFile())).toBe(true);
    expect(await tipInGit()).toBe(first);
  });

  it("a stale lock left by a dead writer is removed, logged, and the update goes through", async () => {
    const warn = vi.spyOn(log, "warn");
    lockAged(120_000);
    casRefFs(repo.bare, ref, second, first, { staleLockMs: 60_000 });
    expect(await tipInGit()).toBe(second);
    expect(fs.readdirSync(path.dirname(lockFile()))).toEqual(
      expect.not.arrayContaining([expect.stringContaining(".lock")]),
    );
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ ref, lockPath: lockFile() }),
      expect.stringContaining("stale ref lock"),
    );
  });

  it("a removed stale lock does not excuse a moved tip", async () => {
    lockAged(120_000);
    expect(() => casRefFs(repo.bare, ref, second, second, { staleLockMs: 60_000 })).toThrow(
      RefMovedError,
    );
    expect(await tipInGit()).toBe(first);
  });
});

// How HYPERION_STALE_LOCK_MS is parsed and bounded is server/env.mjs's (env.test.ts).
describe("the stale-lock age", () => {
  const saved = process.env.HYPERION_STALE_LOCK_MS;
  afterEach(() => {
    if (saved === undefined) delete process.env.HYPERION_STALE_LOCK_MS;
    else process.env.HYPERION_STALE_LOCK_MS = saved;
  });

  it("is a minute unless HYPERION_STALE_LOCK_MS says otherwise", async () => {
    delete process.env.HYPERION_STALE_LOCK_MS;
    lockAged(30_000);
    expect(thrown(() => casRefFs(repo.bare, ref, second, first))).toBeInstanceOf(RefLockedError);
    lockAged(90_000);
    casRefFs(repo.bare, ref, second, first);
    expect(await tipInGit()).toBe(second);
  });

  it("is HYPERION_STALE_LOCK_MS, read as the environment is now", async () => {
    process.env.HYPERION_STALE_LOCK_MS = "10000";
    lockAged(30_000);
    casRefFs(repo.bare, ref, second, first);
    expect(await tipInGit()).toBe(second);
  });
});
