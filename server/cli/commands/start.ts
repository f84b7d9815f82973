import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { execa, type ResultPromise } from "execa";
import { bootstrap, DatabaseError } from "@/server/bootstrap";
import { ConfigError, type LoadedConfig } from "@/server/config/load";
import { overlappingAreas } from "@/server/engineer/areas";
import { listRepoFiles } from "@/server/engineer/repo-files";
import { authSecret } from "@/server/runtime";
import { cliEnv } from "../context";
import { CliError } from "../io";

const root = () => process.env.HYPERION_ROOT ?? process.cwd();
const nextBin = () => path.join(root(), "node_modules", "next", "dist", "bin", "next");
// Records each request's socket address for sign-in throttling; see the file.
const clientAddressHook = () => path.join(root(), "server", "auth", "client-address-hook.mjs");

/** The address to print: `localhost` when the server is on loopback or on every interface. */
function browseHost(host: string): string {
  if (["127.0.0.1", "::1", "localhost", "0.0.0.0", "::"].includes(host)) return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * `hyperion start` (what `npm start` runs): prepares the data directory, builds the web app
 * when no build exists, then runs the production web server and the worker together. Ctrl-C or
 * SIGTERM stops both; if either dies, the other is stopped too and the exit code says so.
 */
export async function startCommand(opts: { build?: boolean }) {
  const env = cliEnv();
  let report: Awaited<ReturnType<typeof bootstrap>>;
  try {
    report = await bootstrap(env);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof DatabaseError) {
      throw new CliError(err.message, 2);
    }
    throw new CliError(`Cannot prepare ${env.dataDir}: ${(err as Error).message}`, 2);
  }
  report.db.$client.close();
  const url = env.NEXTAUTH_URL ?? `http://${browseHost(env.HOST)}:${env.PORT}`;
  if (report.createdDemo)
    console.log(`Created the demo repository under ${env.dataDir}/repos/demo`);
  if (report.admin) {
    console.log(`Created admin ${report.admin.email}`);
    if (report.admin.generated) {
      console.log(`  password: ${report.admin.password}   (shown once; keep it)`);
    } else console.log("  password: the value of HYPERION_ADMIN_PASSWORD");
  }

  await reportPolicyOverlaps(report.config);

  const buildId = path.join(root(), ".next", "BUILD_ID");
  if (opts.build !== false && !fs.existsSync(buildId)) {
    console.log("No production build yet: building the web app (a minute or two)…");
    const build = await execa("node", [nextBin(), "build"], {
      cwd: root(),
      stdio: "inherit",
      reject: false,
    });
    if (build.exitCode !== 0) throw new CliError("The build failed; see the output above.", 1);
  }

  // Secrets go only where they are used: the web server signs sessions; the worker, which
  // starts checks and agents, never holds the session key or the first admin's password.
  const { NEXTAUTH_SECRET: _key, HYPERION_ADMIN_PASSWORD: _password, ...inherited } = process.env;
  const workerEnv = {
    ...inherited,
    HYPERION_DATA: env.dataDir,
    HYPERION_CONFIG: env.configPath,
    NODE_ENV: "production",
  };
  const childEnv = { ...workerEnv, NEXTAUTH_URL: url, NEXTAUTH_SECRET: authSecret(env) };
  const web = execa(
    "node",
    [
      "--import",
      pathToFileURL(clientAddressHook()).href,
      nextBin(),
      "start",
      "--hostname",
      env.HOST,
      "--port",
      String(env.PORT),
    ],
    {
      cwd: root(),
      env: childEnv,
      extendEnv: false,
      stdio: "inherit",
      reject: false,
    },
  );
  const worker = execa("node", [path.join(root(), "bin", "hyperion.mjs"), "worker"], {
    cwd: root(),
    env: workerEnv,
    extendEnv: false,
    stdio: "inherit",
    reject: false,
  });
  console.log(`Hyperion is starting at ${url} — sign in at ${url}/signin`);
  await supervise({ web, worker });
}

/** Overlapping area globs are allowed (the first listed area wins) but worth a look. */
async function reportPolicyOverlaps(config: LoadedConfig): Promise<void> {
  for (const repo of config.repositories) {
    if (!repo.policy?.areas.length) continue;
    const files = await listRepoFiles(repo.path, repo.targetBranch).catch(() => []);
    for (const o of overlappingAreas(
      repo.policy,
      files.map((f) => f.path),
    )) {
      console.log(
        `policy of '${repo.name}': areas '${o.first}' and '${o.second}' overlap (e.g. ${o.example}); '${o.first}' wins, being listed first`,
      );
    }
  }
}

async function supervise(children: Record<string, ResultPromise>): Promise<never> {
  let stopping = false;
  let requested = false;
  const stopAll = () => {
    for (const child of Object.values(children)) if (child.exitCode === null) child.kill("SIGTERM");
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    requested = true;
    console.log(`\n${signal}: stopping the web server and the worker…`);
    stopAll();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const first = await Promise.race(
    Object.entries(children).map(async ([name, child]) => ({ name, result: await child })),
  );
  if (!stopping) {
    stopping = true;
    console.error(`The ${first.name} exited (code ${first.result.exitCode}); stopping the rest.`);
    stopAll();
  }
  const timeout = setTimeout(() => {
    for (const child of Object.values(children)) child.kill("SIGKILL");
  }, 10_000);
  await Promise.all(Object.values(children));
  clearTimeout(timeout);
  // Stopped on request: success. A child that died on its own: failure, whatever its code.
  process.exit(requested ? 0 : 1);
}
