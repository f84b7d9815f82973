// Environment, validated once at start. Plain JS so that next.config.mjs can import it.
// Every variable Hyperion reads is here, with its default and bounds, and this is the only
// module that reads process.env: the rest of the code takes the parsed result as a parameter
// or asks `currentEnv()`, and hands variables on to children through `inherited`.
import path from "node:path";
import { z } from "zod";

/** The longest delay setTimeout honours; longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
const GIB = 1024 * 1024 * 1024;
/** The largest user or group id (2^31 - 2; -1 means "unchanged" to the kernel). */
const MAX_ID = 2 ** 31 - 2;

/**
 * A value as it appears in a message: quoted, and cut short if long.
 * @param {string} raw
 */
const shown = (raw) => `'${raw.length > 40 ? `${raw.slice(0, 40)}…` : raw}'`;

/**
 * A whole number in decimal digits, within bounds: `30s`, `1e3`, `-1` and `12.5` are refused
 * with the variable's unit and an example, rather than turning into NaN or a surprise.
 * @param {{ unit: string; fallback: number; min: number; max: number }} spec
 */
const wholeNumber = ({ unit, fallback, min, max }) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return fallback;
      const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
      const message = !Number.isSafeInteger(n)
        ? `must be a whole number${unit ? ` of ${unit}` : ""}, e.g. ${fallback} (got ${shown(raw)})`
        : n < min || n > max
          ? `must be from ${min} to ${max}${unit ? ` ${unit}` : ""} (got ${shown(raw)})`
          : null;
      if (message === null) return n;
      ctx.addIssue({ code: "custom", message });
      return z.NEVER;
    });

/**
 * One of a few words; `values` as the operator would type them.
 * @template {readonly [string, ...string[]]} const T
 * @param {T} values
 * @param {string} [meaning]
 */
const oneOf = (values, meaning) =>
  z.enum(values, {
    error: (issue) =>
      `must be ${values.map((v) => `'${v}'`).join(" or ")}${meaning ? `, ${meaning}` : ""}${
        typeof issue.input === "string" ? ` (got ${shown(issue.input)})` : ""
      }`,
  });

/** @param {number} fallback @param {number} [min] */
const ms = (fallback, min = 1) =>
  wholeNumber({ unit: "milliseconds", fallback, min, max: MAX_TIMER_MS });
/** @param {number} fallback */
const bytes = (fallback) => wholeNumber({ unit: "bytes", fallback, min: 1, max: GIB });
/** @param {string} what */
const email = (what) =>
  z.email(`must be ${what}`).max(254, "must be at most 254 characters").optional();
const text = () => z.string().optional();

/** A postgres:// URL, checked for its shape here so a typo is named before anything connects. */
const databaseUrl = () =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === "") return undefined;
      let url;
      try {
        url = new URL(raw.trim());
      } catch {
        ctx.addIssue({
          code: "custom",
          message: "must be a URL like postgres://user:password@host:5432/hyperion",
        });
        return z.NEVER;
      }
      if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
        ctx.addIssue({
          code: "custom",
          message: `must start with postgres:// (got ${url.protocol}//); leave it unset for the SQLite file`,
        });
        return z.NEVER;
      }
      if (!url.hostname || url.pathname.replace(/^\//, "") === "") {
        ctx.addIssue({
          code: "custom",
          message: "must name a host and a database: postgres://user:password@host:5432/hyperion",
        });
        return z.NEVER;
      }
      return raw.trim();
    });

/**
 * An optional user or group id for the sandbox: a whole number from 1 (never root) to the
 * largest id Linux gives out.
 */
const hostId = () =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return undefined;
      const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
      if (n >= 1 && n <= MAX_ID) return n;
      ctx.addIssue({
        code: "custom",
        message: `must be a uid between 1 and ${MAX_ID} (got ${shown(raw)})`,
      });
      return z.NEVER;
    });

const schema = z.object({
  // Where things are.
  HYPERION_DATA: z.string().min(1).default("./data"),
  HYPERION_CONFIG: z.string().min(1).optional(),
  HYPERION_INBOX: z.string().min(1).optional(),
  /** Set by bin/hyperion.mjs: the checkout, for migrations and the web build. */
  HYPERION_ROOT: text(),
  /** Another migrations folder (tests). */
  HYPERION_MIGRATIONS: text(),
  /**
   * PostgreSQL instead of the SQLite file in the data folder (several hosts): a
   * postgres://user:password@host:port/database URL. Never shown: it may hold a password.
   */
  HYPERION_DATABASE_URL: databaseUrl(),
  /**
   * The name this host writes on what it holds (heartbeats, leases), shown by `hyperion status`
   * and /queue: the machine's host name unless set (hosts that share one, like containers).
   */
  HYPERION_HOST: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
      "must be a host name: letters, digits, '.', '_', '-' (at most 63)",
    )
    .optional(),

  // Users.
  HYPERION_ADMIN_EMAIL: z
    .email("must be an email address")
    .max(254, "must be at most 254 characters")
    .default("admin@hyperion.local"),
  HYPERION_ADMIN_PASSWORD: z
    .string()
    .min(8, "must be at least 8 characters")
    .max(1024, "must be at most 1024 characters")
    .optional(),
  /** `hyperion user add`: checked there, where the message names it with exit 1. */
  HYPERION_NEW_PASSWORD: text(),
  /** Who `hyperion request` files as. */
  HYPERION_USER: email("the email address of a user"),
  /** Who inbox requests are filed as. */
  HYPERION_INBOX_USER: email("the email address of a user"),

  // Limits and timing.
  HYPERION_MAX_BODY_BYTES: bytes(8 * 1024 * 1024),
  // The same as DEFAULT_MAX_PATCH_BYTES in schemas/change-request.ts (env.test.ts checks).
  HYPERION_MAX_PATCH_BYTES: bytes(5 * 1024 * 1024),
  HYPERION_LEASE_MS: ms(30_000, 100),
  /** How long a developer holds a claimed task before another worker may take it over. */
  HYPERION_TASK_LEASE_MS: ms(5 * 60_000, 100),
  HYPERION_MAX_ATTEMPTS: wholeNumber({ unit: "attempts", fallback: 5, min: 1, max: 1000 }),
  HYPERION_BACKOFF_MS: ms(1_000),
  HYPERION_BACKOFF_MAX_MS: ms(60_000),
  HYPERION_CHECK_TIMEOUT_MS: ms(10 * 60_000, 100),
  HYPERION_POLL_MS: ms(200),
  HYPERION_DISPATCH_MS: ms(300, 10),
  // A ref lock older than this was left by a killed writer (server/git/refs-fs.ts). Not under
  // a second: a live git process's lock must not be taken for a stale one.
  HYPERION_STALE_LOCK_MS: ms(60_000, 1_000),

  // Behaviour.
  HYPERION_APPLY: oneOf(["dry-run"], "or unset to move branches").optional(),
  HYPERION_LOG: oneOf(["0", "1"]).default("0"),
  // `npm test` (bin/test.mjs) type-checks the whole project with tsc just before it builds, so
  // its build skips Next's own type check of the app (next.config.mjs). Unset: the build checks.
  HYPERION_BUILD_TYPECHECKED: oneOf(["1"], "or unset").optional(),
  // OpenTelemetry's standard variable (server/trace.ts): where spans are sent over OTLP/HTTP
  // (`<url>/v1/traces`); unset, no exporter runs.
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL, like http://localhost:4318" })
    .optional(),
  // Read again at each use by server/confine/sandbox.ts (tests change them); checked here.
  HYPERION_CONFINE: oneOf(["none"], "or unset to confine with bubblewrap").optional(),
  // As root: the unprivileged user and group every check and agent runs as
  // (server/confine/identity.ts).
  HYPERION_SANDBOX_UID: hostId(),
  HYPERION_SANDBOX_GID: hostId(),
  // "rlimit": run limits by rlimits and a watcher even where cgroups would do
  // (server/confine/cgroups.ts).
  HYPERION_LIMITS: oneOf(["rlimit"], "or unset to use cgroups where the machine allows").optional(),
  // The cost of password hashes (server/users/passwords.ts): "minimal" is for test suites only,
  // which hash hundreds of passwords; such hashes are rehashed at the next sign-in under
  // "standard".
  HYPERION_PASSWORD_COST: oneOf(["standard", "minimal"], "'minimal' only for test suites").default(
    "standard",
  ),
  // The agent for tasks whose repository policy names none (server/agents/choose.ts).
  HYPERION_AGENT: oneOf(["builtin", "command", "codex", "claude", "copilot"]).optional(),
  // Where `node bin/agent-clis.mjs` installs the pinned agent CLIs.
  HYPERION_AGENT_CLIS_DIR: text(),
  // GitHub intake (docs/github.md): the default names of the token and the webhook secrets; the
  // config may name other variables (read through namedSecret below).
  HYPERION_GITHUB_TOKEN: text(),
  HYPERION_GITHUB_WEBHOOK_SECRET: text(),
  HYPERION_GITHUB_WEBHOOK_SECRET_PREVIOUS: text(),
  // Log shipping to an S3-compatible bucket (docs/storage.md): AWS's standard variables, the
  // only place the bucket's credentials come from (never the config). Never logged or shown.
  AWS_ACCESS_KEY_ID: text(),
  AWS_SECRET_ACCESS_KEY: text(),
  // Temporary credentials (an STS session) carry a token as well.
  AWS_SESSION_TOKEN: text(),
  HYPERION_BWRAP: z
    .string()
    .refine((p) => path.isAbsolute(p), "must be the absolute path of the bwrap program")
    .optional(),
  // "1" only behind a reverse proxy that every request passes through: sign-in throttling
  // then takes the client's address from the last X-Forwarded-For entry.
  HYPERION_TRUST_PROXY: oneOf(["0", "1"]).default("0"),

  // Set by Hyperion for the children it starts, or by scripts and tests: known, not read here.
  HYPERION_CHECK: text(),
  HYPERION_PROMPT_FILE: text(),
  HYPERION_TASK_ID: text(),
  HYPERION_TOKEN: text(),
  HYPERION_HISTORY_REPO: text(),
  HYPERION_HISTORY_COMMITS: text(),
  // "1": bin/hyperion.mjs runs the CLI's sources through tsx even when its bundle is fresh.
  HYPERION_CLI_SOURCES: text(),
  // "postgres": `npm run test:pg` runs the tests on a throwaway PostgreSQL cluster
  // (test-support/postgres.ts reads it; README, "Test it").
  HYPERION_TEST_ENGINE: text(),

  // The web server.
  PORT: wholeNumber({ unit: "", fallback: 3000, min: 1, max: 65535 }),
  // The interface the web server listens on: loopback unless the operator opens it up.
  HOST: z
    .union([z.ipv4(), z.ipv6(), z.hostname()], "must be an IP address or a host name")
    .default("127.0.0.1"),
  NEXTAUTH_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  NEXTAUTH_URL: z.url().optional(),
});

/** Every variable the schema knows. */
export const envNames = Object.freeze(Object.keys(schema.shape));

/**
 * The parsed environment, with the paths it names resolved: `dataDir`, `configPath`, and
 * `rootDir`, the checkout (HYPERION_ROOT, which bin/hyperion.mjs sets, else the working
 * directory) where the migrations, the web build and the workers' entry files are.
 * @typedef {z.infer<typeof schema> & { dataDir: string; configPath: string; rootDir: string }} HyperionEnv
 */

/** The environment is invalid; the message names each bad variable, one per line. */
export class EnvError extends Error {
  name = "EnvError";
}

/**
 * @param {Record<string, string | undefined>} [source]
 * @returns {HyperionEnv}
 */
export function readEnv(source = process.env) {
  const picked = Object.fromEntries(
    envNames.map((key) => [key, source[key] === "" ? undefined : source[key]]),
  );
  const result = schema.safeParse(picked);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new EnvError(`Invalid environment:\n${lines.join("\n")}`);
  }
  // Runtime paths chosen by the operator: keep the bundler from tracing them.
  const dataDir = path.resolve(/*turbopackIgnore: true*/ result.data.HYPERION_DATA);
  const configPath = path.resolve(
    /*turbopackIgnore: true*/ result.data.HYPERION_CONFIG ??
      path.join(dataDir, "hyperion.config.json"),
  );
  const rootDir = path.resolve(
    /*turbopackIgnore: true*/ result.data.HYPERION_ROOT ?? process.cwd(),
  );
  return { ...result.data, dataDir, configPath, rootDir };
}

/** @type {{ key: string; env: HyperionEnv } | undefined} */
let parsed;

/**
 * The process's environment, parsed by `readEnv`: once, and again only when a variable it knows
 * has changed since (tests change them between cases). The one accessor for code that is not
 * handed the parsed environment by its caller. Throws EnvError as readEnv does; every entry
 * point (the CLI, the worker, the web server) calls it at start, so a bad value stops the
 * process there, naming the variable.
 * @returns {HyperionEnv}
 */
export function currentEnv() {
  const key = envNames.map((name) => process.env[name] ?? "").join("\0");
  if (parsed?.key !== key) parsed = { key, env: readEnv(process.env) };
  return parsed.env;
}

/**
 * Variables Hyperion does not interpret but hands on: PATH, LANG, LC_ALL and TZ to a confined
 * child (server/confine/run.ts) and PATH to find a program; an agent's API key under the name
 * the config gives it (`apiKeyEnv`, server/agents/cli-harness.ts). HYPERION_* and NEXTAUTH_*
 * variables are not read this way: they are parsed above.
 * @param {string} name
 * @returns {string | undefined}
 */
export function inherited(name) {
  if (/^(HYPERION_|NEXTAUTH_)/.test(name))
    throw new Error(`${name} is Hyperion's own: read it from currentEnv()`);
  return process.env[name];
}

/**
 * A secret the config names by its variable (a git token, GitHub's token or webhook secret):
 * one of Hyperion's own variables, as parsed, or any other variable as it is. Never NEXTAUTH_*.
 * @param {string} name
 * @returns {string | undefined}
 */
export function namedSecret(name) {
  if (/^NEXTAUTH_/.test(name))
    throw new Error(`${name} is the web app's own; name another variable`);
  if (/^HYPERION_/.test(name)) {
    const value = /** @type {Record<string, unknown>} */ (currentEnv())[name];
    return typeof value === "string" ? value : undefined;
  }
  return process.env[name];
}

/**
 * A copy of the whole environment, for a child that inherits it (git checking a repository,
 * the web server and worker `hyperion start` runs): the caller removes what the child must not
 * see.
 * @returns {NodeJS.ProcessEnv}
 */
export function inheritedEnv() {
  return { ...process.env };
}

/**
 * HYPERION_* variables that Hyperion does not know, each with a warning naming it and, when
 * one is close, the variable probably meant: a typo in a name is not silent.
 * @param {Record<string, string | undefined>} [source]
 * @returns {string[]}
 */
export function unknownEnvWarnings(source = process.env) {
  return Object.keys(source)
    .filter((key) => key.startsWith("HYPERION_") && !envNames.includes(key))
    .sort()
    .map((key) => {
      // A slip of a character or two, in proportion to the name: not FOO for ROOT.
      const allowed = Math.max(1, Math.floor((key.length - "HYPERION_".length) / 4));
      const near = envNames
        .map((known) => ({ known, d: distance(key, known) }))
        .filter(({ d }) => d <= allowed)
        .sort((a, b) => a.d - b.d)[0]?.known;
      return `${key} is not a Hyperion variable, and is ignored${near ? ` (did you mean ${near}?)` : ""}`;
    });
}

/**
 * Edit distance, for the names above (short strings).
 * @param {string} a
 * @param {string} b
 */
function distance(a, b) {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/**
 * Next.js's anonymous telemetry is off for this project: `npm start`, `next build` and `next dev`
 * neither send it nor print its notice. Set here (the one module that touches process.env), from
 * next.config.mjs, before Next reads it; bin/hyperion.mjs sets it for its children too.
 */
export function disableNextTelemetry() {
  process.env.NEXT_TELEMETRY_DISABLED ??= "1";
}
