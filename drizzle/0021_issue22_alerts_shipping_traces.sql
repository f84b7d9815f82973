CREATE TABLE `alert_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`alert_id` integer NOT NULL,
	`message_id` text NOT NULL,
	`url` text NOT NULL,
	`format` text NOT NULL,
	`state` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`last_status` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`alert_id`) REFERENCES `alerts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alert_deliveries_target_idx` ON `alert_deliveries` (`alert_id`,`url`);--> statement-breakpoint
CREATE UNIQUE INDEX `alert_deliveries_message_idx` ON `alert_deliveries` (`message_id`);--> statement-breakpoint
CREATE INDEX `alert_deliveries_due_idx` ON `alert_deliveries` (`state`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `alerts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`dedupe_key` text NOT NULL,
	`rule_key` text NOT NULL,
	`kind` text NOT NULL,
	`subject_type` text NOT NULL,
	`subject_id` text NOT NULL,
	`repo` text,
	`request_id` integer,
	`summary` text NOT NULL,
	`detail` text DEFAULT '{}' NOT NULL,
	`fired_at` integer NOT NULL,
	`resolved_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alerts_dedupe_idx` ON `alerts` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `alerts_open_idx` ON `alerts` (`resolved_at`,`rule_key`);--> statement-breakpoint
CREATE TABLE `log_shipments` (
	`stream` text PRIMARY KEY NOT NULL,
	`last_id` integer NOT NULL,
	`segment` text,
	`owner` text,
	`lease_expires_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `requests` ADD `trace_parent` text;