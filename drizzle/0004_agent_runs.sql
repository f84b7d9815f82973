CREATE TABLE `agent_run_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`at` integer NOT NULL,
	`event` text NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `agent_runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `agent_run_events_run_idx` ON `agent_run_events` (`run_id`,`id`);--> statement-breakpoint
CREATE TABLE `agent_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` text NOT NULL,
	`request_id` integer,
	`repo` text NOT NULL,
	`agent` text NOT NULL,
	`state` text NOT NULL,
	`owner` text NOT NULL,
	`task_attempt` integer NOT NULL,
	`pid` integer,
	`sandbox` text,
	`cli_version` text,
	`base_commit` text,
	`prompt_hash` text,
	`prompt_path` text,
	`workspace` text,
	`session_id` text,
	`sessions` integer DEFAULT 0 NOT NULL,
	`turns` integer DEFAULT 0 NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`cost_usd` real,
	`unparsed` integer DEFAULT 0 NOT NULL,
	`fallback` text,
	`reason` text,
	`change_request_id` integer,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`last_event_at` integer,
	`ended_at` integer
);
--> statement-breakpoint
CREATE INDEX `agent_runs_task_idx` ON `agent_runs` (`task_id`);--> statement-breakpoint
CREATE INDEX `agent_runs_request_idx` ON `agent_runs` (`request_id`);--> statement-breakpoint
CREATE INDEX `agent_runs_state_idx` ON `agent_runs` (`state`);--> statement-breakpoint
CREATE TABLE `run_steers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`command` text NOT NULL,
	`reason` text NOT NULL,
	`source_event_id` text NOT NULL,
	`by` text NOT NULL,
	`created_at` integer NOT NULL,
	`applied_at` integer,
	`outcome` text,
	FOREIGN KEY (`run_id`) REFERENCES `agent_runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `run_steers_source_idx` ON `run_steers` (`run_id`,`source_event_id`);