ALTER TABLE `change_requests` ADD `run_id` integer;--> statement-breakpoint
ALTER TABLE `request_specs` ADD `engineer_fallback` text;