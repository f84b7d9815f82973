import { eq } from "drizzle-orm";
import { afterEach, beforeEach } from "vitest";
import type { AgentPolicy } from "@/schemas/agents";
import { agentRuns, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { createRequests } from "@/server/requests/service";
import { AgentPool } from "@/server/runs/pool";
import { makeWorld, type TestWorld } from "./fixtures";

// The world agent-run tests share: a fresh test world and a worker's AgentPool for each test,
// the pool stopped and the world removed after it; the demo repository's agent policy set per
// test; and a request filed, planned and dispatched to an agent, read back once its run is over.

/** The owner the pool and the dispatch passes run as. */
export const AGENT_OWNER = "worker-test/dispatcher";

export type AgentWorldOptions = {
  /** The pool's stopStepMs (200 unless given). */
  stopStepMs?: number;
  /** Runs after the world is made, before the pool (e.g. to point TMPDIR elsewhere). */
  setup?: () => void | Promise<void>;
  /** Runs after the pool is stopped, before the world is removed. */
  teardown?: () => void | Promise<void>;
};

export type AgentWorld = Awaited<ReturnType<typeof agentWorld>>;

/**
 * Registers beforeEach/afterEach hooks in the calling scope (file or describe) and returns
 * getters for that test's world and pool, with the helpers that act on them.
 */
export function agentWorld(opts: AgentWorldOptions = {}) {
  let current: { world: TestWorld; pool: AgentPool } | null = null;
  beforeEach(async () => {
    const world = await makeWorld();
    await opts.setup?.();
    const pool = new AgentPool({
      db: world.db,
      dataDir: world.env.dataDir,
      owner: AGENT_OWNER,
      leaseMs: 60_000,
      tickMs: 50,
      stopStepMs: opts.stopStepMs ?? 200,
    });
    current = { world, pool };
  });
  afterEach(async () => {
    const was = current;
    current = null;
    await was?.pool.stopAll("test over");
    await opts.teardown?.();
    await was?.world.cleanup();
  });
  const now = () => {
    if (!current) throw new Error("agentWorld: used outside a test");
    return current;
  };

  const aw = {
    get world(): TestWorld {
      return now().world;
    },
    get pool(): AgentPool {
      return now().pool;
    },

    /** Merges `patch` into the demo repository's agent policy. */
    setAgents(patch: Partial<AgentPolicy>) {
      const repo = aw.world.config.repositories[0];
      if (!repo?.policy) throw new Error("the demo has a policy");
      repo.policy.agents = { ...repo.policy.agents, ...patch };
    },

    /** The `command` agent, running `code` with `node -e` (the command line is never given to a shell). */
    setCommand(code: string, extra: Partial<AgentPolicy> = {}) {
      aw.setAgents({ default: "command", command: `node -e '${code}'`, ...extra });
    },

    /** Files a request on the demo repository for `files`; returns its id. */
    async fileRequest(
      files = ["docs/guide.md"],
      over: { title?: string; description?: string } = {},
    ): Promise<number> {
      const { world } = now();
      const [r] = await createRequests(world.db, {
        input: {
          title: "Note the guide",
          description: "Add a line.",
          ...over,
          repo: "demo",
          files,
        },
        requester: world.admin,
        config: world.config,
        source: "cli",
      });
      return r?.id ?? 0;
    },

    /** One dispatch pass through the pool (the first plans a request, the next dispatches its task). */
    pass() {
      const { world, pool } = now();
      return advance(world.db, world.config, AGENT_OWNER, undefined, 60_000, pool);
    },

    /** Plan, then dispatch: the agent's run starts in the background. */
    async dispatch() {
      await aw.pass();
      await aw.pass();
    },

    /** The request's task and that task's (first) run. */
    async readBack(requestId: number) {
      const { db } = now().world;
      const [task] = await db.select().from(tasks).where(eq(tasks.requestId, requestId)).limit(1);
      const [run] = await db
        .select()
        .from(agentRuns)
        .where(eq(agentRuns.taskId, task?.id ?? ""))
        .limit(1);
      return { task, run };
    },

    /**
     * Files a request for `files`, probes the agents, plans and dispatches it, waits for the
     * pool to be idle, and reads back its task and run (`started`: the runs the dispatch began).
     */
    async fileAndRun(files = ["docs/guide.md"]) {
      const requestId = await aw.fileRequest(files);
      await aw.pool.probeAll(aw.world.config);
      await aw.dispatch();
      const started = aw.pool.runs();
      await aw.pool.idle();
      return { started, ...(await aw.readBack(requestId)) };
    },
  };
  return aw;
}
