CREATE TABLE `meta_items` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`source_event_id` text NOT NULL,
	`kind` text NOT NULL,
	`state` text NOT NULL,
	`repo` text,
	`request_id` integer,
	`payload` text NOT NULL,
	`effect` text,
	`by` text NOT NULL,
	`user_id` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `meta_items_source_idx` ON `meta_items` (`source_event_id`);--> statement-breakpoint
CREATE INDEX `meta_items_state_kind_idx` ON `meta_items` (`state`,`kind`);--> statement-breakpoint
CREATE INDEX `meta_items_request_idx` ON `meta_items` (`request_id`);