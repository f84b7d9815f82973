CREATE TABLE `log_shipments` (
	`stream` text PRIMARY KEY NOT NULL,
	`last_id` integer NOT NULL,
	`segment` text,
	`owner` text,
	`lease_expires_at` integer,
	`updated_at` integer NOT NULL
);
