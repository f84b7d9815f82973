ALTER TABLE `approvals` ADD `agent` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `agent` text;