import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { events, requestSpecs, requests } from "@/server/db/schema";
import { ForbiddenError, NotFoundError, ValidationError } from "@/server/errors";
import { planRequest } from "@/server/planning/plan";
import { answerRequest } from "@/server/requests/answer";
import type { User } from "@/server/users/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { editRequest } from "./edit";
import { createRequests } from "./service";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

/** A vague request the Engineer asks about: it waits in needs_clarification. */
async function vague(requester: User) {
  const [r] = await createRequests(world.db, {
    input: { title: "Make it better", description: "Improve things.", repo: "demo" },
    requester,
    config: world.config,
    source: "cli",
  });
  const id = r?.id ?? 0;
  expect((await planRequest(world.db, world.config, id)).status).toBe("needs_clarification");
  return id;
}
const row = async (id: number) =>
  (await world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0];
const editEvents = async (id: number) =>
  (await world.db.select().from(events).where(eq(events.entityId, id))).filter(
    (e) => e.type === "request.edited",
  );

describe("editing a request that waits for clarification", () => {
  it("its requester edits it; the fields given replace, and it is planned again", async () => {
    const requester = await world.userWith("requester");
    const id = await vague(requester);
    const res = await editRequest(world.db, world.config, id, requester, {
      title: "Explain the cart's caps",
      description: "Add a section on caps to the guide.",
      files: ["docs/guide.md"],
    });
    expect(res.status).toBe("planned");
    expect(await row(id)).toMatchObject({
      title: "Explain the cart's caps",
      description: "Add a section on caps to the guide.",
      files: ["docs/guide.md"],
      status: "planned",
    });
    expect((await editEvents(id)).map((e) => e.payload)).toEqual([
      { id, by: requester.email, fields: ["title", "description", "files"] },
    ]);
  });

  it("refuses bad input naming the field, and writes nothing", async () => {
    const requester = await world.userWith("requester");
    const id = await vague(requester);
    const before = await row(id);
    const cases: [unknown, RegExp][] = [
      [{}, /must change at least one/],
      [{ files: ["../outside.md"] }, /files\[0\]/],
      [{ areas: ["nowhere"] }, /areas\[0\].*unknown area 'nowhere'/],
      [{ repo: "other" }, /repo.*not a known field/],
      [{ title: "" }, /title/],
      [{ title: "a\u202Eb" }, /title/],
    ];
    for (const [input, message] of cases) {
      const err = await editRequest(world.db, world.config, id, requester, input).catch((e) => e);
      expect(err, JSON.stringify(input)).toBeInstanceOf(ValidationError);
      expect(
        (err as ValidationError).issues.map((i) => `${i.path}: ${i.message}`).join("; "),
      ).toMatch(message);
    }
    expect(await row(id)).toEqual(before);
    expect(await editEvents(id)).toEqual([]);
  });

  it("only its requester, or staff once a reviewer is needed, may edit; a planned request cannot", async () => {
    const requester = await world.userWith("requester");
    const other = await world.userWith("requester");
    const reviewer = await world.userWith("reviewer");
    const id = await vague(requester);
    await expect(
      editRequest(world.db, world.config, id, other, { title: "Mine now" }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    await expect(
      editRequest(world.db, world.config, 9999, requester, { title: "x" }),
    ).rejects.toBeInstanceOf(NotFoundError);

    // The same question after an answer: the requester hands over to a reviewer.
    await answerRequest(world.db, world.config, id, requester, { note: "anything" });
    expect((await row(id))?.status).toBe("needs_attention");
    await expect(
      editRequest(world.db, world.config, id, requester, { files: ["docs/guide.md"] }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    const res = await editRequest(world.db, world.config, id, reviewer, {
      files: ["docs/guide.md"],
    });
    expect(res.status).toBe("planned");

    const err = await editRequest(world.db, world.config, id, requester, { title: "Late" }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues[0]?.message).toMatch(
      /is planned; only a request that waits for clarification or failed can be edited/,
    );
  });
});

describe("answers beside their questions", () => {
  it("each answer keeps the questions it answered", async () => {
    const requester = await world.userWith("requester");
    const id = await vague(requester);
    const asked = (
      await world.db.select().from(requestSpecs).where(eq(requestSpecs.requestId, id)).limit(1)
    )[0]?.questions;
    expect(asked?.length).toBeGreaterThan(0);
    await answerRequest(world.db, world.config, id, requester, { files: ["docs/guide.md"] });
    const [spec] = await world.db
      .select()
      .from(requestSpecs)
      .where(eq(requestSpecs.requestId, id))
      .limit(1);
    expect(spec?.answers).toEqual([
      expect.objectContaining({
        by: requester.email,
        questions: asked,
        answer: expect.objectContaining({ files: ["docs/guide.md"] }),
      }),
    ]);
  });
});
