ALTER TABLE `login_attempts` ADD `address` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX `login_attempts_address_at_idx` ON `login_attempts` (`address`,`at`);