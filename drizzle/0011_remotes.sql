CREATE TABLE `remotes` (
	`repo` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`tip` text,
	`fetched_at` integer,
	`pushed_at` integer,
	`failure` text,
	`failure_message` text,
	`failed_at` integer,
	`updated_at` integer NOT NULL
);
