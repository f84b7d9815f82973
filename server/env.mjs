// Environment, validated once at start. Plain JS so that next.config.mjs can import it.
import path from "node:path";
import { z } from "zod";

const schema = z.object({
  HYPERION_DATA: z.string().min(1).default("./data"),
  HYPERION_CONFIG: z.string().min(1).optional(),
  HYPERION_INBOX: z.string().min(1).optional(),
  HYPERION_ADMIN_EMAIL: z
    .email()
    .max(254, "must be at most 254 characters")
    .default("admin@hyperion.local"),
  HYPERION_ADMIN_PASSWORD: z
    .string()
    .min(8, "must be at least 8 characters")
    .max(1024, "must be at most 1024 characters")
    .optional(),
  HYPERION_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024),
  HYPERION_LOG: z.enum(["0", "1"]).default("0"),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  // The interface the web server listens on: loopback unless the operator opens it up.
  HOST: z
    .union([z.ipv4(), z.ipv6(), z.hostname()], "must be an IP address or a host name")
    .default("127.0.0.1"),
  // "1" only behind a reverse proxy that every request passes through: sign-in throttling
  // then takes the client's address from the last X-Forwarded-For entry.
  HYPERION_TRUST_PROXY: z.enum(["0", "1"]).default("0"),
  NEXTAUTH_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  NEXTAUTH_URL: z.url().optional(),
});

/** @typedef {z.infer<typeof schema> & { dataDir: string; configPath: string }} HyperionEnv */

/**
 * @param {Record<string, string | undefined>} [source]
 * @returns {HyperionEnv}
 */
export function readEnv(source = process.env) {
  const picked = Object.fromEntries(
    Object.keys(schema.shape).map((key) => [key, source[key] === "" ? undefined : source[key]]),
  );
  const result = schema.safeParse(picked);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join("\n")}`);
  }
  // Runtime paths chosen by the operator: keep the bundler from tracing them.
  const dataDir = path.resolve(/*turbopackIgnore: true*/ result.data.HYPERION_DATA);
  const configPath = path.resolve(
    /*turbopackIgnore: true*/ result.data.HYPERION_CONFIG ??
      path.join(dataDir, "hyperion.config.json"),
  );
  return { ...result.data, dataDir, configPath };
}
