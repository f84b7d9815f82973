// Every page of the app, in each state worth looking at, as data: the accessibility scan
// (e2e/a11y.spec.ts) and the screenshots (e2e/screenshots.spec.ts) walk the same list, so a new
// page is one more line here. The states that need data share a few requests made once per
// run (memoised below); the list is in the order the tests run, so the "empty" states come
// before anything is filed.
import { type Browser, type BrowserContext, expect, type Page } from "@playwright/test";
import { ADMIN_STATE } from "../../playwright.config";
import { fileWithCli, hyperion, signInViaApi } from "../helpers";
import { silentWorker } from "./alerts";
import { Gate } from "./gate";

export const PASSWORD = "e2e-user-password";

export const VIEWPORTS = {
  desktop: { width: 1440, height: 900 },
  phone: { width: 390, height: 844 },
} as const;
export type ViewportName = keyof typeof VIEWPORTS;

/** The gated repository's check answers "fail" here, so a request can end failed. */
export const gate = new Gate();

type Who = "signed-out" | "admin" | "requester";

export type PageState = {
  /** A file-name-safe name: docs/screenshots/<name>-desktop.png. */
  name: string;
  as: Who;
  /** The address, once the data it needs exists. */
  path: (browser: Browser) => Promise<string> | string;
  /** Waits until the page shows what the state is about (test ids, not time). */
  ready: (page: Page) => Promise<void>;
};

const once = <T>(make: (browser: Browser) => Promise<T>) => {
  let made: Promise<T> | undefined;
  return (browser: Browser) => {
    made ??= make(browser);
    return made;
  };
};

let n = 0;
const unique = () => `${Date.now()}-${++n}`;

async function adminPage<T>(browser: Browser, use: (page: Page) => Promise<T>) {
  const context = await browser.newContext({ storageState: ADMIN_STATE });
  try {
    return await use(await context.newPage());
  } finally {
    await context.close();
  }
}

async function waitForStatus(page: Page, id: number, status: RegExp | string, timeout = 60_000) {
  await page.goto(`/requests/${id}`);
  await expect(page.getByTestId("request-status")).toHaveText(status, { timeout });
}

/** A docs request in the demo repository, merged: the request, its queue entry and a run. */
export const doneRequest = once(async (browser) => {
  const file = `docs/a11y-${unique()}.md`;
  const id = await fileWithCli({
    title: "Document the loyalty discount",
    description: `Add ${file} with a short note on the loyalty discount.`,
    repo: "demo",
    files: [file],
  });
  return adminPage(browser, async (page) => {
    await waitForStatus(page, id, "Done");
    const entry = page.getByTestId("task-change").locator('a[href^="/queue/"]').first();
    const entryId = Number(/\/queue\/(\d+)/.exec((await entry.getAttribute("href")) ?? "")?.[1]);
    return { id, entryId };
  });
});

/**
 * An alert that fired and cleared (e2e/support/alerts.ts): a worker host not seen for an hour,
 * then gone. Its webhook's receiver is not listening now, so its delivery waits to be retried.
 */
export const clearedAlert = once(async (browser) => {
  return adminPage(browser, async (page) => {
    await page.goto("/alerts");
    // The page follows alerts live before the worker goes silent.
    await expect(page.getByTestId("alerts-link")).toHaveAttribute("data-live", "yes");
    const worker = silentWorker(`worker-a11y-${unique()}`);
    const alert = page.getByTestId("alert").filter({ hasText: "lost-host" }).first();
    try {
      await expect(alert).toContainText("Open", { timeout: 30_000 });
    } finally {
      worker.remove();
    }
    await expect(alert).toContainText("Cleared", { timeout: 30_000 });
  });
});

/** A run of the gated repository's command agent (the demo's built-in developer makes none). */
export const agentRun = once(async (browser) => {
  const id = await fileWithCli({
    title: "Add a release note",
    description: "Add a line to the release notes.",
    repo: "gated",
    files: [`notes/a11y-${unique()}.md`],
  });
  return adminPage(browser, async (page) => {
    await waitForStatus(page, id, "Done");
    const run = page.getByTestId("request-runs").locator('a[href^="/runs/"]').first();
    return Number(/\/runs\/(\d+)/.exec((await run.getAttribute("href")) ?? "")?.[1]);
  });
});

/** A request too vague to plan: the Engineer asks a question. */
export const questionRequest = once(async (browser) => {
  const id = await fileWithCli({
    title: "Make it better",
    description: "Improve things.",
    repo: "demo",
  });
  await adminPage(browser, (page) => waitForStatus(page, id, "Question for you", 20_000));
  return id;
});

/** A request in the gated repository whose check fails: the page offers its recovery. */
export const failedRequest = once(async (browser) => {
  gate.set("fail");
  const id = await fileWithCli({
    title: "Touch the app",
    description: "Touch src/a11y.js.",
    repo: "gated",
    files: [`src/a11y-${unique()}.js`],
  });
  await adminPage(browser, (page) => waitForStatus(page, id, "Failed", 40_000));
  return id;
});

export const requester = once(async () => {
  const email = `ana-${unique()}@example.test`;
  const res = await hyperion(["user", "add", email, "--role", "requester"]);
  expect(res.exitCode, res.stderr).toBe(0);
  return email;
});

/** A feature in the `qa-web` repository, its checks passed, waiting for manual QA. */
export const waitingQa = once(async (browser) => {
  const title = "Show the cart's item count";
  const id = await fileWithCli({
    title,
    description: "Change src/cart/cart.js.",
    repo: "qa-web",
    kind: "feature",
    files: ["src/cart/cart.js"],
  });
  await adminPage(browser, async (page) => {
    await page.goto(`/qa?request=R${id}`);
    await expect(page.getByTestId(`qa-item-R${id}`)).toBeVisible({ timeout: 60_000 });
  });
  return id;
});

/** A high-risk change in the `reviewed` repository, waiting for a reviewer (the admin). */
export const waitingApproval = once(async (browser) => {
  const title = "Cap the loyalty discount at 20%";
  await fileWithCli(
    {
      title,
      description: "Change src/pricing/pricing.js.",
      repo: "reviewed",
      files: ["src/pricing/pricing.js"],
    },
    await requester(browser),
  );
  await adminPage(browser, async (page) => {
    await page.goto("/approvals");
    await expect(page.getByTestId("approval-entry").filter({ hasText: title })).toBeVisible({
      timeout: 60_000,
    });
  });
  waiting = title;
  return title;
});
let waiting: string | undefined;

/**
 * Closes the waiting change once the scans are done: the pricing area locks as a whole, so a
 * change left waiting there would hold back every later spec's pricing task.
 */
export async function releaseWaitingApproval() {
  if (!waiting) return;
  const list = await hyperion(["approvals", "--json"]);
  expect(list.exitCode, list.stderr).toBe(0);
  const rows = JSON.parse(list.stdout) as { entryId: number; request: { title: string } | null }[];
  for (const row of rows.filter((r) => r.request?.title === waiting)) {
    const res = await hyperion([
      "reject",
      String(row.entryId),
      "--reason",
      "Only here for the accessibility scans.",
      "--close",
    ]);
    expect(res.exitCode, res.stderr).toBe(0);
  }
  waiting = undefined;
}

const heading = (page: Page) => expect(page.locator("h1").first()).toBeVisible();
const testId = (id: string) => async (page: Page) => {
  await expect(page.getByTestId(id).first()).toBeVisible({ timeout: 15_000 });
};
async function openDialog(page: Page, button: RegExp | string) {
  await page.getByRole("button", { name: button }).first().click();
  await expect(page.getByRole("dialog").or(page.getByRole("alertdialog"))).toBeVisible();
}

export const PAGES: PageState[] = [
  {
    name: "signin",
    as: "signed-out",
    path: () => "/signin",
    ready: (page) => expect(page.getByRole("button", { name: "Sign in" })).toBeVisible(),
  },
  {
    name: "signin-error",
    as: "signed-out",
    path: () => "/signin?error=CredentialsSignin",
    ready: (page) => expect(page.getByRole("alert").filter({ hasText: /\w/ })).toBeVisible(),
  },
  { name: "history-empty", as: "admin", path: () => "/history", ready: heading },
  { name: "approvals-empty", as: "admin", path: () => "/approvals", ready: heading },
  { name: "qa-empty", as: "admin", path: () => "/qa", ready: heading },
  {
    name: "alerts",
    as: "admin",
    path: async (b) => {
      await clearedAlert(b);
      return "/alerts";
    },
    ready: testId("delivery"),
  },
  { name: "requests-new", as: "admin", path: () => "/requests/new", ready: heading },
  {
    name: "requests-new-errors",
    as: "admin",
    path: () => "/requests/new",
    ready: async (page) => {
      await page.getByRole("button", { name: "File request" }).click();
      await expect(page.locator('[data-testid^="error-"]').first()).toBeVisible();
    },
  },
  {
    name: "requests-new-file-dialog",
    as: "admin",
    path: () => "/requests/new",
    ready: async (page) => {
      await page.getByLabel("Title").fill("Document the returns policy");
      await page.getByLabel(/^Files/).fill("docs/returns.md");
      await page.getByRole("button", { name: "File request" }).click();
      await expect(page.getByTestId("new-files-dialog")).toBeVisible();
    },
  },
  {
    name: "request-done",
    as: "admin",
    path: async (b) => `/requests/${(await doneRequest(b)).id}`,
    ready: testId("task-row"),
  },
  {
    name: "request-question",
    as: "admin",
    path: async (b) => `/requests/${await questionRequest(b)}`,
    ready: testId("answer-form"),
  },
  {
    name: "request-cancel-dialog",
    as: "admin",
    path: async (b) => `/requests/${await questionRequest(b)}`,
    ready: async (page) => {
      await page.getByTestId("cancel-request").click();
      await expect(page.getByRole("alertdialog").or(page.getByRole("dialog"))).toBeVisible();
    },
  },
  {
    name: "request-failed",
    as: "admin",
    path: async (b) => `/requests/${await failedRequest(b)}`,
    ready: testId("request-recovery"),
  },
  {
    name: "request-rerun-dialog",
    as: "admin",
    path: async (b) => `/requests/${await failedRequest(b)}`,
    ready: (page) => openDialog(page, "Run it again…"),
  },
  {
    name: "request-failed-edit",
    as: "admin",
    path: async (b) => `/requests/${await failedRequest(b)}`,
    ready: async (page) => {
      await page.getByRole("button", { name: "Edit and plan again…" }).click();
      await expect(page.getByTestId("edit-form")).toBeVisible();
    },
  },
  {
    name: "request-close-dialog",
    as: "admin",
    path: async (b) => `/requests/${await failedRequest(b)}`,
    ready: (page) => openDialog(page, "Close with a reason…"),
  },
  { name: "history", as: "admin", path: () => "/history", ready: heading },
  {
    name: "board",
    as: "admin",
    path: async (b) => {
      await doneRequest(b);
      return "/board";
    },
    ready: testId("board-card"),
  },
  {
    name: "board-filter-problem",
    as: "admin",
    path: () => `/board?repo=${encodeURIComponent("<script>alert(1)</script>")}&mine=all`,
    ready: testId("board-no-match"),
  },
  { name: "notifications", as: "admin", path: () => "/notifications", ready: heading },
  { name: "queue", as: "admin", path: () => "/queue", ready: heading },
  // The `planned` repository's plan gate, shut by its WORKPLAN.md (e2e/prepare.ts).
  { name: "plans", as: "admin", path: () => "/plans", ready: testId("plan-planned") },
  // The workspace meta queue: its form, the overrides in force and whatever items exist by now.
  { name: "meta", as: "admin", path: () => "/meta", ready: testId("meta-in-force") },
  {
    name: "queue-entry",
    as: "admin",
    path: async (b) => `/queue/${(await doneRequest(b)).entryId}`,
    ready: testId("entry-timeline"),
  },
  {
    name: "queue-entry-rollback-dialog",
    as: "admin",
    path: async (b) => `/queue/${(await doneRequest(b)).entryId}`,
    ready: (page) => openDialog(page, "Roll back…"),
  },
  {
    name: "runs",
    as: "admin",
    path: async (b) => {
      await agentRun(b);
      return "/runs";
    },
    ready: testId("runs-table"),
  },
  {
    name: "run",
    as: "admin",
    path: async (b) => `/runs/${await agentRun(b)}`,
    ready: testId("run-state"),
  },
  {
    name: "qa",
    as: "admin",
    path: async (b) => `/qa?request=R${await waitingQa(b)}`,
    ready: testId("qa-detail"),
  },
  {
    name: "approvals",
    as: "admin",
    path: async (b) => {
      await waitingApproval(b);
      return "/approvals";
    },
    ready: testId("approval-entry"),
  },
  {
    name: "approvals-diff",
    as: "admin",
    path: async (b) => {
      await waitingApproval(b);
      return "/approvals";
    },
    ready: async (page) => {
      await page.getByRole("button", { name: "Open the full diff" }).first().click();
      await expect(page.getByTestId("diff-viewer").locator("table").first()).toBeVisible();
    },
  },
  {
    name: "approvals-approve-dialog",
    as: "admin",
    path: async (b) => {
      await waitingApproval(b);
      return "/approvals";
    },
    ready: async (page) => {
      await page.getByRole("button", { name: "Open the full diff" }).first().click();
      await expect(page.getByTestId("diff-viewer").locator("table").first()).toBeVisible();
      await openDialog(page, "Approve…");
    },
  },
  {
    name: "metrics",
    as: "admin",
    path: async (b) => {
      await doneRequest(b);
      await waitingApproval(b);
      await agentRun(b);
      return "/metrics?range=day";
    },
    ready: testId("chart-throughput"),
  },
  {
    name: "metrics-tables",
    as: "admin",
    path: async (b) => {
      await doneRequest(b);
      await waitingApproval(b);
      await agentRun(b);
      return "/metrics?range=week&repo=demo";
    },
    ready: async (page) => {
      for (const chart of ["throughput", "agents"]) {
        await page.getByTestId(`chart-${chart}`).getByText("Show the numbers as a table").click();
        await expect(page.getByTestId(`table-${chart}`)).toBeVisible();
      }
    },
  },
  { name: "admin-users", as: "admin", path: () => "/admin/users", ready: testId("person-row") },
  {
    name: "admin-users-dialog",
    as: "admin",
    path: () => "/admin/users",
    ready: (page) => openDialog(page, "Reset password"),
  },
  {
    name: "admin-users-role-dialog",
    as: "admin",
    path: () => "/admin/users",
    ready: async (page) => {
      // The admin's own select: the dialog opens on the change and nothing applies until confirmed.
      await page.getByLabel("Role of admin@hyperion.local").selectOption("reviewer");
      await expect(page.getByRole("dialog")).toBeVisible();
    },
  },
  {
    name: "admin-users-added",
    as: "admin",
    path: () => "/admin/users",
    ready: async (page) => {
      const form = page.getByRole("region", { name: "Add a person" });
      await form.getByLabel("Email").fill(`shot-${Date.now()}@example.test`);
      await form.getByLabel("Name (optional)").fill("Ada Lovelace");
      await form.getByRole("button", { name: "Add person" }).click();
      await expect(page.getByTestId("added-person")).toBeVisible();
    },
  },
  {
    name: "not-found",
    as: "admin",
    path: () => "/requests/999999",
    ready: testId("not-found"),
  },
  {
    name: "forbidden-queue",
    as: "requester",
    path: () => "/queue",
    ready: testId("forbidden"),
  },
  {
    name: "forbidden-admin-users",
    as: "requester",
    path: () => "/admin/users",
    ready: testId("forbidden"),
  },
];

/** A context at the viewport, signed in as the state says. */
export async function contextFor(browser: Browser, state: PageState, viewport: ViewportName) {
  const context: BrowserContext = await browser.newContext({
    viewport: VIEWPORTS[viewport],
    storageState: state.as === "admin" ? ADMIN_STATE : { cookies: [], origins: [] },
  });
  if (state.as === "requester")
    await signInViaApi(context.request, await requester(browser), PASSWORD);
  return context;
}

/** Opens the state's page in a fresh context and waits until it shows what it is about. */
export async function openState(browser: Browser, state: PageState, viewport: ViewportName) {
  const path = await state.path(browser);
  const context = await contextFor(browser, state, viewport);
  const page = await context.newPage();
  await page.goto(path);
  await state.ready(page);
  return { context, page };
}
