import type { ObjectStore } from "@/server/git/objects";

export const COMMITTER = { name: "Hyperion", email: "hyperion@hyperion.local" };

/** Writes the commit for a landed change, with the trailers that tie it to its change and task. */
export function writeChangeCommit(
  store: ObjectStore,
  args: {
    tree: string;
    parents: string[];
    author: { name: string; email: string };
    summary: string;
    changeRequestId: number;
    taskId: string;
    extraTrailers?: string[];
  },
  now = Date.now(),
): string {
  const stamp = `${Math.floor(now / 1000)} +0000`;
  const trailers = [
    `Hyperion-Change-Request: ${args.changeRequestId}`,
    `Hyperion-Task: ${args.taskId}`,
    ...(args.extraTrailers ?? []),
  ];
  const message = `${args.summary.trim()}\n\n${trailers.join("\n")}\n`;
  const text = [
    `tree ${args.tree}`,
    ...args.parents.map((p) => `parent ${p}`),
    `author ${args.author.name} <${args.author.email}> ${stamp}`,
    `committer ${COMMITTER.name} <${COMMITTER.email}> ${stamp}`,
    "",
    message,
  ].join("\n");
  return store.write("commit", Buffer.from(text));
}
