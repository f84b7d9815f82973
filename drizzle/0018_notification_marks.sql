CREATE TABLE `notification_marks` (
	`user_id` integer PRIMARY KEY NOT NULL,
	`events_seen` integer DEFAULT 0 NOT NULL,
	`queue_logs_seen` integer DEFAULT 0 NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
