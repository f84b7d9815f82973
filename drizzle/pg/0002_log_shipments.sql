CREATE TABLE "log_shipments" (
	"stream" text PRIMARY KEY NOT NULL,
	"last_id" bigint NOT NULL,
	"segment" text,
	"owner" text,
	"lease_expires_at" bigint,
	"updated_at" bigint NOT NULL
);
