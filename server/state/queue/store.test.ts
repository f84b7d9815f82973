import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EntryError } from "@/schemas/queue";
import type { LoadedConfig } from "@/server/config/load";
import { changeQueueLogs, queueEntries } from "@/server/db/schema";
import { NotFoundError, ValidationError } from "@/server/errors";
import { ALIVE_WITHIN_MS, beat, STALL_LEASES } from "@/server/workers/heartbeat";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair } from "@/test-support/git-fixtures";
import { retryEntry } from "../../queue/retry";
import { markRolledBack } from "../../queue/rollback";
import { submitChanges } from "../../queue/submit";
import { claimNext } from "./claim";
import { reclaimExpired, releaseOwner } from "./leases";
import { claimableStates, entryMachine } from "./states";
import {
  backoffMs,
  defaultQueueOptions,
  type Entry,
  failEntry,
  getEntry,
  heartbeatEntry,
  IllegalTransitionError,
  moveUnleased,
  type QueueOptions,
  StaleLeaseError,
  transition,
} from "./store";

let world: TestWorld;
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let config: LoadedConfig;

beforeEach(async () => {
  world = await makeWorld();
  repo = await makeRepoPair({ "a.txt": "a\n" });
  config = { file: "test", repositories: [{ name: "t", path: repo.bare, targetBranch: "main" }] };
});
afterEach(async () => {
  await world.cleanup();
  repo.cleanup();
});

const opts: QueueOptions = { ...defaultQueueOptions, backoffBaseMs: 0, backoffMaxMs: 0 };
const conflict: EntryError = { kind: "conflict", message: "clash", paths: ["a.txt"] };

async function queued(maxAttempts = 5, file = "a.txt") {
  const { patch } = await repo.change((d) => fs.writeFileSync(path.join(d, file), "b\n"));
  const [sub] = await submitChanges(
    world.db,
    { repo: "t", patch, summary: "s", author: { name: "A", email: "a@example.test" } },
    config,
    { maxAttempts },
  );
  if (!sub) throw new Error("nothing submitted");
  return sub;
}

async function claimed(maxAttempts = 5, owner = "w1", file = "a.txt"): Promise<Entry> {
  await queued(maxAttempts, file);
  const entry = await claimNext(world.db, owner, opts);
  if (!entry) throw new Error("nothing claimed");
  return entry;
}

const entry = async (id: number) => {
  const e = await getEntry(world.db, id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
};

const moves = async (entryId: number) =>
  (await world.db.select().from(changeQueueLogs))
    .filter((l) => l.entryId === entryId)
    .map((l) => `${l.event.from}→${l.event.to} by ${l.event.worker}`);

/** Everything about an entry that a refused move must leave as it was. */
const snapshot = async (id: number) => ({ entry: await entry(id), moves: await moves(id) });

describe("every write of an entry's state goes through store.ts and is logged", () => {
  it("the claim takes the lease and logs queued → applying", async () => {
    const e = await claimed();
    expect(e).toMatchObject({ state: "applying", leaseOwner: "w1", attempts: 1 });
    expect(await moves(e.id)).toEqual(["null→queued by null", "queued→applying by w1"]);
  });

  it("a leased move and a failure each log their row", async () => {
    const e = await claimed();
    await transition(world.db, e, { from: "applying", to: "ready", owner: "w1" });
    expect(await failEntry(world.db, e, "ready", "w1", conflict, opts)).toBe("retry_wait");
    expect(await entry(e.id)).toMatchObject({
      state: "retry_wait",
      leaseOwner: null,
      lastError: conflict,
    });
    expect((await moves(e.id)).slice(2)).toEqual([
      "applying→ready by w1",
      "ready→retry_wait by w1",
    ]);
  });

  it("an expired lease goes back to retry_wait with a lease_expired row; a live one stays", async () => {
    const e = await claimed();
    const now = Date.now();
    expect(await reclaimExpired(world.db, opts, now)).toBe(0);
    expect(await reclaimExpired(world.db, opts, now + opts.leaseMs + 1)).toBe(1);
    expect((await entry(e.id)).state).toBe("retry_wait");
    expect((await entry(e.id)).lastError?.kind).toBe("lease_expired");
    expect((await moves(e.id)).at(-1)).toBe("applying→retry_wait by w1");
  });

  it("an entry whose attempts went in crashed lanes is not quarantined: it is taken out of lanes and tried once more alone", async () => {
    const e = await claimed(1);
    // Held in a lane (claimLane marks it so), and its lane's worker dies on its last attempt.
    await world.db.update(queueEntries).set({ inLane: true, pipelined: true });
    const late = Date.now() + opts.leaseMs + 1;
    expect(await reclaimExpired(world.db, opts, late)).toBe(1);
    expect(await entry(e.id)).toMatchObject({
      state: "retry_wait",
      inLane: false,
      pipelined: false,
      maxAttempts: 2,
    });
    expect((await entry(e.id)).lastError?.message).toContain("tried once more alone");
    // Alone, a crash is its own: out of attempts, it is quarantined.
    const again = await claimNext(world.db, "w1", opts, late);
    expect(again?.id).toBe(e.id);
    expect(await reclaimExpired(world.db, opts, late + opts.leaseMs + 1)).toBe(1);
    expect((await entry(e.id)).state).toBe("quarantined");
  });

  it("an expired lease of a live, slow worker is kept; its worker's death or a stall for good gives it back", async () => {
    const e = await claimed(5, "worker-a/t0");
    const now = Date.now();
    const late = now + opts.leaseMs + 1;
    await beat(world.db, "worker-a", now, late);
    // Its worker beats on: a busy machine delayed the renewal, nobody takes the entry.
    expect(await reclaimExpired(world.db, opts, late)).toBe(0);
    expect(await entry(e.id)).toMatchObject({ state: "applying", leaseOwner: "worker-a/t0" });
    // Still beating, but the lease went unrenewed for STALL_LEASES lease lengths: stuck for good.
    const stuck = now + (STALL_LEASES + 1) * opts.leaseMs + 2;
    await beat(world.db, "worker-a", now, stuck);
    expect(await reclaimExpired(world.db, opts, stuck)).toBe(1);
    expect((await entry(e.id)).lastError?.kind).toBe("lease_expired");
    // Another, whose worker stopped beating: given back once the beat is older than ALIVE_WITHIN_MS.
    const f = await claimed(5, "worker-b/t0", "c.txt");
    const expiry = (await entry(f.id)).leaseExpiresAt ?? 0;
    await beat(world.db, "worker-b", now, expiry);
    expect(await reclaimExpired(world.db, opts, expiry + 1)).toBe(0);
    expect(await reclaimExpired(world.db, opts, expiry + ALIVE_WITHIN_MS + 1)).toBe(1);
    expect((await entry(f.id)).state).toBe("retry_wait");
  });

  it("a crashed thread's entries are given back at once, whoever else holds what", async () => {
    const e = await claimed(5, "worker-a/t0");
    const other = await claimed(5, "worker-a/t1", "c.txt");
    expect(await releaseOwner(world.db, "worker-a/t0", opts)).toBe(1);
    expect(await entry(e.id)).toMatchObject({ state: "retry_wait", leaseOwner: null });
    expect((await entry(e.id)).lastError?.message).toContain("worker-a/t0 crashed");
    expect(await entry(other.id)).toMatchObject({ state: "applying", leaseOwner: "worker-a/t1" });
  });

  it("an operator's retry puts a quarantined entry back with fresh attempts and logs who", async () => {
    const e = await claimed(1);
    expect(await failEntry(world.db, e, "applying", "w1", conflict, opts)).toBe("quarantined");
    await retryEntry(world.db, e.id, "user:ops@example.test");
    expect(await entry(e.id)).toMatchObject({ state: "queued", attempts: 0, finishedAt: null });
    expect((await moves(e.id)).at(-1)).toBe("quarantined→queued by user:ops@example.test");
  });

  it("a landed revert marks its merged original rolled_back with a row", async () => {
    const e = await claimed();
    await transition(world.db, e, {
      from: "applying",
      to: "merged",
      owner: "w1",
      mergedCommit: "c",
    });
    await markRolledBack(world.db, e.changeRequestId, "w2");
    expect((await entry(e.id)).state).toBe("rolled_back");
    expect((await moves(e.id)).at(-1)).toBe("merged→rolled_back by w2");
  });

  it("no module but store.ts (and the claims, claim.ts) updates queue_entries", () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, d.name);
        if (d.isDirectory()) walk(file);
        else if (
          /(?<!\.test)\.ts$/.test(d.name) &&
          file !== path.join("server/state/queue/store.ts") &&
          file !== path.join("server/state/queue/claim.ts")
        ) {
          const text = fs.readFileSync(file, "utf8");
          if (/update\(queueEntries\)|UPDATE\s+queue_entries/i.test(text)) offenders.push(file);
        }
      }
    };
    walk("server");
    expect(offenders).toEqual([]);
  });

  it("every claimable state may move to applying, as the claim does", () => {
    expect(claimableStates.filter((s) => !entryMachine.can(s, "applying"))).toEqual([]);
  });
});

describe("refused moves write nothing", () => {
  it("retrying an entry that is not quarantined names the entry and its state", async () => {
    const e = await claimed();
    const before = await snapshot(e.id);
    const err = await (async () => {
      try {
        await retryEntry(world.db, e.id, "cli:ops");
      } catch (caught) {
        return caught;
      }
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues).toEqual([
      {
        path: "id",
        message: `entry ${e.id} is applying; only a quarantined entry can be retried`,
      },
    ]);
    expect(await snapshot(e.id)).toEqual(before);
  });

  it("retrying an entry that does not exist is NotFound", async () => {
    await expect((async () => retryEntry(world.db, 999, "cli:ops"))()).rejects.toThrow(
      NotFoundError,
    );
  });

  it("a forged lease owner cannot move, fail or keep alive someone else's entry", async () => {
    const e = await claimed(5, "w1");
    const before = await snapshot(e.id);
    await expect(
      (async () =>
        transition(world.db, e, { from: "applying", to: "merged", owner: "intruder" }))(),
    ).rejects.toThrow(StaleLeaseError);
    await expect(
      (async () => failEntry(world.db, e, "applying", "intruder", conflict, opts))(),
    ).rejects.toThrow(StaleLeaseError);
    await expect(
      (async () => failEntry(world.db, e, "applying", "", conflict, opts))(),
    ).rejects.toThrow(StaleLeaseError);
    expect(await heartbeatEntry(world.db, e, "intruder", opts, Date.now() + 1)).toBe(false);
    expect(await snapshot(e.id)).toEqual(before);
  });

  it("the right owner on an older attempt cannot move the entry", async () => {
    const e = await claimed(5, "w1");
    await transition(world.db, e, { from: "applying", to: "queued", owner: "w1" });
    const again = await claimNext(world.db, "w1", opts);
    expect(again?.attempts).toBe(2);
    const before = await snapshot(e.id);
    await expect(
      (async () => transition(world.db, e, { from: "applying", to: "ready", owner: "w1" }))(),
    ).rejects.toThrow(StaleLeaseError);
    expect(await snapshot(e.id)).toEqual(before);
  });

  it("a move the state table does not list is refused before anything is written", async () => {
    const e = await claimed();
    const before = await snapshot(e.id);
    await expect(
      (async () => transition(world.db, e, { from: "applying", to: "rolled_back", owner: "w1" }))(),
    ).rejects.toThrow(IllegalTransitionError);
    await expect(
      (async () => moveUnleased(world.db, e.id, { from: "applying", to: "queued", by: "x" }))(),
    ).rejects.toThrow(IllegalTransitionError);
    await expect(
      (async () => moveUnleased(world.db, e.id, { from: "merged", to: "queued", by: "x" }))(),
    ).rejects.toThrow(IllegalTransitionError);
    expect(await snapshot(e.id)).toEqual(before);
  });

  it("marking an original that is not merged as rolled back changes nothing", async () => {
    const e = await claimed();
    const before = await snapshot(e.id);
    await markRolledBack(world.db, e.changeRequestId, "w2");
    expect(await snapshot(e.id)).toEqual(before);
  });
});

describe("attempts", () => {
  it("a locked ref gives its attempt back instead of quarantining the entry", async () => {
    const e = await claimed(1);
    const locked: EntryError = { kind: "ref_locked", message: "main.lock", paths: [] };
    expect(await failEntry(world.db, e, "applying", "w1", locked, opts)).toBe("retry_wait");
    expect(await entry(e.id)).toMatchObject({ attempts: 1, maxAttempts: 2, lastError: locked });
  });

  it("a conflict on the last attempt quarantines the entry", async () => {
    const e = await claimed(1);
    expect(await failEntry(world.db, e, "applying", "w1", conflict, opts)).toBe("quarantined");
    expect(await entry(e.id)).toMatchObject({ attempts: 1, maxAttempts: 1 });
  });

  it("the backoff doubles up to its cap however many attempts an entry has had", () => {
    const full = () => 1;
    const capped = { ...defaultQueueOptions, backoffBaseMs: 1_000, backoffMaxMs: 60_000 };
    expect([1, 2, 3, 7].map((a) => backoffMs(a, capped, full))).toEqual([
      1_000, 2_000, 4_000, 60_000,
    ]);
    // Past 1024 attempts 2 ** (attempt - 1) is Infinity; a zero base (reclaimExpired's) made NaN.
    const zero = { ...capped, backoffBaseMs: 0 };
    for (const attempt of [1024, 1025, 5_000, Number.MAX_SAFE_INTEGER]) {
      expect([attempt, backoffMs(attempt, capped, full)]).toEqual([attempt, 60_000]);
      expect([attempt, backoffMs(attempt, zero, full)]).toEqual([attempt, 0]);
    }
  });

  it("an entry past 1024 attempts whose lease expired is reclaimed: a ref lock spins attempts up", async () => {
    const e = await claimed(1);
    await world.db
      .update(queueEntries)
      .set({ attempts: 1025, maxAttempts: 2000 })
      .where(eq(queueEntries.id, e.id));
    const now = Date.now();
    expect(await reclaimExpired(world.db, opts, now + opts.leaseMs + 1)).toBe(1);
    expect(await entry(e.id)).toMatchObject({
      state: "retry_wait",
      attempts: 1025,
      nextAttemptAt: now + opts.leaseMs + 1,
    });
  });
});
