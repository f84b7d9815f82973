import { randomUUID } from "node:crypto";
import { loadConfig } from "@/server/config/load";
import { type Db, dbFile, openDb } from "@/server/db/client";
import { readEnv } from "@/server/env.mjs";
import { log } from "@/server/log";
import { beat, HEARTBEAT_MS, markStopped } from "@/server/workers/heartbeat";

export type WorkerHandle = { id: string; stop: () => Promise<void>; done: Promise<void> };

/**
 * The worker process. In this release it proves it is alive by beating into SQLite; the merge
 * queue's threads will run under this supervisor.
 */
export function startWorker(db: Db): WorkerHandle {
  const id = `worker-${randomUUID().slice(0, 8)}`;
  const startedAt = Date.now();
  beat(db, id, startedAt);
  const timer = setInterval(() => beat(db, id, startedAt), HEARTBEAT_MS);
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  return {
    id,
    done,
    async stop() {
      clearInterval(timer);
      markStopped(db, id);
      resolveDone();
    },
  };
}

export async function runWorkerProcess(): Promise<void> {
  const env = readEnv();
  loadConfig(env.configPath);
  const db = openDb(dbFile(env.dataDir));
  const worker = startWorker(db);
  log.info({ worker: worker.id, pid: process.pid }, "worker started");
  const shutdown = (signal: string) => {
    log.info({ worker: worker.id, signal }, "worker stopping");
    void worker.stop();
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  await worker.done;
  db.$client.close();
}
