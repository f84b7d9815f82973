import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import type { LoadedConfig } from "@/server/config/load";
import { kindOf, parseJson, readRegularFile } from "@/server/config/regular-file";
import type { Db } from "@/server/db/client";
import { inboxFiles } from "@/server/db/schema";
import { currentEnv } from "@/server/env.mjs";
import { ConflictError, NotFoundError, ValidationError } from "@/server/errors";
import { fileIntake, type Intake, readIntake } from "@/server/requests/intake";
import { firstAdmin, requireUserByEmail } from "@/server/users/service";
import { placeAside, writeErrorFile } from "./aside";
import { issueLines, shownName } from "./report";

export type IngestResult = {
  file: string;
  /** `skipped`: left where it is — hidden, gone, or still changing (taken when it settles). */
  outcome: "processed" | "duplicate" | "rejected" | "skipped";
  requestIds: number[];
  error?: string;
};

export type IngestOptions = {
  /** Who the requests are filed as; the first admin when unset. */
  requesterEmail?: string;
  /** The largest file taken; HYPERION_MAX_BODY_BYTES when unset. */
  maxBytes?: number;
  /** Runs between opening the file and reading it; tests use it to change the file meanwhile. */
  afterOpen?: () => void;
};

const ONLY_REGULAR = "the inbox takes only regular files";

/**
 * Takes one `*.json` entry directly in the inbox. Only a regular file with a single link is
 * read — never what a symbolic link points at, never a FIFO or a device (opened non-blocking,
 * checked on the descriptor), never more than `maxBytes`. Its TaskRequest(s) are filed through
 * the same intake as everywhere else and the file moves to processed/. Anything refused moves
 * to rejected/ as it is (a link is moved, not its target) with an `.error.txt` beside it that
 * names the problem and the fields, never the contents. A file its target branch lacks is
 * refused unless the request says `allowNewFiles: true`, as through the API. The content hash is recorded in the
 * same transaction as the requests, so a file seen again is never filed twice.
 */
export async function ingestFile(
  db: Db,
  config: LoadedConfig,
  inbox: string,
  file: string,
  opts: IngestOptions = {},
): Promise<IngestResult> {
  const name = path.basename(file);
  const skipped = (error: string): IngestResult => ({
    file: name,
    outcome: "skipped",
    requestIds: [],
    error: `${shownName(name)} ${error}`,
  });
  const reject = (lines: string[]): IngestResult => {
    const text = lines.join("\n");
    writeErrorFile(placeAside(inbox, "rejected", file), text);
    return { file: name, outcome: "rejected", requestIds: [], error: text };
  };
  const refuse = (problem: string) => reject([`${shownName(name)} ${problem}`]);

  if (path.resolve(path.dirname(file)) !== path.resolve(inbox))
    return skipped("is not directly in the inbox");
  if (name.startsWith(".")) return skipped("is hidden; hidden files are left alone");
  if (!name.endsWith(".json")) return skipped("is not a .json file");
  const entry = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
  if (!entry) return skipped("is gone");
  if (/\p{Cc}/u.test(name)) return refuse("has control characters in its name; rename it");
  if (!entry.isFile()) {
    return refuse(`is ${kindOf(entry)}; ${ONLY_REGULAR}`);
  }
  if (entry.nlink > 1n) {
    return refuse(`has ${entry.nlink} hard links; ${ONLY_REGULAR} with a single link`);
  }

  const read = readRegularFile(file, {
    maxBytes: opts.maxBytes ?? currentEnv().HYPERION_MAX_BODY_BYTES,
    noFollow: true,
    afterOpen: opts.afterOpen,
  });
  if (!read.ok) {
    if (read.refusal === "missing") return skipped("is gone");
    if (read.refusal === "changed")
      return skipped("changed while being read; taken when it settles");
    if (read.refusal === "not-regular") return refuse(`${read.problem}; ${ONLY_REGULAR}`);
    return refuse(read.problem);
  }
  const json = parseJson(read.bytes);
  // Git is asked which files named the target branch lacks before the checks below, so that
  // nothing waits between them and the filing.
  const intake = json.ok ? await readIntake(config, "inbox", json.value) : null;
  // The name must still hold the file that was read, or the move below would take another one.
  const now = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
  if (!now || now.ino !== read.stat.ino || now.dev !== read.stat.dev)
    return skipped("was replaced while being read; taken when it settles");

  const hash = createHash("sha256").update(read.bytes).digest("hex");
  const [seen] = await db.select().from(inboxFiles).where(eq(inboxFiles.hash, hash)).limit(1);
  if (seen) {
    placeAside(inbox, "processed", file);
    return { file: name, outcome: "duplicate", requestIds: seen.requestIds };
  }
  if (!json.ok) return refuse(json.problem);
  if (!intake) return refuse("the file was not read");
  const filed = await fileRequests(db, config, { name, hash, intake }, opts);
  if ("issues" in filed)
    return reject([`${shownName(name)} was not filed:`, ...issueLines(filed.issues, json.value)]);
  placeAside(inbox, "processed", file);
  return { file: name, outcome: "processed", requestIds: filed.ids };
}

/**
 * Files a read file's TaskRequest(s) as its requester, and records its hash, in one
 * transaction. The issues instead when the intake refuses the input; anything else (the
 * database, say) is thrown, and leaves the file in place for another try.
 */
async function fileRequests(
  db: Db,
  config: LoadedConfig,
  read: { name: string; hash: string; intake: Intake },
  opts: IngestOptions,
): Promise<{ ids: number[] } | { issues: { path: string; message: string }[] }> {
  try {
    const requester = opts.requesterEmail
      ? await requireUserByEmail(db, opts.requesterEmail)
      : await firstAdmin(db);
    if (!requester)
      throw new ValidationError([
        { path: "(inbox)", message: "no user to file as; add one with 'hyperion user add'" },
      ]);
    const ids = await db.transaction(async (tx) => {
      const created = (await fileIntake(tx, config, read.intake, requester)).map((r) => r.id);
      await tx
        .insert(inboxFiles)
        .values({ hash: read.hash, name: read.name, requestIds: created, at: Date.now() });
      return created;
    });
    return { ids };
  } catch (err) {
    // Input the intake refuses is rejected; anything else (the database, say) leaves the file
    // in place for another try.
    const issues =
      err instanceof ValidationError
        ? err.issues
        : err instanceof NotFoundError || err instanceof ConflictError
          ? [{ path: "(inbox)", message: err.message }]
          : undefined;
    if (!issues) throw err;
    return { issues };
  }
}
