import { disableNextTelemetry, readEnv } from "./server/env.mjs";

// Fail the build or the start with a message that names the bad variable.
readEnv();
disableNextTelemetry();

/** @type {import('next').NextConfig} */
const nextConfig = {
  serverExternalPackages: ["better-sqlite3", "bcryptjs", "pg", "prom-client"],
  poweredByHeader: false,
  // Server-Sent Events must not be buffered by gzip: live views stream through /api/trpc.
  compress: false,
  typedRoutes: false,
};

export default nextConfig;
