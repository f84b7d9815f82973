/**
 * `npm run demo:hosts [-- --changes=12 --check-s=2 --web --port=3000 --loopback]`: Hyperion on several
 * hosts, on this one machine (test-support/cluster.ts). Host "db" runs PostgreSQL and a git
 * daemon serving the shared repository; hosts w1, w2 and w3 each run `hyperion worker` with a
 * data folder, a config and a mirror of their own, HYPERION_DATABASE_URL pointing at db and
 * HYPERION_HOST set to their name. As root each host is a network namespace on a private bridge;
 * otherwise (or with --loopback) all run on 127.0.0.1 with ports of their own (the first line
 * says which).
 *
 * It queues a few changes (a new file each, with a check that sleeps), shows them landing and on
 * which host, prints `hyperion status` with the three hosts, and keeps running until Ctrl-C,
 * which stops everything and removes what it made. Enter queues more changes. With --web it
 * also runs the web server (`hyperion start --no-worker`, after `npm run build`) on this
 * machine's own network, reaching PostgreSQL through the server's unix socket.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { sql } from "drizzle-orm";
import { wholeArg as arg, type Cluster, makeCluster } from "@/test-support/cluster";
import { findPostgresBin, POSTGRES_MISSING } from "@/test-support/postgres";

const ROOT = path.resolve(import.meta.dirname, "..");
const flag = (name: string) => process.argv.includes(`--${name}`);
const CHANGES = arg("changes", 12);
const CHECK_S = arg("check-s", 2);
const PORT = arg("port", 3000);
const WEB = flag("web");
const LOOPBACK = flag("loopback");

if (!findPostgresBin()) {
  console.error(`${POSTGRES_MISSING}.`);
  process.exit(1);
}
if (WEB && !fs.existsSync(path.join(ROOT, ".next", "BUILD_ID"))) {
  console.error("--web needs the production build of the web app: run `npm run build` first.");
  process.exit(1);
}

let cluster: Cluster | null = null;
let web: ChildProcess | null = null;
let stopping: Promise<void> | null = null;
const stop = (code: number) => {
  stopping ??= (async () => {
    console.log("\nstopping: the workers, the web server, PostgreSQL, the git daemon, the hosts…");
    if (web?.pid) {
      const gone = new Promise((r) => web?.once("exit", r));
      process.kill(-web.pid, "SIGTERM");
      await gone;
    }
    await cluster?.stop();
    console.log("stopped; nothing is left behind");
    process.exit(code);
  })();
  return stopping;
};
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

try {
  console.log("starting PostgreSQL and a git daemon on host db, and 3 worker hosts…");
  cluster = await makeCluster({
    workers: 3,
    checkSeconds: CHECK_S,
    window: 1,
    mode: LOOPBACK ? "loopback" : "auto",
  });
  const c = cluster;
  console.log(c.describe);
  console.log(`  the remote: ${c.remoteUrl} (on db's disk: ${c.barePath})`);
  console.log(`  the database, from the worker hosts: ${c.databaseUrl}`);
  console.log(`  the database, from this shell (unix socket): ${c.socketUrl}`);
  await Promise.all(c.workers.map((w) => c.start(w.name)));
  console.log(`workers started on ${c.workers.map((w) => w.name).join(", ")}`);

  if (WEB) {
    const dataDir = path.join(path.dirname(c.barePath), "..", "web");
    fs.mkdirSync(dataDir, { recursive: true });
    // The web host lives on db's disk: its config names the remote's own repository.
    const workerConfig = JSON.parse(
      fs.readFileSync(path.join(c.workers[0]?.dataDir ?? "", "hyperion.config.json"), "utf8"),
    );
    for (const repo of workerConfig.repositories) repo.path = c.barePath;
    fs.writeFileSync(
      path.join(dataDir, "hyperion.config.json"),
      `${JSON.stringify(workerConfig, null, 2)}\n`,
    );
    web = spawn(
      process.execPath,
      [path.join(ROOT, "bin", "hyperion.mjs"), "start", "--no-worker"],
      {
        cwd: ROOT,
        env: c.cleanEnv({
          HYPERION_DATA: dataDir,
          HYPERION_DATABASE_URL: c.socketUrl,
          HYPERION_HOST: "web",
          PORT: String(PORT),
        }),
        stdio: ["ignore", "inherit", "inherit"],
        detached: true,
      },
    );
  }

  const changes = await c.submit(CHANGES);
  console.log(
    `queued ${changes.length} changes (Q${changes[0]?.entryId}–Q${changes.at(-1)?.entryId}), each with a check of ${CHECK_S} s`,
  );
  let queued = changes.length;
  let shown = "";
  const report = async () => {
    const byHost = await c.rows<{ host: string; n: number }>(
      sql`SELECT h.host, count(*) AS n FROM change_queue_logs l
            JOIN worker_heartbeats h ON h.id = split_part(l.event::jsonb ->> 'worker', '/', 1)
           WHERE (l.event::jsonb ->> 'to') = 'merged' GROUP BY h.host ORDER BY h.host`,
    );
    const landed = byHost.reduce((n, r) => n + Number(r.n), 0);
    const line = `landed ${landed}/${queued}${byHost.length ? `: ${byHost.map((r) => `${r.host} ${r.n}`).join(", ")}` : ""}`;
    if (line !== shown) console.log(line);
    shown = line;
    return landed;
  };
  while ((await report()) < queued) await new Promise((r) => setTimeout(r, 500));

  console.log("\n$ hyperion status   (run on w1)\n");
  console.log(await c.status("w1"));
  console.log(
    [
      "Running until Ctrl-C.",
      "  Enter: queue 6 more changes.",
      `  From another shell: HYPERION_DATABASE_URL='${c.socketUrl}' node bin/hyperion.mjs status`,
      ...(c.mode === "netns"
        ? [
            `  On a host: ip netns exec ${c.hosts.namespace("w2")} <command> (the hosts: ${["db", ...c.workers.map((w) => w.name)].map((h) => `${h} ${c.hosts.address(h)}`).join(", ")})`,
          ]
        : []),
      ...(WEB ? [`  The web app: http://127.0.0.1:${PORT}/queue`] : []),
    ].join("\n"),
  );
  if (process.stdin.isTTY) {
    const rl = readline.createInterface({ input: process.stdin });
    rl.on("line", () => {
      void (async () => {
        const more = await c.submit(6, queued);
        queued += more.length;
        console.log(`queued ${more.length} more changes`);
      })();
    });
  }
  const watch = setInterval(() => {
    if (c.crashes.length) console.error(c.crashes.splice(0).join("\n"));
    void report().catch(() => undefined);
  }, 1000);
  watch.unref?.();
  await new Promise(() => {});
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  await stop(1);
}
