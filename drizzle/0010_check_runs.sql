CREATE TABLE `check_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`place` text NOT NULL,
	`repo` text NOT NULL,
	`commit` text NOT NULL,
	`check` text NOT NULL,
	`outcome` text NOT NULL,
	`duration_ms` integer NOT NULL,
	`entry_id` integer,
	`change_request_id` integer,
	`run_id` integer,
	`output_tail` text,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `check_runs_commit_idx` ON `check_runs` (`commit`,`check`);--> statement-breakpoint
CREATE INDEX `check_runs_entry_idx` ON `check_runs` (`entry_id`);--> statement-breakpoint
CREATE INDEX `check_runs_run_idx` ON `check_runs` (`run_id`);--> statement-breakpoint
ALTER TABLE `queue_entries` ADD `pipeline` text;--> statement-breakpoint
ALTER TABLE `queue_entries` ADD `pipelined` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `queue_entries` ADD `in_lane` integer DEFAULT false NOT NULL;