import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cancelRequest } from "@/server/requests/cancel";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { fileAndQueue } from "@/test-support/queue-world";
import { requestDetail } from "./request-detail";
import { requestPage } from "./request-page";
import { requestSummary } from "./request-summary";
import { traceOf } from "./trace";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

describe("the request page as one read", () => {
  it("is the detail, the trace and the summary each view gives alone, from one load", async () => {
    const { requestId } = await fileAndQueue(world, { file: "docs/guide.md", title: "Caps" });
    const page = await requestPage(world.db, requestId);
    expect(page?.detail).toEqual(await requestDetail(world.db, requestId));
    expect(page?.trace).toEqual(await traceOf(world.db, { requestId, taskId: null }));
    expect(page?.summary).toEqual(await requestSummary(world.db, requestId));
    expect(page?.trace.request?.status).toBe(page?.detail.request.status);
    expect(page?.summary?.files.map((f) => f.path)).toEqual(["docs/guide.md"]);
  });

  it("keeps the trace's status with the request's, and shows no summary before it ends", async () => {
    const [filed] = await createRequests(world.db, {
      input: { title: "Make it nicer", description: "", repo: "demo" },
      requester: world.admin,
      config: world.config,
      source: "cli",
    });
    if (!filed) throw new Error("nothing filed");
    expect((await requestPage(world.db, filed.id))?.summary).toBeNull();
    await cancelRequest(world.db, filed.id, world.admin, "not needed");
    const page = await requestPage(world.db, filed.id);
    expect(page?.detail.request.status).toBe("cancelled");
    expect(page?.trace.request?.status).toBe("cancelled");
    expect(page?.summary).not.toBeNull();
  });

  it("is null for a request that does not exist", async () => {
    expect(await requestPage(world.db, 999_999)).toBeNull();
  });
});
