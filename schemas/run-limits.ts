import { z } from "zod";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/**
 * What one confined run (an agent session, a check) may use, from the repository's policy
 * (`runLimits`). Processes count threads, as the kernel does.
 */
export const RunLimits = z.strictObject({
  processes: z.number().int().min(16).max(100_000).default(1024),
  memoryBytes: z
    .number()
    .int()
    .min(64 * MiB)
    .max(1024 * GiB)
    .default(4 * GiB),
  cpuSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(2 * 3600),
  /** The run's folder: its workspace, home and temp folder together. */
  diskBytes: z
    .number()
    .int()
    .min(16 * MiB)
    .max(10_000 * GiB)
    .default(4 * GiB),
  /** The private /tmp (a tmpfs, so it also counts as memory). */
  tmpBytes: z
    .number()
    .int()
    .min(MiB)
    .max(64 * GiB)
    .default(512 * MiB),
});
export type RunLimits = z.output<typeof RunLimits>;
export const DEFAULT_RUN_LIMITS: RunLimits = RunLimits.parse({});
