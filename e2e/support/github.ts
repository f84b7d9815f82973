// The end-to-end run's GitHub: a fake GitHub (test-support/fake-github.ts) on a fixed loopback
// port, started by e2e/serve.mjs before Hyperion, with the token and webhook secret Hyperion is
// given in its environment. The `hub` repository (e2e/prepare.ts) takes its issues.
import { GITHUB_PORT } from "./ports";

export { GITHUB_PORT };
export const GITHUB_TOKEN = "ghp_e2e0123456789abcdefghij";
export const GITHUB_SECRET = "e2e-webhook-secret-0123456789";
export const GITHUB_REPO = "acme/hub";
