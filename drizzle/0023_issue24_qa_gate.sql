CREATE TABLE `qa_decisions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`entry_id` integer NOT NULL,
	`change_request_id` integer NOT NULL,
	`task_id` text,
	`patch_hash` text NOT NULL,
	`user_id` integer NOT NULL,
	`decision` text NOT NULL,
	`notes` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `qa_decisions_entry_idx` ON `qa_decisions` (`entry_id`);--> statement-breakpoint
CREATE INDEX `qa_decisions_task_idx` ON `qa_decisions` (`task_id`);--> statement-breakpoint
ALTER TABLE `queue_entries` ADD `qa_priority` text;--> statement-breakpoint
ALTER TABLE `queue_entries` ADD `qa_escalated_at` integer;