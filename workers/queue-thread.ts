import type { MessagePort } from "node:worker_threads";
import { currentConfig } from "@/server/config/load";
import { closeDb, openDb } from "@/server/db/client";
import { LandLock } from "@/server/queue/land-lock";
import { type LoopOptions, runQueueLoop } from "@/server/queue/loop";

export type ThreadData = {
  dbTarget: string;
  configPath: string;
  owner: string;
  parentId: string;
  opts: LoopOptions;
  tsconfig: string;
  /** Run the TypeScript sources through tsx even when the bundle is fresh (HYPERION_CLI_SOURCES). */
  sources?: boolean;
  /** The process's landing lock, shared by its threads. */
  landLock: SharedArrayBuffer;
};

export type ThreadMessage =
  | { type: "entry"; owner: string; entryId: number | null }
  | { type: "done"; owner: string; processed: number };

/** The body of one queue thread: its own SQLite connection, one loop, stop between entries. */
export async function runThread(data: ThreadData, port: MessagePort | null): Promise<void> {
  const db = openDb(data.dbTarget, { migrate: false, name: data.owner, connections: 3 });
  let stopping = false;
  port?.on("message", (msg: unknown) => {
    if (msg === "stop") stopping = true;
  });
  try {
    const { processed } = await runQueueLoop({
      db,
      config: () => currentConfig(data.configPath),
      owner: data.owner,
      parentId: data.parentId,
      opts: data.opts,
      shouldStop: () => stopping,
      landLock: new LandLock(new Int32Array(data.landLock)),
      onEntry: (entryId) =>
        port?.postMessage({ type: "entry", owner: data.owner, entryId } satisfies ThreadMessage),
    });
    port?.postMessage({ type: "done", owner: data.owner, processed } satisfies ThreadMessage);
  } finally {
    await closeDb(db);
    port?.close();
  }
}
