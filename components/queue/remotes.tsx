import { remoteFailureWords } from "@/schemas/labels";
import { Age } from "../age";
import type { Overview } from "./types";

type Remote = Overview["status"]["remotes"][number];

/**
 * The git servers of remote repositories: where each is, the tip last seen, when it was last
 * reached, and a failure in words with what to do. Shown only when a repository has a remote.
 */
export function Remotes({ remotes }: { remotes: Remote[] }) {
  if (remotes.length === 0) return null;
  return (
    <section aria-labelledby="remotes-heading" data-testid="remotes">
      <h2 id="remotes-heading" className="text-lg font-semibold">
        Remotes
      </h2>
      <ul className="mt-2 space-y-2 text-sm">
        {remotes.map((r) => {
          const seen = Math.max(r.fetchedAt ?? 0, r.pushedAt ?? 0);
          return (
            <li key={r.repo} data-testid={`remote-${r.repo}`}>
              <span className="font-medium">{r.repo}</span>{" "}
              <code className="break-all">{r.url}</code> — tip{" "}
              <code>{r.tip?.slice(0, 12) ?? "none yet"}</code>, last reached{" "}
              {seen ? <Age at={seen} /> : "never"}
              {r.failure && (
                <p role="status" className="text-red-700">
                  {remoteFailureWords[r.failure]}
                  {r.failedAt ? (
                    <>
                      {" "}
                      (<Age at={r.failedAt} />)
                    </>
                  ) : null}
                  : {r.failureMessage}.{" "}
                  {r.failure === "auth"
                    ? "Check the token or key the repository's credentials name."
                    : r.failure === "unreachable"
                      ? "Entries wait and land once it answers again."
                      : "Entries wait; fix the branch or its protection on the server."}
                </p>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
