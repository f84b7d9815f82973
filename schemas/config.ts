import { z } from "zod";
import { AgentsConfig } from "./agents";
import { branchName } from "./branch";
import { Policy } from "./policy";

export const RepositoryConfig = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 1-64 letters, digits, '.', '_' or '-'"),
  path: z.string().min(1, "is required"),
  targetBranch: branchName.default("main"),
  /** The repository's page on its web host; commits link to `<webUrl>/commit/<sha>`. */
  webUrl: z
    .url({
      protocol: /^https?$/,
      error: "must be an http(s) URL such as https://github.com/acme/shop",
    })
    .optional(),
  policy: Policy.optional(),
});

export const HyperionConfig = z
  .strictObject({
    repositories: z.array(RepositoryConfig).min(1, "must list at least one repository"),
    /** How this machine reaches each agent CLI (endpoint, model, the key's variable name). */
    agents: AgentsConfig.optional(),
  })
  .superRefine((value, ctx) => {
    const seen = new Set<string>();
    value.repositories.forEach((repo, i) => {
      if (seen.has(repo.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["repositories", i, "name"],
          message: `duplicate repository name '${repo.name}'`,
        });
      }
      seen.add(repo.name);
    });
  });

export type HyperionConfig = z.output<typeof HyperionConfig>;
export type RepositoryConfig = z.output<typeof RepositoryConfig>;
