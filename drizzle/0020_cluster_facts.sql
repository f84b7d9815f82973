CREATE TABLE `cluster_facts` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`host` text NOT NULL,
	`updated_at` integer NOT NULL
);
