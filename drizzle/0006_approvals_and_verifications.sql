CREATE TABLE `approvals` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`entry_id` integer NOT NULL,
	`change_request_id` integer NOT NULL,
	`task_id` text NOT NULL,
	`patch_hash` text NOT NULL,
	`reviewer_id` integer NOT NULL,
	`decision` text NOT NULL,
	`comment` text DEFAULT '' NOT NULL,
	`next_step` text,
	`diff_shown` integer NOT NULL,
	`voided_reason` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `approvals_entry_idx` ON `approvals` (`entry_id`);--> statement-breakpoint
CREATE INDEX `approvals_task_idx` ON `approvals` (`task_id`);--> statement-breakpoint
CREATE TABLE `diff_views` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`change_request_id` integer NOT NULL,
	`patch_hash` text NOT NULL,
	`user_id` integer NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `diff_views_lookup_idx` ON `diff_views` (`change_request_id`,`user_id`);--> statement-breakpoint
CREATE TABLE `verifications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`repo` text NOT NULL,
	`target_branch` text NOT NULL,
	`good_commit` text,
	`head_commit` text NOT NULL,
	`state` text NOT NULL,
	`culprit_commit` text,
	`culprit_entry_id` integer,
	`revert_entry_id` integer,
	`output` text,
	`steps` text DEFAULT '[]' NOT NULL,
	`created_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `verifications_repo_idx` ON `verifications` (`repo`,`target_branch`,`id`);