import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { execa, type Result, type ResultPromise } from "execa";
import { agreeOnSessionKey, SessionKeyMismatch } from "@/server/auth/session-key";
import { bootstrap, DatabaseError } from "@/server/bootstrap";
import { ConfigError, currentConfig, type LoadedConfig } from "@/server/config/load";
import { closeDb, dbTarget, openDb } from "@/server/db/client";
import { databaseProblem, SchemaVersionError, watchSchema } from "@/server/db/version";
import { inheritedEnv } from "@/server/env.mjs";
import { overlappingAreas } from "@/server/planning/areas";
import { listRepoFiles } from "@/server/planning/repo-files";
import { startFetcher } from "@/server/remotes/sync";
import { authSecret } from "@/server/runtime";
import { hostName } from "@/server/workers/heartbeat";
import { cliEnv } from "../context";
import { CliError } from "../io";

const root = () => cliEnv().rootDir;
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
 * SIGTERM stops both; a worker that dies is restarted (see `supervise`); if the web server dies,
 * the worker is stopped too and the exit code says so.
 */
export async function startCommand(opts: {
  build?: boolean;
  worker?: boolean;
  replaceSessionKey?: boolean;
}) {
  const env = cliEnv();
  const report = await prepareData(env, { replaceSessionKey: !!opts.replaceSessionKey });
  const url = env.NEXTAUTH_URL ?? `http://${browseHost(env.HOST)}:${env.PORT}`;
  await reportPolicyOverlaps(report.config);
  if (opts.build !== false) await buildIfMissing();

  // Secrets go only where they are used: the web server signs sessions; the worker, which
  // starts checks and agents, never holds the session key or the first admin's password.
  const {
    NEXTAUTH_SECRET: _key,
    HYPERION_ADMIN_PASSWORD: _password,
    ...inherited
  } = inheritedEnv();
  const workerEnv = {
    ...inherited,
    HYPERION_DATA: env.dataDir,
    HYPERION_CONFIG: env.configPath,
    NODE_ENV: "production",
  };
  // The bucket's credentials (log shipping, docs/storage.md) are the worker's alone.
  const {
    AWS_ACCESS_KEY_ID: _keyId,
    AWS_SECRET_ACCESS_KEY: _secretKey,
    AWS_SESSION_TOKEN: _sessionToken,
    ...webInherited
  } = workerEnv as NodeJS.ProcessEnv;
  const childEnv = { ...webInherited, NEXTAUTH_URL: url, NEXTAUTH_SECRET: authSecret(env) };
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
  const startWorker = () =>
    execa("node", [path.join(root(), "bin", "hyperion.mjs"), "worker"], {
      cwd: root(),
      env: workerEnv,
      extendEnv: false,
      stdio: "inherit",
      reject: false,
    });
  console.log(`Hyperion is starting at ${url} — sign in at ${url}/signin`);
  if (opts.worker === false) {
    // A web host of several (docs/deploy.md): the workers run on hosts of their own. Its pages
    // read the repositories' mirrors in its own data folder (files a request names, diffs,
    // rollbacks), so it keeps them fetched as a worker does.
    const db = openDb(dbTarget(env), { name: "hyperion-web-fetcher", connections: 2 });
    const fetcher = startFetcher(db, () => currentConfig(env.configPath));
    let stopping = false;
    const stop = () => {
      stopping = true;
      web.kill("SIGTERM");
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    // A host of a newer version migrating the database (a rolling upgrade) stops this one, as
    // it would be refused at start: its pages would go on against a schema it does not know.
    let newer: string | null = null;
    const schema = watchSchema(db, (message) => {
      newer = message;
      web.kill("SIGTERM");
    });
    const result = await web;
    schema.stop();
    await fetcher.stop();
    await closeDb(db);
    if (newer) throw new CliError(databaseProblem(dbTarget(env), new SchemaVersionError(newer)), 2);
    // Stopped as asked (Next exits 143 on SIGTERM), or ended cleanly: not a failure.
    if (stopping || result.exitCode === 0) process.exit(0);
    throw new CliError(`The web server ${howItEnded(result)}.`, 1);
  }
  await supervise(web, startWorker);
}

/**
 * The data directory prepared (bootstrap): what it created is said (the demo repository, the
 * first admin and how to find the password); a config or database that stops it exits 2.
 */
async function prepareData(
  env: Awaited<ReturnType<typeof cliEnv>>,
  opts: { replaceSessionKey: boolean },
): Promise<Awaited<ReturnType<typeof bootstrap>>> {
  let report: Awaited<ReturnType<typeof bootstrap>>;
  try {
    report = await bootstrap(env);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof DatabaseError) {
      throw new CliError(err.message, 2);
    }
    throw new CliError(`Cannot prepare ${env.dataDir}: ${(err as Error).message}`, 2);
  }
  try {
    const agreed = await agreeOnSessionKey(report.db, authSecret(env), hostName(), {
      replace: opts.replaceSessionKey,
    });
    if (agreed === "replaced") console.log("Recorded this host's session key as the one to use.");
  } catch (err) {
    if (err instanceof SessionKeyMismatch) throw new CliError(err.message, 2);
    throw err;
  } finally {
    await closeDb(report.db);
  }
  if (report.createdDemo)
    console.log(`Created the demo repository under ${env.dataDir}/repos/demo`);
  if (report.admin) {
    console.log(`Created admin ${report.admin.email}`);
    if (report.admin.generated) {
      console.log(`  password: ${report.admin.password}   (shown once; keep it)`);
    } else console.log("  password: the value of HYPERION_ADMIN_PASSWORD");
  }
  return report;
}

/** Builds the web app when no production build exists yet. */
async function buildIfMissing(): Promise<void> {
  const buildId = path.join(root(), ".next", "BUILD_ID");
  if (fs.existsSync(buildId)) return;
  console.log("No production build yet: building the web app (a minute or two)…");
  const build = await execa("node", [nextBin(), "build"], {
    cwd: root(),
    stdio: "inherit",
    reject: false,
  });
  if (build.exitCode !== 0) throw new CliError("The build failed; see the output above.", 1);
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

/** Restart delays for a worker that died: 1 s doubling to 30 s, back to 1 s after a 60 s run. */
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
const RESTART_RESET_AFTER_MS = 60_000;

/** "exited with code 1", "was killed by SIGKILL". */
function howItEnded(result: Result): string {
  return result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
}

/**
 * Runs until stopped. A worker that exits on its own is restarted after a backoff, and the web
 * server keeps serving meanwhile; a web server that exits stops the worker and exits 1.
 * SIGINT/SIGTERM stop both and exit 0.
 */
async function supervise(web: ResultPromise, startWorker: () => ResultPromise): Promise<never> {
  let worker = startWorker();
  let requested = false;
  let wakeOnStop = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    wakeOnStop = resolve;
  });
  const running = (child: ResultPromise) => child.exitCode === null && child.signalCode === null;
  const stopAll = () => {
    for (const child of [web, worker]) if (running(child)) child.kill("SIGTERM");
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (requested) return;
    requested = true;
    console.log(`\n${signal}: stopping the web server and the worker…`);
    wakeOnStop();
    stopAll();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const webEnded = web.then((result) => ({ who: "web" as const, result }));
  const webDied = (result: Result) => {
    console.error(`The web server ${howItEnded(result)}; stopping the worker.`);
    stopAll();
  };
  let delay = RESTART_MIN_MS;
  for (;;) {
    const startedAt = Date.now();
    const ended = await Promise.race([
      webEnded,
      worker.then((result) => ({ who: "worker" as const, result })),
    ]);
    if (requested) break;
    if (ended.who === "web") {
      webDied(ended.result);
      break;
    }
    if (Date.now() - startedAt >= RESTART_RESET_AFTER_MS) delay = RESTART_MIN_MS;
    console.error(`worker ${howItEnded(ended.result)}; restarting in ${delay / 1000} s`);
    const next = await Promise.race([
      sleep(delay).then(() => "restart" as const),
      stopRequested.then(() => "stop" as const),
      webEnded,
    ]);
    if (next === "stop") break;
    if (next !== "restart") {
      webDied(next.result);
      break;
    }
    delay = Math.min(delay * 2, RESTART_MAX_MS);
    worker = startWorker();
  }

  const timeout = setTimeout(() => {
    for (const child of [web, worker]) if (running(child)) child.kill("SIGKILL");
  }, 10_000);
  await Promise.all([web, worker]);
  clearTimeout(timeout);
  // Stopped on request: success. A web server that died on its own: failure, whatever its code.
  process.exit(requested ? 0 : 1);
}
