CREATE TABLE `change_requests` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` text NOT NULL,
	`repo` text NOT NULL,
	`target_branch` text NOT NULL,
	`base_commit` text,
	`patch` text NOT NULL,
	`summary` text NOT NULL,
	`author_name` text NOT NULL,
	`author_email` text NOT NULL,
	`checks` text NOT NULL,
	`risk` text NOT NULL,
	`dry_run` integer NOT NULL,
	`revert_of` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `change_queue_logs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`entry_id` integer NOT NULL,
	`event` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `change_queue_logs_entry_idx` ON `change_queue_logs` (`entry_id`,`id`);--> statement-breakpoint
CREATE TABLE `queue_entries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`change_request_id` integer NOT NULL,
	`repo` text NOT NULL,
	`target_branch` text NOT NULL,
	`state` text NOT NULL,
	`claimed_from` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`heartbeat_at` integer,
	`last_error` text,
	`merged_commit` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`change_request_id`) REFERENCES `change_requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `queue_entries_change_request_id_unique` ON `queue_entries` (`change_request_id`);--> statement-breakpoint
CREATE INDEX `queue_entries_state_idx` ON `queue_entries` (`state`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `queue_entries_lease_idx` ON `queue_entries` (`lease_expires_at`);--> statement-breakpoint
CREATE TABLE `queue_entry_paths` (
	`entry_id` integer NOT NULL,
	`repo` text NOT NULL,
	`path` text NOT NULL,
	PRIMARY KEY(`entry_id`, `path`),
	FOREIGN KEY (`entry_id`) REFERENCES `queue_entries`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `queue_entry_paths_path_idx` ON `queue_entry_paths` (`repo`,`path`,`entry_id`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`request_id` integer,
	`repo` text NOT NULL,
	`title` text NOT NULL,
	`source` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`request_id`) REFERENCES `requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `worker_heartbeats` ADD `role` text DEFAULT 'supervisor' NOT NULL;--> statement-breakpoint
ALTER TABLE `worker_heartbeats` ADD `parent_id` text;--> statement-breakpoint
ALTER TABLE `worker_heartbeats` ADD `current_entry_id` integer;