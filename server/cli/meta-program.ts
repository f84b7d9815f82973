import type { Command } from "commander";

type Lazy = <M extends Record<string, unknown>, K extends keyof M>(
  load: () => Promise<M>,
  name: K,
) => (...args: unknown[]) => Promise<void>;

/**
 * `hyperion meta …`: the workspace meta queue (docs/worker-factory.md). Every submitting command
 * takes --id (the source event id: the same id again does nothing again), --note and --as.
 */
export function addMetaCommands(program: Command, lazy: Lazy): void {
  const load = () => import("./commands/meta");
  const meta = program
    .command("meta")
    .description(
      "the workspace meta queue: cross-repository dependencies, priority and pause overrides, cancel, restart, steering",
    );
  meta
    .command("list", { isDefault: true })
    .description("its items, newest first, with their state and effect; the overrides in force")
    .option("--state <state>", "only items in this state: pending, applied or refused")
    .option("--json", "print as JSON")
    .option("--as <email>", "as this operator")
    .action(lazy(load, "metaListCommand"));
  const item = (name: string, description: string) =>
    meta
      .command(name)
      .description(description)
      .option("--id <source-event-id>", "the event this comes from (default: a new id)")
      .option("--note <text>", "why, shown with the item")
      .option("--json", "print the item as JSON")
      .option("--as <email>", "as this operator");
  item("submit", "submit an item given as JSON, as the API takes it (meta.submit)")
    .argument("<file>", "a JSON file, or - for stdin")
    .action(lazy(load, "metaSubmitCommand"));
  item("depend", "a request waits for another (of any repository) to land")
    .argument("<request>", "the request that waits, 12 or R12")
    .requiredOption("--on <request>", "the request it waits for")
    .action(lazy(load, "metaDependCommand"));
  item("priority", "dispatch a request's or a repository's tasks at this priority")
    .option("--request <request>", "the request, 12 or R12")
    .option("--repo <name>", "the repository")
    .requiredOption("--priority <level>", "low, normal or high")
    .action(lazy(load, "metaPriorityCommand"));
  item("pause", "dispatch none of a repository's tasks until it is resumed")
    .argument("<repo>", "the repository")
    .action(lazy(load, "metaPauseCommand"));
  item("resume", "dispatch a paused repository's tasks again")
    .argument("<repo>", "the repository")
    .action(lazy(load, "metaResumeCommand"));
  item("cancel", "cancel a request: its pending tasks closed, its queued changes withdrawn")
    .argument("<request>", "12 or R12")
    .action(lazy(load, "metaCancelCommand"));
  item("restart", "plan a failed or cancelled request again")
    .argument("<request>", "12 or R12")
    .action(lazy(load, "metaRestartCommand"));
  item("steer", "steer an agent's live run (docs/agents.md)")
    .argument("<run>", "the run id")
    .requiredOption(
      "--command <command>",
      "append_context, checkpoint_and_replan or stop_and_requeue",
    )
    .requiredOption("--message <text>", "what the agent should know")
    .action(lazy(load, "metaSteerCommand"));
}
