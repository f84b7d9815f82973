import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import Database from "better-sqlite3";
import { execa } from "execa";

test.describe("npm start", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("starts the web server and the worker on a fresh data directory, restarts a worker that dies, and SIGTERM stops both", async ({
    request,
  }) => {
    test.setTimeout(60_000);
    const data = fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-start-"));
    const port = 3155;
    const child = execa("node", ["bin/hyperion.mjs", "start", "--no-build"], {
      env: { HYPERION_DATA: data, PORT: String(port) },
      reject: false,
      // execa would SIGKILL 5 s after our SIGTERM; a loaded machine may need longer to stop.
      forceKillAfterDelay: 30_000,
    });
    const url = `http://127.0.0.1:${port}`;
    // What `npm start` prints: localhost, as NEXTAUTH_URL defaults to.
    const printed = `http://localhost:${port}`;
    await expect
      .poll(async () => (await request.get(`${url}/signin`).catch(() => null))?.status(), {
        timeout: 30_000,
      })
      .toBe(200);
    const db = new Database(path.join(data, "hyperion.db"), { readonly: true });
    const supervisorPids = () =>
      db
        .prepare("SELECT pid FROM worker_heartbeats WHERE role = 'supervisor' ORDER BY started_at")
        .pluck()
        .all() as number[];
    await expect.poll(supervisorPids, { timeout: 10_000 }).toHaveLength(1);

    // A worker that dies is restarted; the web server keeps serving meanwhile.
    const firstPid = supervisorPids()[0] as number;
    process.kill(firstPid, "SIGKILL");
    await expect
      .poll(() => supervisorPids().filter((pid) => pid !== firstPid), { timeout: 20_000 })
      .toHaveLength(1);
    const secondPid = supervisorPids().find((pid) => pid !== firstPid);
    expect((await request.get(`${url}/signin`)).status()).toBe(200);

    child.kill("SIGTERM");
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/password: \S{16,}/);
    expect(result.stdout).toContain(`sign in at ${printed}/signin`);
    expect(result.stderr).toContain("worker was killed by SIGKILL; restarting in 1 s");
    expect(fs.existsSync(path.join(data, "repos", "demo", ".git"))).toBe(true);
    const stopped = db
      .prepare("SELECT stopped_at FROM worker_heartbeats WHERE role = 'supervisor' AND pid = ?")
      .pluck()
      .get(secondPid);
    expect(stopped).toEqual(expect.any(Number));
    await expect(request.get(`${url}/signin`)).rejects.toThrow();
    db.close();
    fs.rmSync(data, { recursive: true, force: true });
  });
});
