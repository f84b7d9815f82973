import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { githubClient } from "@/server/remotes/forge-client";
import { githubOf, repoFor } from "./config";
import { fileIssue, type GithubIssue } from "./issues";

// The seed's board-native flow: an issue whose Projects v2 item is moved to the configured
// status (github.projectStatus) becomes a request, as a labelled one does. The webhook
// (projects_v2_item, an organization's event) names only the item; its issue and its status are
// read through GitHub's GraphQL API, which is the only API that has them.

const ITEM = `query($id: ID!) {
  node(id: $id) {
    ... on ProjectV2Item {
      fieldValueByName(name: "Status") { ... on ProjectV2ItemFieldSingleSelectValue { name } }
      content {
        ... on Issue {
          number title body url state
          author { login }
          repository { nameWithOwner }
          labels(first: 100) { nodes { name } }
        }
      }
    }
  }
}`;

type ItemAnswer = {
  node: {
    fieldValueByName: { name?: string } | null;
    content: {
      number?: number;
      title?: string;
      body?: string;
      url?: string;
      state?: string;
      author?: { login?: string } | null;
      repository?: { nameWithOwner?: string };
      labels?: { nodes?: { name?: string }[] };
    } | null;
  } | null;
};

/** A project item moved: files its issue when it now sits in the configured status. */
export async function projectItemMoved(
  db: Db,
  config: LoadedConfig,
  item: { node_id?: string; content_type?: string },
): Promise<{ state: "handled" | "ignored"; note: string }> {
  const settings = githubOf(config);
  if (!settings?.projectStatus)
    return { state: "ignored", note: "github.projectStatus is not set" };
  if (item.content_type !== "Issue" || !item.node_id)
    return { state: "ignored", note: `a ${item.content_type ?? "?"} item, not an issue` };
  const answer = await githubClient(settings).graphql<ItemAnswer>(ITEM, { id: item.node_id });
  const status = answer.node?.fieldValueByName?.name;
  const content = answer.node?.content;
  if (status !== settings.projectStatus)
    return {
      state: "ignored",
      note: `the item is in '${status ?? "no status"}', not '${settings.projectStatus}'`,
    };
  const fullName = content?.repository?.nameWithOwner ?? "";
  if (!content?.number || !repoFor(config, fullName))
    return {
      state: "ignored",
      note: `no repository takes work from ${fullName || "(no repository)"}`,
    };
  const issue: GithubIssue = {
    number: content.number,
    title: content.title ?? "",
    body: content.body ?? "",
    html_url: content.url ?? "",
    state: content.state?.toLowerCase(),
    labels: (content.labels?.nodes ?? []).map((l) => ({ name: l.name ?? "" })),
    user: { login: content.author?.login ?? "" },
  };
  const r = await fileIssue(db, config, fullName, issue);
  return r.requestId
    ? {
        state: "handled",
        note: `${fullName}#${issue.number} is R${r.requestId} (moved to '${status}')`,
      }
    : { state: "handled", note: `${fullName}#${issue.number} refused: ${r.refusal}` };
}
