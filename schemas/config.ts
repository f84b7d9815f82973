import { z } from "zod";
import { AgentsConfig } from "./agents";
import { AlertRules } from "./alerts";
import { branchName } from "./branch";
import { GithubConfig, GithubRepoName } from "./github";
import { localPath } from "./paths";
import { Policy } from "./policy";
import { RemoteCredentials, RemoteUrl } from "./remote";

export const RepositoryConfig = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 1-64 letters, digits, '.', '_' or '-'"),
  /**
   * The repository on this disk. With `remote`, where Hyperion keeps its bare mirror (by default
   * mirrors/<name>.git next to the config).
   */
  path: localPath.optional(),
  /** A git server's URL: Hyperion fetches from it and lands by pushing to it (docs/remotes.md). */
  remote: RemoteUrl.optional(),
  credentials: RemoteCredentials.optional(),
  /**
   * How a change lands on a remote: "push" moves the branch (the default); "pull-request" pushes
   * a branch per change and opens a pull request, which the forge merges (protected branches).
   */
  land: z.enum(["push", "pull-request"], { error: 'must be "push" or "pull-request"' }).optional(),
  /** The GitHub repository whose labelled issues become requests here (docs/github.md). */
  github: GithubRepoName.optional(),
  /** How often the mirror is fetched when nothing else says the branch moved (default 60). */
  fetchIntervalSeconds: z
    .number()
    .int("must be a whole number of seconds")
    .min(5, "must be at least 5")
    .max(86_400, "must be at most 86400 (a day)")
    .optional(),
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

/**
 * An S3-compatible bucket the audit log's segments are uploaded to (docs/storage.md). The
 * credentials are never here: they come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
 */
export const ShippingS3Config = z.strictObject({
  /** The S3 API's address: https://s3.eu-west-1.amazonaws.com, http://minio.internal:9000 … */
  endpoint: z
    .url({
      protocol: /^https?$/,
      error: "must be an http(s) URL such as https://s3.eu-west-1.amazonaws.com",
    })
    .refine(
      (u) => !/^[a-z]+:\/\/[^/]*@/i.test(u),
      "must not carry credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead",
    ),
  bucket: z
    .string({ error: "is required: the name of the bucket segments are uploaded to" })
    .regex(
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      "must be a bucket name: 3-63 lowercase letters, digits, '.' or '-'",
    ),
  /** Put before each segment's name, e.g. "hyperion/audit/" (nothing by default). */
  prefix: z
    .string()
    .max(512, "must be at most 512 characters")
    .regex(
      /^(?!\/)[A-Za-z0-9!_.*'()/-]*$/,
      "must be letters, digits, '/', '!', '-', '_', '.', '*', \"'\", '(' or ')', not starting with '/'",
    )
    .optional(),
  region: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/, "must be a region name such as us-east-1")
    .default("us-east-1"),
  /** Bucket in the path (http://host/bucket/key), as most S3-compatible servers want. */
  forcePathStyle: z.boolean({ error: "must be true or false" }).default(true),
});
export type ShippingS3Config = z.output<typeof ShippingS3Config>;

/**
 * Log shipping (docs/storage.md): the worker copies the audit log (change_queue_logs and
 * events) as NDJSON segments into `folder`, to the `s3` bucket, or both, every
 * `intervalSeconds`.
 */
export const ShippingConfig = z
  .strictObject({
    /** Where segments are written; relative to the config's folder. Made if absent. */
    folder: localPath.optional(),
    /** An S3-compatible bucket segments are uploaded to. */
    s3: ShippingS3Config.optional(),
    intervalSeconds: z
      .number()
      .int("must be a whole number of seconds")
      .min(1, "must be at least 1")
      .max(86_400, "must be at most 86400 (a day)")
      .default(60),
  })
  .superRefine((value, ctx) => {
    if (!value.folder && !value.s3)
      ctx.addIssue({
        code: "custom",
        path: ["folder"],
        message: "is required (or name s3: a bucket to upload the segments to; or both)",
      });
  });
export type ShippingConfig = z.output<typeof ShippingConfig>;

export const HyperionConfig = z
  .strictObject({
    repositories: z.array(RepositoryConfig).min(1, "must list at least one repository"),
    /** How this machine reaches each agent CLI (endpoint, model, the key's variable name). */
    agents: AgentsConfig.optional(),
    /** Taking work from GitHub issues: the API, the token, the webhook secret, the label. */
    github: GithubConfig.optional(),
    /** Alert rules: what the worker watches for and the webhooks it tells (docs/alerts.md). */
    alerts: AlertRules.optional(),
    /** Continuous shipping of the audit log to a folder or a bucket (docs/storage.md). */
    shipping: ShippingConfig.optional(),
  })
  .superRefine((value, ctx) => {
    const seen = new Set<string>();
    value.repositories.forEach((repo, i) => {
      if (!repo.path && !repo.remote)
        ctx.addIssue({
          code: "custom",
          path: ["repositories", i, "path"],
          message: "is required (or name a remote: the git server Hyperion lands onto)",
        });
      if (repo.land === "pull-request" && !(repo.remote && repo.github))
        ctx.addIssue({
          code: "custom",
          path: ["repositories", i, "land"],
          message:
            '"pull-request" needs the repository\'s remote and its github (owner/name) to open pull requests on',
        });
      if (repo.credentials && !repo.remote)
        ctx.addIssue({
          code: "custom",
          path: ["repositories", i, "credentials"],
          message: "are only for a remote: name its URL in remote",
        });
      if (seen.has(repo.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["repositories", i, "name"],
          message: `duplicate repository name '${repo.name}'`,
        });
      }
      seen.add(repo.name);
    });
    value.alerts?.forEach((rule, i) => {
      if (!("repositories" in rule)) return;
      rule.repositories?.forEach((name, j) => {
        if (!seen.has(name))
          ctx.addIssue({
            code: "custom",
            path: ["alerts", i, "repositories", j],
            message: `'${name}' is not a repository of this config (one of: ${[...seen].join(", ")})`,
          });
      });
    });
  });

export type HyperionConfig = z.output<typeof HyperionConfig>;
export type RepositoryConfig = z.output<typeof RepositoryConfig>;
/** A repository once its config is loaded: its path (the mirror, for a remote) resolved. */
export type LoadedRepository = Omit<RepositoryConfig, "path"> & { path: string };
