import fs from "node:fs";
import path from "node:path";
import { and, eq, like } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { alertDeliveryStates } from "@/schemas/alert-delivery-state";
import { metaStates } from "@/schemas/meta";
import { entryStates } from "@/schemas/queue";
import { requestStatuses } from "@/schemas/request-status";
import { runStates } from "@/schemas/run-state";
import { taskStates } from "@/schemas/task-state";
import { verificationStates } from "@/schemas/verification-state";
import { closeDb, type Db, type DbLike, openDb } from "@/server/db/client";
import { events } from "@/server/db/schema";
import { DeliveryMoveConflict, deliveryMachine } from "@/server/state/alerts/states";
import { MetaMoveConflict, metaMachine } from "@/server/state/meta/states";
import { entryMachine, IllegalTransitionError } from "@/server/state/queue/states";
import { requestMachine } from "@/server/state/requests/states";
import { RunMoveConflict, runMachine } from "@/server/state/runs/states";
import { IllegalTaskMove, taskMachine } from "@/server/state/tasks/states";
import { VerificationMoveConflict, verificationMachine } from "@/server/state/verify/states";
import { tempDir } from "@/test-support/fixtures";
import { defineMachine, type Machine } from "./machine";

/**
 * Each machine's table, written out again: a move added or dropped changes this file too, on
 * purpose. Read a row as "from: the states it may move to".
 */
const expected = {
  queue: {
    queued: ["applying", "rejected"],
    applying: [
      "checking",
      "ready",
      "awaiting_approval",
      "qa_required",
      "merged",
      "retry_wait",
      "quarantined",
      "rejected",
      "queued",
    ],
    checking: ["ready", "applying", "retry_wait", "quarantined", "queued"],
    ready: [
      "merged",
      "in_review",
      "applying",
      "awaiting_approval",
      "qa_required",
      "retry_wait",
      "quarantined",
      "queued",
    ],
    awaiting_approval: ["queued", "rejected"],
    qa_required: ["queued", "rejected"],
    in_review: ["merged", "rejected"],
    retry_wait: ["applying", "quarantined", "rejected"],
    merged: ["rolled_back"],
    quarantined: ["queued", "rejected"],
    rejected: [],
    rolled_back: [],
  },
  request: {
    received: ["needs_clarification", "needs_attention", "planned", "cancelled", "failed"],
    needs_clarification: ["received", "cancelled"],
    needs_attention: ["received", "cancelled"],
    planned: [
      "in_progress",
      "awaiting_approval",
      "done",
      "cancelled",
      "failed",
      "rolled_back",
      "needs_attention",
    ],
    in_progress: [
      "awaiting_approval",
      "done",
      "failed",
      "cancelled",
      "rolled_back",
      "needs_attention",
    ],
    awaiting_approval: [
      "in_progress",
      "done",
      "failed",
      "cancelled",
      "rolled_back",
      "needs_attention",
    ],
    done: ["rolled_back", "in_progress"],
    failed: ["received", "done", "in_progress", "awaiting_approval", "cancelled"],
    cancelled: ["received"],
    rolled_back: [],
  },
  task: {
    pending: ["claimed", "triage", "failed"],
    claimed: ["pending", "submitted", "done", "failed"],
    submitted: ["done", "failed", "pending"],
    done: ["pending"],
    failed: ["done", "pending", "superseded"],
    triage: ["superseded"],
    superseded: [],
  },
  run: {
    starting: ["running", "failed", "stopped", "lost"],
    running: ["running", "checking", "submitted", "no_change", "failed", "stopped", "lost"],
    checking: ["running", "submitted", "no_change", "failed", "stopped", "lost"],
    submitted: [],
    no_change: [],
    failed: [],
    stopped: [],
    lost: [],
  },
  verification: {
    running: ["running", "passed", "flaky", "culprit", "failed", "error"],
    passed: [],
    flaky: [],
    culprit: [],
    failed: [],
    error: [],
  },
  "alert delivery": {
    pending: ["sending", "dead"],
    sending: ["delivered", "retrying", "dead"],
    retrying: ["sending", "dead"],
    delivered: [],
    dead: [],
  },
  "meta item": {
    pending: ["applied", "refused"],
    applied: [],
    refused: [],
  },
} as const;

type Case = {
  machine: Machine<string>;
  states: readonly string[];
  table: Record<string, readonly string[]>;
  error: new (...args: never[]) => Error;
};

const cases: Case[] = [
  {
    machine: entryMachine,
    states: entryStates,
    table: expected.queue,
    error: IllegalTransitionError,
  },
  { machine: requestMachine, states: requestStatuses, table: expected.request, error: Error },
  { machine: taskMachine, states: taskStates, table: expected.task, error: IllegalTaskMove },
  { machine: runMachine, states: runStates, table: expected.run, error: RunMoveConflict },
  {
    machine: verificationMachine,
    states: verificationStates,
    table: expected.verification,
    error: VerificationMoveConflict,
  },
  {
    machine: deliveryMachine,
    states: alertDeliveryStates,
    table: expected["alert delivery"],
    error: DeliveryMoveConflict,
  },
  {
    machine: metaMachine,
    states: metaStates,
    table: expected["meta item"],
    error: MetaMoveConflict,
  },
];

const pairs = (c: Case) =>
  c.states.flatMap((from) => c.states.map((to) => [c.machine.name, from, to, c] as const));

describe("each machine's table", () => {
  it.each(cases.map((c) => [c.machine.name, c] as const))(
    "the %s table has a row for every state of its schema, and nothing else",
    (_name, c) => {
      expect([...c.machine.states].sort()).toEqual([...c.states].sort());
      for (const targets of Object.values(c.machine.moves))
        for (const to of targets) expect(c.states).toContain(to);
    },
  );

  it.each(cases.map((c) => [c.machine.name, c] as const))(
    "the %s table is the one written out here",
    (_name, c) => {
      expect(c.machine.moves).toEqual(c.table);
    },
  );

  it.each(cases.flatMap(pairs))("%s: %s → %s is allowed exactly when listed", (_n, from, to, c) => {
    const listed = c.table[from]?.includes(to) ?? false;
    expect(c.machine.can(from, to)).toBe(listed);
    if (listed) expect(() => c.machine.assert(from, to)).not.toThrow();
    else {
      expect(() => c.machine.assert(from, to)).toThrow(c.error);
      expect(() => c.machine.assert(from, to)).toThrow(`illegal ${c.machine.name} move`);
    }
  });
});

describe("a machine's move", () => {
  type Toy = "open" | "shut" | "gone";
  const toy = defineMachine<Toy>({
    name: "toy",
    moves: { open: ["shut"], shut: ["open", "gone"], gone: [] },
  });
  let db: Db;
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
    db = openDb(path.join(dir, "toy.db"));
  });
  afterEach(async () => {
    await closeDb(db);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // A row of the events table stands in for a stateful row: its `type` is the toy's state.
  const seed = async (state: Toy) => {
    const [row] = await db
      .insert(events)
      .values({ topic: "queue", type: state, payload: {}, createdAt: 0 })
      .returning();
    if (!row) throw new Error("no toy row");
    return row.id;
  };
  const stateOf = async (id: number) =>
    (await db.select({ type: events.type }).from(events).where(eq(events.id, id)).limit(1))[0]
      ?.type;
  const audits = () => db.select().from(events).where(like(events.type, "toy.%"));
  /** Moves the toy on `on` (the database, or a caller's transaction). */
  const moveToy = (id: number, from: Toy, to: Toy, record?: () => void, on: DbLike = db) =>
    toy.move(on, {
      from,
      to,
      subject: `toy ${id}`,
      swap: async (tx) =>
        (
          await tx
            .update(events)
            .set({ type: to })
            .where(and(eq(events.id, id), eq(events.type, from)))
            .returning()
        )[0],
      refused: () => new Error(`toy ${id} is not ${from}`),
      record: async (tx, row) => {
        record?.();
        await tx.insert(events).values({
          topic: "queue",
          type: `toy.${to}`,
          entityId: row.id,
          payload: {},
          createdAt: 0,
        });
      },
    });

  it("swaps the row and writes its audit event", async () => {
    const id = await seed("open");
    expect((await moveToy(id, "open", "shut")).type).toBe("shut");
    expect(await stateOf(id)).toBe("shut");
    expect((await audits()).map((e) => [e.type, e.entityId])).toEqual([["toy.shut", id]]);
  });

  it("refuses a move the table does not list before it touches the row, naming the row", async () => {
    const id = await seed("open");
    await expect(moveToy(id, "open", "gone")).rejects.toThrow(
      `toy ${id}: illegal toy move open → gone`,
    );
    expect(await stateOf(id)).toBe("open");
    expect(await audits()).toEqual([]);
  });

  it("writes nothing when the row is no longer where the caller thought", async () => {
    const id = await seed("shut");
    await expect(moveToy(id, "open", "shut")).rejects.toThrow(`toy ${id} is not open`);
    expect(await stateOf(id)).toBe("shut");
    expect(await audits()).toEqual([]);
  });

  it("undoes the swap when its audit event cannot be written, also inside a caller's transaction", async () => {
    const id = await seed("open");
    const failing = () => {
      throw new Error("disk full");
    };
    await expect(moveToy(id, "open", "shut", failing)).rejects.toThrow("disk full");
    expect(await stateOf(id)).toBe("open");
    const other = await seed("open");
    await db.transaction(async (tx) => {
      await expect(moveToy(id, "open", "shut", failing, tx)).rejects.toThrow("disk full");
      await moveToy(other, "open", "shut", undefined, tx);
    });
    expect([await stateOf(id), await stateOf(other)]).toEqual(["open", "shut"]);
    expect((await audits()).map((e) => e.entityId)).toEqual([other]);
  });
});
