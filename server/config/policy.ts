import { Policy } from "@/schemas/policy";
import type { LoadedConfig } from "./load";

/** A repository without a policy is one area holding every file. */
export const DEFAULT_POLICY = Policy.parse({
  areas: [{ name: "repo", paths: ["**"], risk: "medium", lockScope: "files" }],
});

/** The policy of a repository: its own, or the default one. */
export function policyFor(config: LoadedConfig, repo: string): Policy {
  return config.repositories.find((r) => r.name === repo)?.policy ?? DEFAULT_POLICY;
}
