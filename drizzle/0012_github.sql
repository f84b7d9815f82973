CREATE TABLE `github_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`event` text NOT NULL,
	`action` text,
	`repo` text,
	`payload` text NOT NULL,
	`state` text NOT NULL,
	`note` text,
	`received_at` integer NOT NULL,
	`handled_at` integer
);
--> statement-breakpoint
CREATE INDEX `github_deliveries_state_idx` ON `github_deliveries` (`state`,`received_at`);--> statement-breakpoint
CREATE TABLE `github_issues` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`github_repo` text NOT NULL,
	`number` integer NOT NULL,
	`url` text NOT NULL,
	`request_id` integer,
	`refusal` text,
	`comment_id` integer,
	`posted` text,
	`closed` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`request_id`) REFERENCES `requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `github_issues_issue_idx` ON `github_issues` (`github_repo`,`number`);