import { configStatus, currentConfig } from "@/server/config/load";
import { workerStatus } from "@/server/workers/heartbeat";
import { procedure, router } from "../init";

export const systemRouter = router({
  status: procedure("system.read").query(async ({ ctx }) => ({
    worker: await workerStatus(ctx.db),
    repositories: currentConfig(ctx.env.configPath).repositories.map((r) => ({
      name: r.name,
      targetBranch: r.targetBranch,
    })),
  })),
  /** Whether the config file has turned bad while running (the last good one is in force). */
  config: procedure("user.manage").query(({ ctx }) => configStatus(ctx.env.configPath)),
});
