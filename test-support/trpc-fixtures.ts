import path from "node:path";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { currentConfig } from "@/server/config/load";
import { changeQueueLogs, changeRequests, queueEntries, requests, tasks } from "@/server/db/schema";
import type { HyperionEnv } from "@/server/env.mjs";
import { moveTask } from "@/server/state/tasks/store";
import type { Context } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import type { User } from "@/server/users/service";
import type { TestWorld } from "@/test-support/fixtures";

/**
 * A request whose task failed and whose change was quarantined, each with an error text that
 * names server paths: the data directory, the demo repository and the temp folder.
 */
export async function seedFailedRequest(world: TestWorld, requester: User) {
  const repo = currentConfig(world.env.configPath).repositories[0];
  if (!repo) throw new Error("the test world has no repository");
  const now = Date.now();
  const dbFile = path.join(world.dir, "hyperion.db");
  const inRepo = path.join(repo.path, "src", "app.ts");
  const [request] = await world.db
    .insert(requests)
    .values({
      title: "Fix /srv/app/notes in the title",
      description: "user text stays as written: /home/someone/notes",
      repo: repo.name,
      priority: "normal",
      areas: [],
      files: [],
      dependsOn: [],
      acceptance: [],
      status: "failed",
      requesterId: requester.id,
      source: "web",
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  if (!request) throw new Error("request not created");
  await world.db.insert(tasks).values({
    id: `${request.id}.1`,
    requestId: request.id,
    repo: repo.name,
    title: "task",
    source: "planner",
    createdAt: now,
    state: "submitted",
  });
  const [change] = await world.db
    .insert(changeRequests)
    .values({
      taskId: `${request.id}.1`,
      repo: repo.name,
      targetBranch: repo.targetBranch,
      patch: "",
      summary: "change",
      authorName: "a",
      authorEmail: "a@example.test",
      checks: [],
      risk: "low",
      dryRun: false,
      createdAt: now,
    })
    .returning();
  if (!change) throw new Error("change not created");
  const reason = `the built-in developer failed: EACCES: permission denied, open '${inRepo}'`;
  await moveTask(world.db, {
    id: `${request.id}.1`,
    from: "submitted",
    to: "failed",
    set: { changeRequestId: change.id, blockedReason: reason },
    event: { reason },
  });
  const error = {
    kind: "internal" as const,
    message: `SQLITE_CANTOPEN: ${dbFile} (worktree ${path.join(world.dir, "worktrees", "7")})`,
    paths: ["src/app.ts"],
    outputTail: `npm ERR! at ${inRepo}:3:9`,
  };
  const [entry] = await world.db
    .insert(queueEntries)
    .values({
      changeRequestId: change.id,
      repo: repo.name,
      targetBranch: repo.targetBranch,
      state: "quarantined",
      maxAttempts: 1,
      nextAttemptAt: now,
      lastError: error,
      createdAt: now,
      updatedAt: now,
      finishedAt: now,
    })
    .returning();
  if (!entry) throw new Error("queue entry not created");
  await world.db.insert(changeQueueLogs).values({
    entryId: entry.id,
    event: {
      entryId: entry.id,
      from: "checking",
      to: "quarantined",
      worker: null,
      attempt: 1,
      error,
    },
    at: now,
  });
  return { requestId: request.id, entryId: entry.id, repoPath: repo.path, dbFile };
}

export function contextFor(
  world: TestWorld,
  user: User | null,
  env: HyperionEnv = world.env,
): Context {
  return { db: world.db, env, user, crossOrigin: false, via: "session" };
}

/**
 * Calls a procedure over HTTP, through the same fetch handler the route uses, so the error
 * formatter runs. A subscription's body is read until it fails or ends.
 */
export async function callOverHttp(
  world: TestWorld,
  user: User | null,
  procedurePath: string,
  input: unknown,
  init: { method?: "GET" | "POST"; headers?: Record<string, string>; env?: HyperionEnv } = {},
) {
  const method = init.method ?? "GET";
  const url = new URL(`http://127.0.0.1/api/trpc/${procedurePath}`);
  if (method === "GET" && input !== undefined) url.searchParams.set("input", JSON.stringify(input));
  const req = new Request(url, {
    method,
    headers: { "content-type": "application/json", ...init.headers },
    ...(method === "POST" ? { body: JSON.stringify(input) } : {}),
  });
  const res = await fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => contextFor(world, user, init.env),
  });
  if (res.headers.get("content-type")?.includes("text/event-stream")) {
    const reader = res.body?.getReader();
    let text = "";
    // Only call this for a stream that ends or fails: a healthy one stays open.
    while (reader && !/event: serialized-error\ndata: .*\n\n/.test(text)) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader?.cancel();
    return { status: res.status, stream: text, body: null };
  }
  return { status: res.status, stream: null, body: (await res.json()) as TrpcEnvelope };
}

export type TrpcEnvelope = {
  error?: {
    message: string;
    data: { code: string; httpStatus: number; issues: { path: string; message: string }[] | null };
  };
  result?: { data: unknown };
};
