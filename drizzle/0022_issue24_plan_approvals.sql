CREATE TABLE `plan_approvals` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`repo` text NOT NULL,
	`path` text NOT NULL,
	`text_hash` text NOT NULL,
	`text` text NOT NULL,
	`commit_id` text NOT NULL,
	`approved_by` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `plan_approvals_repo_idx` ON `plan_approvals` (`repo`,`id`);