import { disableNextTelemetry, readEnv } from "./server/env.mjs";

// Fail the build or the start with a message that names the bad variable.
const env = readEnv();
disableNextTelemetry();

/** @type {import('next').NextConfig} */
const nextConfig = {
  serverExternalPackages: ["better-sqlite3", "bcryptjs", "pg", "prom-client"],
  poweredByHeader: false,
  // Server-Sent Events must not be buffered by gzip: live views stream through /api/trpc.
  compress: false,
  typedRoutes: false,
  // `npm test` has type-checked every file with tsc a moment before (bin/test.mjs); a build of
  // its own type-checks the app as usual.
  typescript: { ignoreBuildErrors: env.HYPERION_BUILD_TYPECHECKED === "1" },
};

export default nextConfig;
