import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import type { LoadedConfig } from "@/server/config/load";
import { rawRun } from "@/server/db/sql";
import { git } from "@/server/git/run";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { submitChanges } from "@/server/queue/submit";
import { getEntry } from "@/server/state/queue/store";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair } from "@/test-support/git-fixtures";
import { startGitHttp } from "@/test-support/git-http";
import { remoteStatus } from "./status";
import { syncRemote } from "./sync";

// An https-style remote that wants a token (git http-backend behind a Basic-auth server on
// loopback). The token is named in the config by its variable; it reaches only the git that
// fetches and pushes: no file Hyperion writes, no error, no check's environment holds it.

const TOKEN = "tok-5f1c9a7e3b2d4c6f8a0e";
const VAR = "SHOP_GIT_TOKEN_FOR_TEST";

let world: TestWorld;
let upstream: Awaited<ReturnType<typeof makeRepoPair>>;
let server: Awaited<ReturnType<typeof startGitHttp>>;

beforeEach(async () => {
  world = await makeWorld();
  upstream = await makeRepoPair({ "a.txt": "a\n" });
  server = await startGitHttp(upstream.root, TOKEN);
  process.env[VAR] = TOKEN;
});
afterEach(async () => {
  delete process.env[VAR];
  await server.stop();
  await world.cleanup();
  upstream.cleanup();
});

const configWith = (policy?: Policy): LoadedConfig => ({
  file: "test",
  repositories: [
    {
      name: "t",
      path: path.join(world.dir, "mirrors", "t.git"),
      remote: server.url("target.git"),
      credentials: { tokenEnv: VAR, username: "hyperion-bot" },
      targetBranch: "main",
      ...(policy ? { policy } : {}),
    },
  ],
});

async function submit(config: LoadedConfig, text: string, checks: string[] = []) {
  const { patch } = await upstream.change((d) => fs.writeFileSync(path.join(d, "a.txt"), text));
  const [sub] = await submitChanges(
    world.db,
    { repo: "t", patch, summary: text.trim(), checks, author: { name: "A", email: "a@x.test" } },
    config,
  );
  return sub?.entryId ?? 0;
}

const drain = (config: LoadedConfig, shouldStop: () => boolean | Promise<boolean> = () => false) =>
  runQueueLoop({
    db: world.db,
    config: () => config,
    owner: "q",
    opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5, backoffBaseMs: 0, backoffMaxMs: 0 },
    shouldStop,
  });

/** Every file under a folder whose bytes contain `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (fs.readFileSync(file).includes(needle)) found.push(file);
  }
  return found;
}

describe("credentials for a remote", () => {
  it("a token named by its variable fetches and pushes, and is found in no file Hyperion wrote", async () => {
    const config = configWith();
    expect(await syncRemote(world.db, config.repositories[0] as never)).toBeTruthy();
    const id = await submit(config, "a by hyperion\n");
    await drain(config);
    expect((await getEntry(world.db, id))?.state).toBe("merged");
    expect(await git(["show", "main:a.txt"], { cwd: upstream.bare })).toBe("a by hyperion\n");
    // It was sent as the password of the named user, and only after the server asked.
    const sent = server.seen.filter((h) => h.startsWith("Basic "));
    expect(sent.length).toBeGreaterThan(0);
    expect(Buffer.from(sent[0]?.slice(6) ?? "", "base64").toString()).toBe(`hyperion-bot:${TOKEN}`);
    await rawRun(world.db, sql`PRAGMA wal_checkpoint(TRUNCATE)`);
    expect(filesHolding(world.dir, TOKEN)).toEqual([]);
  });

  it("a wrong token is 'authentication failed' in words, entries wait without spending attempts, and the token is in no error", async () => {
    const config = configWith();
    await syncRemote(world.db, config.repositories[0] as never);
    const id = await submit(config, "a by hyperion\n");
    // The token is replaced by a wrong one (revoked, say) before the entry lands.
    process.env[VAR] = "wrong-token-value";
    await drain(config, async () => (await getEntry(world.db, id))?.state === "retry_wait");
    const entry = await getEntry(world.db, id);
    expect(entry?.lastError?.kind).toBe("remote_auth");
    expect(entry?.attempts).toBeLessThanOrEqual(entry?.maxAttempts ?? 0);
    expect((await remoteStatus(world.db, "t"))?.failure).toBe("auth");
    expect(JSON.stringify(entry?.lastError)).not.toContain("wrong-token-value");
    await rawRun(world.db, sql`PRAGMA wal_checkpoint(TRUNCATE)`);
    expect(filesHolding(world.dir, "wrong-token-value")).toEqual([]);
  });

  it("a change for a remote not fetched yet is refused at submission, naming the repository and what to do", async () => {
    const config = configWith();
    await expect(submit(config, "early\n")).rejects.toThrow(
      /has not been fetched from .* yet: start the worker/,
    );
  });

  it("a check run at landing does not see the token in its environment", async () => {
    const policy = Policy.parse({ checks: { env: "sh -c 'env; exit 1'" } });
    const config = configWith(policy);
    await syncRemote(world.db, config.repositories[0] as never);
    const id = await submit(config, "a by hyperion\n", ["env"]);
    await drain(config);
    const entry = await getEntry(world.db, id);
    expect(entry?.state).toBe("quarantined");
    // The check ran and printed its whole environment: the token is not in it.
    expect(entry?.lastError?.outputTail).toContain("PATH=");
    expect(entry?.lastError?.outputTail).not.toContain(TOKEN);
    expect(entry?.lastError?.outputTail).not.toContain(VAR);
  });
});
