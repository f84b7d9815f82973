import { isControl } from "@/schemas/paths";
import type { ObjectStore } from "@/server/git/objects";

export const COMMITTER = { name: "Hyperion", email: "hyperion@hyperion.local" };

/**
 * Control characters never reach a commit: a NUL ends git's reading of the message (`git
 * fsck` reports nulInCommit) and the others hide or rewrite what a terminal shows. Newlines
 * and tabs stay in the message; an identity is one line without '<' or '>', or git cannot
 * tell the name from the email.
 */
const dropControls = (text: string, keep: string) =>
  [...text].filter((c) => !isControl(c) || keep.includes(c)).join("");
const messageText = (text: string) => dropControls(text.replace(/\r\n?/g, "\n"), "\n\t");
const identityText = (text: string) =>
  dropControls(text, "").replace(/[<>]/g, "").replace(/\s+/g, " ").trim();

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
  const summary = messageText(args.summary).trim() || "(no summary)";
  const message = `${summary}\n\n${trailers.map(messageText).join("\n")}\n`;
  const name = identityText(args.author.name) || "unknown";
  const email = identityText(args.author.email).replace(/\s/g, "");
  const text = [
    `tree ${args.tree}`,
    ...args.parents.map((p) => `parent ${p}`),
    `author ${name} <${email}> ${stamp}`,
    `committer ${COMMITTER.name} <${COMMITTER.email}> ${stamp}`,
    "",
    message,
  ].join("\n");
  return store.write("commit", Buffer.from(text));
}

/**
 * The change request a commit landed, read back from the `Hyperion-Change-Request` trailer
 * written above; null when the message has none (a commit Hyperion did not land).
 */
export function changeRequestOfMessage(message: string): number | null {
  const id = /^Hyperion-Change-Request: (\d+)$/m.exec(message)?.[1];
  return id ? Number(id) : null;
}
