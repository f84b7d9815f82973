import path from "node:path";
import { eq } from "drizzle-orm";
import { events, metaItems, requests, tasks } from "@/server/db/schema";
import { createDemoRepo } from "@/server/demo/create";
import { createRequests } from "@/server/requests/service";
import type { TestWorld } from "./fixtures";

// Two repositories for the workspace meta queue's tests: the demo (`demo`) and a copy of it
// (`api`) with a policy of its own, so that one can change without the other.

/** Adds `api`, a copy of the demo repository with a copy of its policy. */
export async function addApiRepo(world: TestWorld): Promise<void> {
  const demo = world.config.repositories[0];
  if (!demo?.policy) throw new Error("no demo repository");
  const dir = path.join(world.dir, "repos", "api");
  await createDemoRepo(dir);
  world.config = {
    ...world.config,
    repositories: [
      ...world.config.repositories,
      { ...demo, name: "api", path: dir, policy: structuredClone(demo.policy) },
    ],
  };
}

/** Files one request as the admin; its id. */
export async function file(world: TestWorld, input: Record<string, unknown>): Promise<number> {
  const [r] = await createRequests(world.db, {
    input: { description: "", ...input },
    requester: world.admin,
    config: world.config,
    source: "cli",
  });
  if (!r) throw new Error("nothing filed");
  return r.id;
}

export const statusOf = async (world: TestWorld, id: number) =>
  (
    await world.db.select({ s: requests.status }).from(requests).where(eq(requests.id, id)).limit(1)
  )[0]?.s;

export const tasksOf = async (world: TestWorld, id: number) =>
  world.db.select().from(tasks).where(eq(tasks.requestId, id)).orderBy(tasks.id);

/**
 * The request topic's events in order, as `R<id> <type>[ <status>]`: "R2 task.claimed",
 * "R1 request.status done". A test reads what happened before what from it.
 */
export async function requestLog(world: TestWorld): Promise<string[]> {
  return (
    await world.db.select().from(events).where(eq(events.topic, "request")).orderBy(events.id)
  ).map((e) => {
    const status = (e.payload as { status?: unknown }).status;
    return `R${e.entityId} ${e.type}${e.type === "request.status" ? ` ${String(status)}` : ""}`;
  });
}

/** How many rows the tables a refused item must not touch hold: compared before and after. */
export async function footprint(world: TestWorld) {
  const count = async (t: typeof events | typeof metaItems | typeof requests) =>
    (await world.db.select().from(t)).length;
  return {
    events: await count(events),
    items: await count(metaItems),
    requests: JSON.stringify(await world.db.select().from(requests).orderBy(requests.id)),
  };
}
