import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { execa, type ResultPromise } from "execa";
import { type Cluster, makeCluster } from "@/test-support/cluster";
import { findPostgresBin, freePort } from "@/test-support/postgres";
import { ADMIN } from "../playwright.config";

// Two web hosts behind a load balancer (issue 21): `hyperion start --no-worker` twice, each with
// a data folder of its own, one PostgreSQL database, one NEXTAUTH_SECRET, and a worker host
// (test-support/cluster.ts, on loopback: Chromium runs in this machine's namespace). A
// round-robin proxy stands for the load balancer, so consecutive requests of one sign-in go to
// different hosts. Then a live page on host A shows, without a reload, a request filed through
// host B's form, and /queue on either host shows the worker host.

const missing = findPostgresBin() === null;
const SECRET = "e2e-two-web-hosts-session-key-0123456789";

let cluster: Cluster;
let proxy: http.Server;
let origin = "";
const web: { name: string; port: number; child: ResultPromise; log: string }[] = [];

/** Forwards each request to the next host in turn (SSE streams included: bodies are piped). */
function roundRobin(ports: number[]): http.Server {
  let next = 0;
  return http.createServer((req, res) => {
    const port = ports[next++ % ports.length] as number;
    const upstream = http.request(
      { host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
}

// Each web host is fresh: the first request for each page loads its code on that host, seconds on
// a busy 2-core machine (CI runs Vitest beside Playwright). Waiting for what the page shows, with
// room for that first load; no step here depends on how fast it is.
const firstRender = expect.configure({ timeout: 30_000 });

test.describe("two web hosts behind a load balancer", () => {
  test.skip(missing, "PostgreSQL's server binaries are not installed (bash bin/system-deps.sh)");
  test.use({ storageState: { cookies: [], origins: [] } });

  test.beforeAll(async () => {
    test.setTimeout(240_000);
    cluster = await makeCluster({ workers: 1, threads: 1, mode: "loopback" });
    await cluster.start("w1");
    const ports = [await freePort(), await freePort()];
    proxy = roundRobin(ports);
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    // Each web host's config names the remote's own repository (it lives on db's disk).
    const config = fs.readFileSync(
      path.join(cluster.workers[0]?.dataDir ?? "", "hyperion.config.json"),
      "utf8",
    );
    const parsed = JSON.parse(config);
    for (const repo of parsed.repositories) repo.path = cluster.barePath;
    for (const [i, name] of ["web-a", "web-b"].entries()) {
      const dataDir = path.join(path.dirname(cluster.barePath), "..", name);
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(path.join(dataDir, "hyperion.config.json"), JSON.stringify(parsed));
      const log = path.join(dataDir, "web.log");
      const port = ports[i] as number;
      const child = execa("node", ["bin/hyperion.mjs", "start", "--no-worker", "--no-build"], {
        env: cluster.cleanEnv({
          HYPERION_DATA: dataDir,
          HYPERION_DATABASE_URL: cluster.databaseUrl,
          HYPERION_HOST: name,
          HYPERION_ADMIN_PASSWORD: ADMIN.password,
          NEXTAUTH_SECRET: SECRET,
          NEXTAUTH_URL: origin,
          HOST: "127.0.0.1",
          PORT: String(port),
        }),
        extendEnv: false,
        reject: false,
        stdout: { file: log },
        stderr: { file: log },
        forceKillAfterDelay: 30_000,
      });
      web.push({ name, port, child, log });
      // One after the other: the first makes the admin and records the session key.
      await expect
        .poll(
          async () => {
            if (child.exitCode !== null) throw new Error(fs.readFileSync(log, "utf8"));
            return fetch(`http://127.0.0.1:${port}/signin`)
              .then((r) => r.status)
              .catch(() => 0);
          },
          { timeout: 120_000 },
        )
        .toBe(200);
    }
  });

  test.afterEach(async ({ page: _page }, info) => {
    if (info.status === info.expectedStatus) return;
    for (const w of web)
      console.log(`--- ${w.name} ---\n${fs.readFileSync(w.log, "utf8").slice(-6000)}`);
  });

  test.afterAll(async () => {
    for (const w of web) {
      w.child.kill("SIGTERM");
      const r = await w.child;
      expect(r.exitCode, fs.readFileSync(w.log, "utf8")).toBe(0);
    }
    await new Promise((r) => proxy?.close(r));
    await cluster?.stop();
  });

  test("a sign-in through both hosts, a request filed on one seen live on the other, the worker host on /queue", async ({
    page,
    context,
  }) => {
    test.setTimeout(120_000);
    const [a, b] = web as [(typeof web)[0], (typeof web)[0]];
    // Through the balancer: the form's page, its CSRF token and its post go to either host.
    await page.goto(`${origin}/history`);
    await firstRender(page).toHaveURL(/\/signin/);
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await firstRender(page.getByRole("heading", { name: "Task history" })).toBeVisible();

    // The session cookie (for 127.0.0.1, any port) is good on each host by itself.
    const onA = page;
    await onA.goto(`http://127.0.0.1:${a.port}/history`);
    await firstRender(onA.getByTestId("live-state")).toHaveText("● live");
    const onB = await context.newPage();
    await onB.goto(`http://127.0.0.1:${b.port}/requests/new`);
    const title = "Filed on web-b, seen on web-a";
    await onB.getByLabel("Title").fill(title);
    await onB.getByLabel("Description").fill("Two web hosts share one database.");
    await onB.getByRole("button", { name: "File request" }).click();
    await firstRender(onB.getByRole("status").filter({ hasText: "filed" })).toContainText("filed");
    await firstRender(onA.getByTestId("history-row").filter({ hasText: title })).toBeVisible();

    // The worker host, with its heartbeat, on /queue whichever host serves it.
    for (const w of [a, b]) {
      await onB.goto(`http://127.0.0.1:${w.port}/queue`);
      await firstRender(onB.getByRole("region", { name: "Hosts" })).toContainText("w1");
    }
  });
});
