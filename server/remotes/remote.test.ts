import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HyperionConfig } from "@/schemas/config";
import { GithubConfig } from "@/schemas/github";
import type { LoadedConfig } from "@/server/config/load";
import { git } from "@/server/git/run";
import { handleDeliveries } from "@/server/github/intake";
import { receiveGithubWebhook } from "@/server/github/receive";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { submitChanges } from "@/server/queue/submit";
import { getEntry } from "@/server/state/queue/store";
import { examplePayload, signedHeaders } from "@/test-support/fake-github";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair } from "@/test-support/git-fixtures";
import { startGitDaemon } from "@/test-support/git-server";
import { remoteStatus } from "./status";
import { syncRemote } from "./sync";

// A repository on a real git server (git daemon on loopback): Hyperion keeps a mirror, lands by
// a compare-and-swap push, loses races to other clients and rebuilds, waits out a server that
// went away, and takes a branch rewritten upstream as it is.

let world: TestWorld;
let upstream: Awaited<ReturnType<typeof makeRepoPair>>;
let daemon: Awaited<ReturnType<typeof startGitDaemon>>;
let config: LoadedConfig;
let mirror: string;

const ENV = {
  GIT_AUTHOR_NAME: "Other",
  GIT_AUTHOR_EMAIL: "other@example.test",
  GIT_COMMITTER_NAME: "Other",
  GIT_COMMITTER_EMAIL: "other@example.test",
};

beforeEach(async () => {
  world = await makeWorld();
  upstream = await makeRepoPair({ "a.txt": "a\n", "b.txt": "b\n" });
  daemon = await startGitDaemon(upstream.root);
  mirror = path.join(world.dir, "mirrors", "t.git");
  config = {
    file: "test",
    repositories: [
      { name: "t", path: mirror, remote: daemon.url("target.git"), targetBranch: "main" },
    ],
  };
});
afterEach(async () => {
  await daemon.stop();
  await world.cleanup();
  upstream.cleanup();
});

const repo = () => config.repositories[0] as LoadedConfig["repositories"][number];
const serverLog = async () =>
  (await git(["log", "--format=%s", "main"], { cwd: upstream.bare })).trim().split("\n");
const serverTip = async () => (await git(["rev-parse", "main"], { cwd: upstream.bare })).trim();

/** Another client's commit pushed straight to the server (from the working clone). */
async function otherPush(file: string, text: string, opts: { force?: string } = {}) {
  await upstream.run(["fetch", "-q", upstream.bare, "+main:refs/remotes/server/main"]);
  await upstream.run(["reset", "-q", "--hard", opts.force ?? "refs/remotes/server/main"]);
  fs.writeFileSync(path.join(upstream.work, file), text);
  await upstream.run(["commit", "-q", "-am", `other: ${file}`]);
  await git(["push", "-q", ...(opts.force ? ["-f"] : []), upstream.bare, "HEAD:main"], {
    cwd: upstream.work,
    env: ENV,
  });
}

/** A change to `file` made on the server's current tip, queued. */
async function submit(file: string, text: string, summary: string) {
  await upstream.run(["fetch", "-q", upstream.bare, "+main:refs/remotes/server/main"]);
  await upstream.run(["reset", "-q", "--hard", "refs/remotes/server/main"]);
  const { patch } = await upstream.change((d) => fs.writeFileSync(path.join(d, file), text));
  await upstream.run(["reset", "-q", "--hard", "refs/remotes/server/main"]);
  const [sub] = await submitChanges(
    world.db,
    { repo: "t", patch, summary, author: { name: "A", email: "a@example.test" } },
    config,
  );
  if (!sub) throw new Error("nothing submitted");
  return sub.entryId;
}

const loop = (shouldStop: () => boolean | Promise<boolean> = () => false) =>
  runQueueLoop({
    db: world.db,
    config: () => config,
    owner: "q",
    opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5, backoffBaseMs: 0, backoffMaxMs: 0 },
    shouldStop,
  });

describe("a repository on a git server", () => {
  it("is mirrored, and a change lands by pushing: the server's branch has it once, the mirror follows", async () => {
    expect(await syncRemote(world.db, repo())).toBe(await serverTip());
    const id = await submit("a.txt", "a from hyperion\n", "change a");
    await loop();
    expect((await getEntry(world.db, id))?.state).toBe("merged");
    expect(await serverLog()).toEqual(["change a", "initial"]);
    const mirrored = (await git(["rev-parse", "main"], { cwd: mirror })).trim();
    expect(mirrored).toBe(await serverTip());
    expect((await getEntry(world.db, id))?.mergedCommit).toBe(mirrored);
    expect(await remoteStatus(world.db, "t")).toMatchObject({ tip: mirrored, failure: null });
  });

  it("loses the compare-and-swap to another client's push, fetches, rebuilds and lands: nothing lost, nothing doubled", async () => {
    await syncRemote(world.db, repo());
    const id = await submit("a.txt", "a from hyperion\n", "change a");
    // Another client moves the server's branch after Hyperion's mirror last saw it.
    await otherPush("b.txt", "b from elsewhere\n");
    await loop();
    expect((await getEntry(world.db, id))?.state).toBe("merged");
    expect(await serverLog()).toEqual(["change a", "other: b.txt", "initial"]);
    expect(await git(["show", "main:b.txt"], { cwd: upstream.bare })).toBe("b from elsewhere\n");
    expect((await getEntry(world.db, id))?.attempts).toBe(1);
  });

  it("lands ten changes while another client keeps pushing to the same branch: every change once, none of theirs lost", async () => {
    await syncRemote(world.db, repo());
    const ids: number[] = [];
    for (let i = 0; i < 10; i++)
      ids.push(await submit(`c${i}.txt`, `change ${i}\n`, `change ${i}`));
    // The other client: fetch, commit on top, push (retrying its own lost races), eight times,
    // as fast as it can, while Hyperion lands.
    const theirs: string[] = [];
    const other = (async () => {
      for (let n = 0; n < 8; n++) {
        for (;;) {
          await upstream.run(["fetch", "-q", upstream.bare, "+main:refs/remotes/server/main"]);
          await upstream.run(["reset", "-q", "--hard", "refs/remotes/server/main"]);
          fs.writeFileSync(path.join(upstream.work, "theirs.txt"), `theirs ${n}\n`);
          await upstream.run(["add", "theirs.txt"]);
          await upstream.run(["commit", "-q", "-m", `theirs ${n}`]);
          const pushed = await git(["push", "-q", upstream.bare, "HEAD:main"], {
            cwd: upstream.work,
            env: ENV,
          })
            .then(() => true)
            .catch(() => false);
          if (pushed) break;
        }
        theirs.push(`theirs ${n}`);
      }
    })();
    await Promise.all([loop(), other]);
    // Whatever Hyperion left waiting for a retry lands now that the other client stopped.
    await loop();
    for (const id of ids) expect((await getEntry(world.db, id))?.state).toBe("merged");
    const log = await serverLog();
    for (let i = 0; i < 10; i++) expect(log.filter((s) => s === `change ${i}`)).toHaveLength(1);
    for (const t of theirs) expect(log).toContain(t);
  }, 120_000);

  it("waits out a server that went away, without spending attempts, and lands when it returns", async () => {
    await syncRemote(world.db, repo());
    const id = await submit("a.txt", "a from hyperion\n", "change a");
    await daemon.stop();
    await loop(async () => (await getEntry(world.db, id))?.state === "retry_wait");
    const waiting = await getEntry(world.db, id);
    expect(waiting?.state).toBe("retry_wait");
    expect(waiting?.lastError?.kind).toBe("remote_unreachable");
    expect(waiting?.lastError?.message).toContain(daemon.url("target.git"));
    expect((await remoteStatus(world.db, "t"))?.failure).toBe("unreachable");
    await daemon.start();
    await loop();
    expect((await getEntry(world.db, id))?.state).toBe("merged");
    expect(await serverLog()).toEqual(["change a", "initial"]);
    expect((await remoteStatus(world.db, "t"))?.failure).toBeNull();
  });

  it("takes a branch rewritten upstream as it is: the next change builds on the new tip and nothing of the old history is pushed back", async () => {
    await syncRemote(world.db, repo());
    const first = await submit("a.txt", "a from hyperion\n", "change a");
    await loop();
    expect((await getEntry(world.db, first))?.state).toBe("merged");
    const initial = (
      await git(["rev-list", "--max-parents=0", "main"], { cwd: upstream.bare })
    ).trim();
    // Upstream drops Hyperion's commit: a force-push of another history onto the initial commit.
    await otherPush("b.txt", "rewritten\n", { force: initial });
    const second = await submit("b.txt", "b from hyperion\n", "change b");
    await loop();
    expect((await getEntry(world.db, second))?.state).toBe("merged");
    expect(await serverLog()).toEqual(["change b", "other: b.txt", "initial"]);
  });

  it("a GitHub push delivery to the target branch makes the worker fetch", async () => {
    await syncRemote(world.db, repo());
    await otherPush("b.txt", "pushed on the server\n");
    process.env.HYPERION_GITHUB_WEBHOOK_SECRET = "push-secret";
    try {
      const withGithub: LoadedConfig = {
        ...config,
        github: GithubConfig.parse({ reconcileIntervalSeconds: 0 }),
        repositories: config.repositories.map((r) => ({ ...r, github: "acme/shop" })),
      };
      const body = JSON.stringify(
        examplePayload("push", null, { repo: "acme/shop", ref: "refs/heads/main" }),
      );
      const headers = signedHeaders("push", "p-1", body, "push-secret");
      const reply = await receiveGithubWebhook(world.db, withGithub, {
        header: (n) => (headers as Record<string, string>)[n.toLowerCase()] ?? null,
        body: Buffer.from(body),
      });
      expect(reply.status).toBe(202);
      await handleDeliveries(world.db, withGithub);
      expect((await remoteStatus(world.db, "t"))?.tip).toBe(await serverTip());
      expect((await git(["rev-parse", "main"], { cwd: mirror })).trim()).toBe(await serverTip());
    } finally {
      delete process.env.HYPERION_GITHUB_WEBHOOK_SECRET;
    }
  });

  it("a remote without the target branch is 'no such branch' in words, saying what to do", async () => {
    const wrong = { ...repo(), targetBranch: "trunk" };
    expect(await syncRemote(world.db, wrong)).toBeNull();
    expect(await remoteStatus(world.db, "t")).toMatchObject({ failure: "no-branch" });
    expect((await remoteStatus(world.db, "t"))?.failureMessage).toContain("has no branch trunk");
  });

  it("refuses a remote URL with credentials in it, saying where they go instead", () => {
    const parsed = HyperionConfig.safeParse({
      repositories: [{ name: "t", remote: "https://bot:s3cret@example.test/acme/shop.git" }],
    });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain("credentials.tokenEnv");
    expect(JSON.stringify(parsed.error?.issues)).not.toContain("s3cret");
    for (const bad of ["ext::sh -c evil", "-uhttps://x", "https://tok@example.test/a.git"])
      expect(
        HyperionConfig.safeParse({ repositories: [{ name: "t", remote: bad }] }).success,
        bad,
      ).toBe(false);
    for (const good of [
      "https://github.com/acme/shop.git",
      "ssh://git@example.test:2222/acme/shop.git",
      "git@github.com:acme/shop.git",
      "file:///srv/git/shop.git",
    ])
      expect(
        HyperionConfig.safeParse({ repositories: [{ name: "t", remote: good }] }).success,
        good,
      ).toBe(true);
  });
});
