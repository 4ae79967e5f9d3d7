ALTER TABLE "projects" ADD COLUMN "egress_allow" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "run_actions" ADD COLUMN "error_code" text;--> statement-breakpoint
ALTER TABLE "run_actions" ADD COLUMN "blocked_requests" jsonb;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "error_code" text;