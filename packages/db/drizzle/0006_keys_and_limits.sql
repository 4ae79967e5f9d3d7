ALTER TABLE "api_keys" ADD COLUMN "scopes" jsonb DEFAULT '["runs:read","runs:write","recordings:read","recordings:write","keys:read","keys:write"]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "replaced_by" text;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "limits" jsonb DEFAULT '{}'::jsonb NOT NULL;