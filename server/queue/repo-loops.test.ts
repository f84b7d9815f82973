import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { asc, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import type { LoadedConfig } from "@/server/config/load";
import { queueEntries } from "@/server/db/schema";
import { makeWorld, NO_APPROVALS, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair } from "@/test-support/git-fixtures";
import { defaultLoopOptions, runQueueLoop } from "./loop";
import { submitChanges } from "./submit";

// One supervisor across repositories (docs/worker-factory.md): each queue thread runs a loop per
// repository, so a repository whose checks hang holds its own loop and no other's. Here one
// thread serves two repositories; `stuck`'s check connects to a server of the test's and waits
// until the test closes it, while `healthy` lands every change it has.

let world: TestWorld;
let stuck: Awaited<ReturnType<typeof makeRepoPair>>;
let healthy: Awaited<ReturnType<typeof makeRepoPair>>;
let server: net.Server;
const held: net.Socket[] = [];

beforeEach(async () => {
  world = await makeWorld();
  const files = Object.fromEntries(
    Array.from({ length: 4 }, (_, i) => [`f${i}.txt`, `file ${i}\n`]),
  );
  stuck = await makeRepoPair(files);
  healthy = await makeRepoPair(files);
  server = net.createServer((socket) => {
    held.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
});
afterEach(async () => {
  for (const s of held.splice(0)) s.destroy();
  await new Promise((resolve) => server.close(resolve));
  await world.cleanup();
  stuck.cleanup();
  healthy.cleanup();
});

function config(): LoadedConfig {
  const { port } = server.address() as net.AddressInfo;
  // Blocks until the test ends the connection: it never finishes on its own.
  const hang = `node -e 'const s = require("net").connect(${port}, "127.0.0.1"); s.on("close", () => process.exit(1)); s.on("error", () => process.exit(1));'`;
  const repo = (name: string, bare: string, checks: Record<string, unknown>) => ({
    name,
    path: bare,
    targetBranch: "main",
    policy: Policy.parse({ checks, approvals: NO_APPROVALS }),
  });
  return {
    file: "test",
    repositories: [
      repo("stuck", stuck.bare, { slow: { run: hang, network: true } }),
      repo("healthy", healthy.bare, { ok: "true" }),
    ],
  };
}

/** One change per file, each on the repository's first commit, with the repository's check. */
async function submitAll(
  cfg: LoadedConfig,
  name: string,
  pair: typeof stuck,
  check: string,
  n: number,
): Promise<number[]> {
  const base = await pair.head();
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const { patch } = await pair.change(
      (d) => fs.appendFileSync(path.join(d, `f${i}.txt`), `change ${i}\n`),
      `change ${i}`,
      base,
    );
    await pair.run(["reset", "-q", "--hard", base]);
    const [sub] = await submitChanges(
      world.db,
      {
        repo: name,
        patch,
        summary: `${name} ${i}`,
        author: { name: "A", email: "a@example.test" },
        checks: [check],
        risk: "low",
      },
      cfg,
    );
    ids.push(sub?.entryId ?? 0);
  }
  return ids;
}

const states = async (repo: string) =>
  (
    await world.db
      .select({ id: queueEntries.id, state: queueEntries.state })
      .from(queueEntries)
      .where(eq(queueEntries.repo, repo))
      .orderBy(asc(queueEntries.id))
  ).map((e) => e.state);

/** Waits for a condition to hold, checking again after each turn of the event loop's timers. */
async function until(what: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await what())) await new Promise((r) => setTimeout(r, 20));
}

describe("repository loops in the merge queue", () => {
  it("a repository whose check hangs holds only its own loop: the other lands all its changes meanwhile", async () => {
    const cfg = config();
    // The stuck repository's changes are older: a thread serving entries oldest first would
    // take them before any of the healthy one's.
    await submitAll(cfg, "stuck", stuck, "slow", 3);
    const landed = await submitAll(cfg, "healthy", healthy, "ok", 4);
    let stop = false;
    const thread = runQueueLoop({
      db: world.db,
      config: () => cfg,
      owner: "t0",
      opts: { ...defaultLoopOptions({}), drain: false, pollMs: 5, checkTimeoutMs: 3_600_000 },
      shouldStop: () => stop,
    });

    // The stuck repository's first change is being checked, and its check is waiting on us.
    await until(() => held.length === 1);
    await until(async () => (await states("healthy")).every((s) => s === "merged"));

    // Every healthy change landed while the stuck check still ran, one on top of another.
    expect(held).toHaveLength(1);
    expect(held[0]?.destroyed).toBe(false);
    expect(await states("stuck")).toEqual(["checking", "queued", "queued"]);
    const log = await healthy.log();
    for (let i = 0; i < landed.length; i++) expect(log).toContain(`healthy ${i}`);
    const entries = await world.db
      .select({ owner: queueEntries.leaseOwner })
      .from(queueEntries)
      .where(eq(queueEntries.repo, "stuck"))
      .orderBy(asc(queueEntries.id));
    // The stuck entry is leased to the stuck repository's own loop of the thread.
    expect(entries[0]?.owner).toBe("t0/stuck");

    // Ending the check lets the thread stop: its loop finishes the entry in hand.
    stop = true;
    for (const s of held) s.destroy();
    await thread;
    expect((await states("stuck"))[0]).not.toBe("checking");
  });
});
