/**
 * One id space per kind, the same on every page, in the CLI and in `hyperion trace`:
 * requests `R12`, tasks `R12.1` (a task's id is already `<request>.<n>`), queue entries `Q7`,
 * change requests `C5`, runs `run 3`, commits as 12-character shas.
 */
export const requestRef = (id: number | string) => `R${id}`;
export const taskRef = (id: string) => `R${id}`;
export const entryRef = (id: number | string) => `Q${id}`;
export const changeRef = (id: number | string) => `C${id}`;
export const runRef = (id: number | string) => `run ${id}`;
export const shortSha = (sha: string) => sha.slice(0, 12);

/** A task id's request: `12.3` → 12; an ad-hoc task (no dot) has none. */
export function taskRequestId(taskId: string): number | undefined {
  const m = /^(\d+)\.\d+$/.exec(taskId);
  return m ? Number(m[1]) : undefined;
}

/** The page of a commit on the repository's web host, when its config names one. */
export function commitUrl(webUrl: string | undefined, sha: string): string | undefined {
  if (!webUrl) return undefined;
  return `${webUrl.replace(/\/+$/, "")}/commit/${sha}`;
}
