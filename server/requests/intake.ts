import type { LoadedConfig } from "@/server/config/load";
import type { Db, DbLike } from "@/server/db/client";
import type { User } from "@/server/users/service";
import {
  createRequests,
  type NewFile,
  newFilesIn,
  type RequestSource,
  type RequestSummary,
} from "./service";

/**
 * The workspace supervisor's intake (the seed's "single intake point … routes each event to
 * exactly one repo queue"): every door — the browser, the CLI, the API, the inbox folder and
 * GitHub issues — hands its input here. It is normalised once (the TaskRequest contract, the
 * policy's areas and checks, dependencies, files the branch lacks) and each request it records
 * names exactly one configured repository, whose loops (dispatch/loops.ts, queue/repo-loop.ts)
 * alone take it from there.
 *
 * Two steps, because a door that records a row of its own (the inbox's file hash, GitHub's
 * issue) does so in the same transaction as the requests: `readIntake` asks git what it must,
 * before any transaction; `fileIntake` records, inside the door's transaction or alone.
 */
export type Door = RequestSource;

/** A door's input, read: what `fileIntake` records. */
export type Intake = {
  door: Door;
  input: unknown;
  /** Files the requests name that their target branch lacks (refused unless allowNewFiles). */
  newFiles: readonly NewFile[];
};

/** A request as recorded: the repository is the one loop that takes it. */
export type Routed = RequestSummary;

export async function readIntake(
  config: LoadedConfig,
  door: Door,
  input: unknown,
  /** GitHub issues describe work in words: a file they name may be one to create. */
  opts: { newFiles?: boolean } = {},
): Promise<Intake> {
  return {
    door,
    input,
    newFiles: opts.newFiles === false ? [] : await newFilesIn(config, input),
  };
}

/** Records an intake's requests with their events, all or nothing; each routed to its repository. */
export function fileIntake(
  db: DbLike,
  config: LoadedConfig,
  intake: Intake,
  requester: User,
): Promise<Routed[]> {
  return createRequests(db, {
    input: intake.input,
    requester,
    config,
    source: intake.door,
    newFiles: intake.newFiles,
  });
}

/** Both steps, for a door with no transaction of its own (the browser, the API). */
export async function fileRequests(
  db: Db,
  args: { input: unknown; requester: User; config: LoadedConfig; source: Door },
): Promise<Routed[]> {
  return fileIntake(
    db,
    args.config,
    await readIntake(args.config, args.source, args.input),
    args.requester,
  );
}
