import { execFileSync } from "node:child_process";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { cliAgentNames } from "@/schemas/agents";
import { type ModelServer, startModelServer } from "@/test-support/model-server";
import { E2E_DATA } from "../playwright.config";
import { MODEL_PORT } from "./support/agents";

// Each real CLI (codex, Claude Code, Copilot, installed by bin/agent-clis.mjs) takes a request
// filed in the browser: the worker gives the task to it in a confined workspace, the scripted
// model server tells it to edit the file, and its change lands on main through the queue.

let server: ModelServer | null = null;
test.afterEach(async () => {
  await server?.close();
  server = null;
});

for (const agent of cliAgentNames) {
  test(`${agent}: a request from the browser lands the change the scripted model made`, async ({
    page,
  }) => {
    test.setTimeout(150_000);
    const line = `written by ${agent} as the model said`;
    server = await startModelServer(
      [{ shell: `printf '${line}\\n' >> agents/${agent}/note.md` }, { text: "Added the line." }],
      MODEL_PORT,
    );
    await page.goto("/requests/new");
    await page.getByLabel("Repository").selectOption("agents");
    await page.getByLabel("Title").fill(`A note by ${agent}`);
    await page.getByLabel("Description").fill(`Add a line to agents/${agent}/note.md.`);
    await page.getByLabel(/^Files/).fill(`agents/${agent}/note.md`);
    await page.getByRole("button", { name: "File request" }).click();
    await expect(page.getByTestId("request-title")).toContainText(`A note by ${agent}`);
    // Its end, whichever it is, then which: a failure is reported with its reason, not a timeout.
    const status = page.getByTestId("request-status");
    await expect(status).toHaveText(/^(Done|Failed)$/, { timeout: 120_000 });
    await expect(status, (await page.getByTestId("request-runs").textContent()) ?? "").toHaveText(
      "Done",
    );
    const runs = page.getByTestId("request-runs");
    await expect(runs).toContainText(agent);
    await runs.getByRole("link").first().click();
    await expect(page.getByTestId("run-state").first()).toHaveText(/submitted/i);
    await expect(page.getByTestId("run-change")).toContainText(/merged/i);

    const repo = path.join(E2E_DATA, "repos", "agents");
    const landed = execFileSync("git", ["show", `main:agents/${agent}/note.md`], {
      cwd: repo,
      encoding: "utf8",
    });
    expect(landed).toContain(line);
    expect(server.requests.some((r) => r.protocol)).toBe(true);
  });
}
