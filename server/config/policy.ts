import { Policy, QueuePipeline } from "@/schemas/policy";
import type { LoadedConfig } from "./load";

/** A repository without a policy is one area holding every file. */
export const DEFAULT_POLICY = Policy.parse({
  areas: [{ name: "repo", paths: ["**"], risk: "medium", lockScope: "files" }],
});

/** The policy of a repository: its own, or the default one. */
export function policyFor(config: LoadedConfig, repo: string): Policy {
  return config.repositories.find((r) => r.name === repo)?.policy ?? DEFAULT_POLICY;
}

/**
 * The speculative pipeline a repository's entries land through, or none (one at a time): the
 * policy's `queue.pipeline`, or for a remote repository a default one. A push to a git server
 * costs tens of milliseconds where a local compare-and-swap costs microseconds; a lane pushes the
 * passing prefix of a round, several changes, in one push.
 */
export function pipelineFor(config: LoadedConfig, repo: string): QueuePipeline | undefined {
  const found = config.repositories.find((r) => r.name === repo);
  // A pull request per change: the forge merges them, one at a time.
  if (found?.land === "pull-request") return undefined;
  const set = policyFor(config, repo).queue?.pipeline;
  if (set) return set;
  return found?.remote ? REMOTE_PIPELINE : undefined;
}

const REMOTE_PIPELINE: QueuePipeline = QueuePipeline.parse({ window: 32, batch: { max: 32 } });
