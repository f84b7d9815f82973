import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { inboxFiles } from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import { createRequests } from "@/server/requests/service";
import { firstAdmin, requireUserByEmail } from "@/server/users/service";

export type IngestResult = {
  file: string;
  outcome: "processed" | "duplicate" | "rejected";
  requestIds: number[];
  error?: string;
};

function moveInto(dir: string, file: string): string {
  fs.mkdirSync(dir, { recursive: true });
  let target = path.join(dir, path.basename(file));
  if (fs.existsSync(target)) target = path.join(dir, `${Date.now()}-${path.basename(file)}`);
  fs.renameSync(file, target);
  return target;
}

/**
 * Takes one `*.json` file from the inbox: its TaskRequest(s) are filed through the same intake
 * as everywhere else and the file moves to processed/; invalid input moves to rejected/ with an
 * `.error.txt` beside it. The content hash is recorded in the same transaction as the requests,
 * so a file seen again (a crash before the move, a copy dropped twice) is never filed twice.
 */
export function ingestFile(
  db: Db,
  config: LoadedConfig,
  inbox: string,
  file: string,
  requesterEmail?: string,
): IngestResult {
  const name = path.basename(file);
  const text = fs.readFileSync(file);
  const hash = createHash("sha256").update(text).digest("hex");
  const seen = db.select().from(inboxFiles).where(eq(inboxFiles.hash, hash)).get();
  if (seen) {
    moveInto(path.join(inbox, "processed"), file);
    return { file: name, outcome: "duplicate", requestIds: seen.requestIds };
  }
  try {
    let input: unknown;
    try {
      input = JSON.parse(text.toString("utf8"));
    } catch (err) {
      throw new ValidationError([
        { path: "(file)", message: `malformed JSON: ${(err as Error).message}` },
      ]);
    }
    const requester = requesterEmail ? requireUserByEmail(db, requesterEmail) : firstAdmin(db);
    if (!requester)
      throw new ValidationError([
        { path: "(inbox)", message: "no user to file as; add one with 'hyperion user add'" },
      ]);
    const ids = db.transaction((tx) => {
      const created = createRequests(db, { input, requester, config, source: "inbox" }).map(
        (r) => r.id,
      );
      tx.insert(inboxFiles).values({ hash, name, requestIds: created, at: Date.now() }).run();
      return created;
    });
    moveInto(path.join(inbox, "processed"), file);
    return { file: name, outcome: "processed", requestIds: ids };
  } catch (err) {
    const message =
      err instanceof ValidationError
        ? err.issues.map((i) => `${i.path}: ${i.message}`).join("\n")
        : (err as Error).message;
    const moved = moveInto(path.join(inbox, "rejected"), file);
    fs.writeFileSync(`${moved}.error.txt`, `${message}\n`);
    return { file: name, outcome: "rejected", requestIds: [], error: message };
  }
}
