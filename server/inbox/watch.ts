import fs from "node:fs";
import path from "node:path";
import { watch } from "chokidar";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { log } from "@/server/log";
import { ingestFile } from "./ingest";

/**
 * Watches the inbox folder for `*.json` (chokidar: the watcher most tools use, with
 * write-finish detection so a half-written file is not read early). Files already there at
 * start are taken in too. One file at a time.
 */
export function watchInbox(
  db: Db,
  config: () => LoadedConfig,
  inbox: string,
  opts: { stabilityMs?: number } = {},
) {
  fs.mkdirSync(inbox, { recursive: true });
  let chain = Promise.resolve();
  const watcher = watch(inbox, {
    depth: 0,
    ignoreInitial: false,
    ignored: (p, stats) => !!stats?.isFile() && !p.endsWith(".json"),
    awaitWriteFinish: { stabilityThreshold: opts.stabilityMs ?? 250, pollInterval: 50 },
  });
  watcher.on("add", (file) => {
    if (path.dirname(file) !== path.resolve(inbox) || !file.endsWith(".json")) return;
    chain = chain.then(() => {
      if (!fs.existsSync(file)) return;
      const result = ingestFile(db, config(), inbox, file, process.env.HYPERION_INBOX_USER);
      log.info(result, "inbox file taken in");
    });
  });
  return {
    close: () => watcher.close(),
    ready: new Promise<void>((r) => watcher.once("ready", () => r())),
  };
}
