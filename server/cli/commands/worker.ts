import { CliError } from "../io";

/** `hyperion worker`: the merge-queue worker in this process, until it is stopped or drained. */
export async function workerCommand(opts: {
  threads: number;
  drain?: boolean;
  dryRun?: boolean;
}): Promise<void> {
  if (!Number.isInteger(opts.threads) || opts.threads < 1 || opts.threads > 32) {
    throw new CliError("--threads must be a whole number from 1 to 32", 2);
  }
  const { runWorkerProcess } = await import("@/workers/main");
  return runWorkerProcess({ threads: opts.threads, drain: !!opts.drain, dryRun: !!opts.dryRun });
}
