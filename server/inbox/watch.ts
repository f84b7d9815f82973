import fs from "node:fs";
import path from "node:path";
import { watch } from "chokidar";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { log } from "@/server/log";
import { type IngestResult, ingestFile } from "./ingest";

/**
 * Watches the inbox folder for `*.json` (chokidar: the watcher most tools use, with
 * write-finish detection so a half-written file is not read early). Files already there at
 * start are taken in too. One entry at a time; an entry that cannot be taken is logged and the
 * watcher goes on to the next. Links are not followed: what reaches `ingestFile` is the entry
 * itself, and anything that is not a regular file is refused there.
 */
export function watchInbox(
  db: Db,
  config: () => LoadedConfig,
  inbox: string,
  opts: {
    stabilityMs?: number;
    maxBytes?: number;
    /** Who entries are filed as (HYPERION_INBOX_USER); the first admin when unset. */
    requesterEmail?: string;
    /** Called with each entry's outcome, after it is logged. */
    onResult?: (result: IngestResult) => void;
  } = {},
) {
  const root = path.resolve(inbox);
  fs.mkdirSync(root, { recursive: true });
  const isCandidate = (file: string) =>
    path.dirname(file) === root && file.endsWith(".json") && !path.basename(file).startsWith(".");

  let chain = Promise.resolve();
  const take = (file: string) => {
    chain = chain.then(async () => {
      try {
        const result = await ingestFile(db, config(), root, file, {
          requesterEmail: opts.requesterEmail,
          maxBytes: opts.maxBytes,
        });
        if (result.outcome === "rejected") log.warn(result, "inbox file rejected");
        else log.info(result, "inbox file taken in");
        opts.onResult?.(result);
      } catch (err) {
        log.error(
          { file: path.basename(file), err: (err as Error).message },
          "inbox file not taken; left in place",
        );
      }
    });
  };
  // chokidar does not report a link that leads nowhere; those are swept up at start.
  const sweep = () => {
    for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
      const file = path.join(root, entry.name);
      if (entry.isSymbolicLink() && isCandidate(file)) take(file);
    }
  };

  const watcher = watch(root, {
    depth: 0,
    ignoreInitial: false,
    followSymlinks: false,
    ignored: (p, stats) =>
      p !== root &&
      (path.basename(p).startsWith(".") || (!!stats?.isFile() && !p.endsWith(".json"))),
    awaitWriteFinish: { stabilityThreshold: opts.stabilityMs ?? 250, pollInterval: 50 },
  });
  for (const event of ["add", "addDir", "change"] as const) {
    watcher.on(event, (file: string) => {
      if (isCandidate(file)) take(file);
    });
  }
  watcher.on("error", (err) => log.error({ err: (err as Error).message }, "inbox watcher error"));
  const ready = new Promise<void>((resolve) =>
    watcher.once("ready", () => {
      sweep();
      resolve();
    }),
  );
  return {
    close: async () => {
      await watcher.close();
      await chain;
    },
    ready,
  };
}
