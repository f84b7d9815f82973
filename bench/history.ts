/**
 * `npm run bench:history`: how fast /history answers with 10 000 requests in the database,
 * against a baseline of the same page over an empty history, in one run on this machine.
 * Measures time to first byte (fetch, session cookie) and time until the table is drawn in
 * Chromium (navigation start → the first page's 50 rows in the DOM). Needs a production build
 * (`npm run build`).
 */

import { chromium } from "@playwright/test";
import { execa } from "execa";
import { HISTORY_PAGE_SIZE } from "@/schemas/history";
import { bootstrap } from "@/server/bootstrap";
import { closeDb } from "@/server/db/client";
import { readEnv } from "@/server/env.mjs";
import { createRequests } from "@/server/requests/service";
import { tempDir } from "@/test-support/fixtures";

const ROWS = Number(process.argv.find((a) => a.startsWith("--rows="))?.split("=")[1] ?? 10_000);
const RUNS = 15;
const PASSWORD = "bench-password-1";

async function serve(dataDir: string, port: number) {
  const child = execa("node", ["bin/hyperion.mjs", "start", "--no-build"], {
    env: { HYPERION_DATA: dataDir, PORT: String(port), HYPERION_ADMIN_PASSWORD: PASSWORD },
    reject: false,
  });
  for (let i = 0; i < 100; i++) {
    try {
      // Wrapped: returning the child (a promise) from here would wait for it to exit.
      if ((await fetch(`http://localhost:${port}/signin`)).ok) return { child };
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("server did not start");
}

async function sessionCookie(base: string): Promise<string> {
  const csrfRes = await fetch(`${base}/api/auth/csrf`);
  const jar = csrfRes.headers.getSetCookie().map((c) => c.split(";")[0]);
  const { csrfToken } = (await csrfRes.json()) as { csrfToken: string };
  const res = await fetch(`${base}/api/auth/callback/credentials`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.join("; ") },
    body: new URLSearchParams({
      csrfToken,
      email: "admin@hyperion.local",
      password: PASSWORD,
      json: "true",
    }),
  });
  return [...jar, ...res.headers.getSetCookie().map((c) => c.split(";")[0])].join("; ");
}

const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function measure(rows: number, port: number) {
  const dir = tempDir("hyperion-bench-");
  const env = readEnv({ HYPERION_DATA: dir, HYPERION_ADMIN_PASSWORD: PASSWORD });
  const world = await bootstrap(env);
  const requester = { id: 1, email: "admin@hyperion.local", role: "admin" as const };
  // Intake takes at most 100 requests per call.
  for (let done = 0; done < rows; done += 100) {
    const batch = Array.from({ length: Math.min(100, rows - done) }, (_, i) => ({
      title: `Request ${done + i}: tidy the cart module`,
      description: "x".repeat(200),
      repo: "demo",
      files: ["src/cart/cart.js"],
    }));
    await createRequests(world.db, {
      input: batch,
      requester,
      config: world.config,
      source: "cli",
    });
  }
  await closeDb(world.db);
  const { child: server } = await serve(dir, port);
  const base = `http://localhost:${port}`;
  try {
    const cookie = await sessionCookie(base);
    const ttfb: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) {
      const t0 = performance.now();
      const res = await fetch(`${base}/history`, { headers: { cookie } });
      const reader = res.body?.getReader();
      await reader?.read();
      const t = performance.now() - t0;
      await reader?.cancel();
      if (res.status !== 200) throw new Error(`/history answered ${res.status}`);
      if (i >= 2) ttfb.push(t);
    }
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox"],
    });
    const context = await browser.newContext();
    await context.addCookies(
      cookie.split("; ").map((c) => {
        const [name, ...v] = c.split("=");
        return { name: name ?? "", value: v.join("="), url: base };
      }),
    );
    const page = await context.newPage();
    const drawn: number[] = [];
    const expected = Math.min(rows, HISTORY_PAGE_SIZE);
    for (let i = 0; i < RUNS + 1; i++) {
      const t0 = performance.now();
      await page.goto(`${base}/history`);
      if (expected > 0)
        await page
          .locator('[data-testid="history-row"]')
          .nth(expected - 1)
          .waitFor();
      else await page.getByTestId("history-empty").waitFor();
      await page.getByTestId("live-state").getByText("● live").waitFor();
      if (i >= 1) drawn.push(performance.now() - t0);
    }
    await browser.close();
    return { ttfb: median(ttfb), drawn: median(drawn) };
  } finally {
    server.kill("SIGTERM");
    await server;
  }
}

const baseline = await measure(0, 3201);
const loaded = await measure(ROWS, 3202);
console.log("| history rows | TTFB median (ms) | table drawn median (ms) |");
console.log("| --- | --- | --- |");
console.log(`| 0 (baseline) | ${baseline.ttfb.toFixed(1)} | ${baseline.drawn.toFixed(1)} |`);
console.log(`| ${ROWS} | ${loaded.ttfb.toFixed(1)} | ${loaded.drawn.toFixed(1)} |`);
console.log(
  JSON.stringify({
    rows: ROWS,
    ttfb_ms: Number(loaded.ttfb.toFixed(1)),
    drawn_ms: Number(loaded.drawn.toFixed(1)),
    baseline_ttfb_ms: Number(baseline.ttfb.toFixed(1)),
    baseline_drawn_ms: Number(baseline.drawn.toFixed(1)),
    ttfb_ratio: Number((loaded.ttfb / baseline.ttfb).toFixed(2)),
    drawn_ratio: Number((loaded.drawn / baseline.drawn).toFixed(2)),
  }),
);
