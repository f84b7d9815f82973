CREATE INDEX `requests_updated_idx` ON `requests` (`updated_at`,`id`);--> statement-breakpoint
CREATE INDEX `requests_title_idx` ON `requests` ("title" COLLATE NOCASE,`id`);