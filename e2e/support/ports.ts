// The end-to-end run's ports and folders, all from E2E_PORT (3100 unless set), so that two runs
// can go side by side on one machine (a spec tried by hand beside a whole run, say). Each run
// owns its web port, the helper servers' ports (at fixed offsets from it), its data folder, its
// signed-in state and its results and report folders; an E2E_*_PORT variable still overrides
// one port.
import path from "node:path";

export const E2E_PORT = Number(process.env.E2E_PORT ?? 3100);

/** The default run keeps the plain names; another run's names end with its port. */
const suffix = E2E_PORT === 3100 ? "" : `-${E2E_PORT}`;

const port = (variable: string | undefined, offset: number) =>
  Number(variable ?? E2E_PORT + offset);

export const ALERT_PORT = port(process.env.E2E_ALERT_PORT, 7);
export const GITHUB_PORT = port(process.env.E2E_GITHUB_PORT, 90);
export const MODEL_PORT = port(process.env.E2E_MODEL_PORT, 98);
export const GATE_PORT = port(process.env.E2E_GATE_PORT, 99);

export const E2E_DATA = path.resolve(`.tmp/e2e-data${suffix}`);
export const ADMIN_STATE = path.resolve(`.tmp/e2e-auth${suffix}/admin.json`);
export const RESULTS = `test-results${suffix}`;
export const REPORT = `playwright-report${suffix}`;
