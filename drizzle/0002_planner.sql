CREATE TABLE `inbox_files` (
	`hash` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`request_ids` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `request_specs` (
	`request_id` integer PRIMARY KEY NOT NULL,
	`spec` text,
	`questions` text NOT NULL,
	`answers` text NOT NULL,
	`engineer` text NOT NULL,
	`tasks_total` integer DEFAULT 0 NOT NULL,
	`tasks_independent` integer DEFAULT 0 NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`request_id`) REFERENCES `requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `tasks` ADD `state` text DEFAULT 'done' NOT NULL;--> statement-breakpoint
ALTER TABLE `tasks` ADD `area` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `needed_files` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `lock_scope` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `lock_keys` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `depends_on` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `acceptance` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `prompt` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `limits` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `context_tokens` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `blocked_reason` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `lease_owner` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `lease_expires_at` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `heartbeat_at` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tasks` ADD `change_request_id` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `updated_at` integer;--> statement-breakpoint
CREATE INDEX `tasks_request_idx` ON `tasks` (`request_id`);--> statement-breakpoint
CREATE INDEX `tasks_state_idx` ON `tasks` (`state`);