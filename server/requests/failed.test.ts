import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { events, queueEntries, requests, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { ForbiddenError, NotFoundError, ValidationError } from "@/server/errors";
import { requestPage } from "@/server/views/request-page";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { requestProblems } from "@/test-support/invariants";
import { drainQueue, fileAndQueue } from "@/test-support/queue-world";
import { closeRequest } from "./close";
import { editRequest } from "./edit";

// A failed request is no dead end: its requester edits it and plans it again, or closes it
// with a reason (server/requests/edit.ts, close.ts).

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const row = async (id: number) =>
  (await world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0];
const tasksOf = async (id: number) =>
  await world.db
    .select({ id: tasks.id, state: tasks.state })
    .from(tasks)
    .where(eq(tasks.requestId, id));
const eventsOf = async (id: number) =>
  (await world.db.select().from(events).where(eq(events.entityId, id))).filter(
    (e) => e.topic === "request",
  );
const entryState = async (id: number | undefined) =>
  (
    await world.db
      .select()
      .from(queueEntries)
      .where(eq(queueEntries.id, id ?? 0))
      .limit(1)
  )[0]?.state;

function setTestCheck(command: string) {
  const repo = world.config.repositories[0];
  if (!repo?.policy) throw new Error("policy");
  repo.policy.checks = { ...repo.policy.checks, test: command };
}

/** A request of `requester` that failed on a check: its change sits in quarantine. */
async function failedRequest(requester = world.admin, file = "src/cart/cart.js") {
  setTestCheck(`node -e "process.exit(1)"`);
  const first = await fileAndQueue(world, { file, title: "Round totals", requester });
  expect((await row(first.requestId))?.status).toBe("failed");
  expect(first.entry?.state).toBe("quarantined");
  setTestCheck("npm test");
  return first;
}

describe("editing a failed request and planning it again", () => {
  it("its requester edits it: the failed task is superseded, a new one planned after it, and it lands", async () => {
    const ana = await world.userWith("requester");
    const first = await failedRequest(ana);
    const id = first.requestId;
    const res = await editRequest(world.db, world.config, id, ana, {
      title: "Round totals to whole cents",
      files: ["src/cart/cart.js"],
    });
    expect(res.status).toBe("planned");
    expect(res.tasks).toEqual([`${id}.2`]);
    expect(await tasksOf(id)).toEqual([
      { id: `${id}.1`, state: "superseded" },
      { id: `${id}.2`, state: "pending" },
    ]);
    // Its quarantined change is set aside: the new plan makes a new one.
    expect(await entryState(first.entry?.id)).toBe("rejected");
    const edited = (await eventsOf(id)).find((e) => e.type === "request.edited");
    expect(edited?.payload).toEqual({
      id,
      by: ana.email,
      fields: ["title", "files"],
      replaced: [`${id}.1`],
    });
    expect(
      (await eventsOf(id))
        .filter((e) => e.type === "request.status")
        .map((e) => (e.payload as { status: string }).status)
        .slice(-3),
    ).toEqual(["failed", "received", "planned"]);

    await advance(world.db, world.config, "d");
    await drainQueue(world);
    expect((await row(id))?.status).toBe("done");
    expect(await requestProblems(world.db)).toEqual([]);
  });

  it("an admin may edit another's failed request; another requester may not, and nothing is written", async () => {
    const ana = await world.userWith("requester");
    const bob = await world.userWith("requester");
    const reviewer = await world.userWith("reviewer");
    const { requestId: id } = await failedRequest(ana);
    const before = await row(id);
    for (const user of [bob, reviewer]) {
      const err = await editRequest(world.db, world.config, id, user, { title: "Mine now" }).catch(
        (e) => e,
      );
      expect(err).toBeInstanceOf(ForbiddenError);
      expect(String(err.message)).toMatch(/its requester, an operator or an admin/);
    }
    expect(await row(id)).toEqual(before);
    const res = await editRequest(world.db, world.config, id, world.admin, { title: "Retitled" });
    expect(res.status).toBe("planned");
  });

  it("bad input on a failed request names the field and writes nothing", async () => {
    const { requestId: id } = await failedRequest();
    const before = await row(id);
    const tasksBefore = await tasksOf(id);
    for (const input of [{}, { files: ["../outside.js"] }, { title: "" }, { repo: "other" }]) {
      const err = await editRequest(world.db, world.config, id, world.admin, input).catch((e) => e);
      expect(err, JSON.stringify(input)).toBeInstanceOf(ValidationError);
    }
    expect(await row(id)).toEqual(before);
    expect(await tasksOf(id)).toEqual(tasksBefore);
    expect((await eventsOf(id)).some((e) => e.type === "request.edited")).toBe(false);
  });
});

describe("closing a failed request with a reason", () => {
  it("its requester closes it: cancelled, its reason kept and shown, its quarantined change set aside", async () => {
    const ana = await world.userWith("requester");
    const first = await failedRequest(ana);
    const id = first.requestId;
    const res = await closeRequest(
      world.db,
      id,
      ana,
      "  Not needed: the totals moved to the server.  ",
    );
    expect(res).toMatchObject({
      status: "cancelled",
      reason: "Not needed: the totals moved to the server.",
      setAside: [first.entry?.id],
    });
    expect((await row(id))?.status).toBe("cancelled");
    expect(await entryState(first.entry?.id)).toBe("rejected");
    const closed = (await eventsOf(id)).find((e) => e.type === "request.closed");
    expect(closed?.payload).toEqual({
      id,
      by: ana.email,
      reason: "Not needed: the totals moved to the server.",
    });
    expect((await requestPage(world.db, id))?.detail.closed).toMatchObject({
      by: ana.email,
      reason: "Not needed: the totals moved to the server.",
    });
    expect(await requestProblems(world.db)).toEqual([]);
    // Closed is the end: neither closed again nor edited.
    await expect((async () => closeRequest(world.db, id, ana, "again"))()).rejects.toThrow(
      /R\d+ is cancelled; only a failed request can be closed$/,
    );
    await expect(editRequest(world.db, world.config, id, ana, { title: "x" })).rejects.toThrow(
      ValidationError,
    );
  });

  it("refuses an empty, overlong or control-character reason, naming the field, and writes nothing", async () => {
    const { requestId: id } = await failedRequest();
    const before = await row(id);
    const count = (await eventsOf(id)).length;
    const cases: [unknown, RegExp][] = [
      ["", /reason: say why you close it/],
      ["   ", /reason: say why you close it/],
      [undefined, /reason: say why you close it/],
      [42, /reason: say why you close it/],
      ["x".repeat(501), /reason: at most 500 characters/],
      ["a\u0000b", /reason: control characters are not allowed/],
      ["<script>alert(1)</script>\u001b[2J", /reason: control characters/],
    ];
    for (const [reason, message] of cases) {
      const err = await (async () => {
        try {
          await closeRequest(world.db, id, world.admin, reason);
        } catch (e) {
          return e;
        }
      })();
      expect(err, JSON.stringify(reason)).toBeInstanceOf(ValidationError);
      expect(
        (err as ValidationError).issues.map((i) => `${i.path}: ${i.message}`).join("; "),
      ).toMatch(message);
    }
    expect(await row(id)).toEqual(before);
    expect((await eventsOf(id)).length).toBe(count);
  });

  it("refuses a request in another state, someone else's, or an unknown one", async () => {
    const ana = await world.userWith("requester");
    const bob = await world.userWith("requester");
    const { requestId: failed } = await failedRequest(ana);
    await expect((async () => closeRequest(world.db, failed, bob, "not mine"))()).rejects.toThrow(
      ForbiddenError,
    );
    expect((await row(failed))?.status).toBe("failed");
    await expect((async () => closeRequest(world.db, 999, ana, "gone"))()).rejects.toThrow(
      NotFoundError,
    );
    const done = await fileAndQueue(world, { file: "src/cart/cart.js", title: "Done one" });
    expect((await row(done.requestId))?.status).toBe("done");
    await expect(
      (async () => closeRequest(world.db, done.requestId, world.admin, "why"))(),
    ).rejects.toThrow(/is done; only a failed request can be closed/);
    expect((await row(done.requestId))?.status).toBe("done");
  });
});
