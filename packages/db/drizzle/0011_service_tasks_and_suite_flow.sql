CREATE TABLE "service_tasks" (
	"name" text PRIMARY KEY NOT NULL,
	"mode" text NOT NULL,
	"interval_ms" integer NOT NULL,
	"definition" jsonb NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"disabled_reason" text,
	"disabled_at" timestamp with time zone,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"lease_holder" text,
	"lease_token" integer DEFAULT 0 NOT NULL,
	"lease_expires_at" timestamp with time zone,
	"run_started_at" timestamp with time zone,
	"run_requested_at" timestamp with time zone,
	"run_requested_by" text,
	"next_run_at" timestamp with time zone,
	"last_run_at" timestamp with time zone,
	"last_finished_at" timestamp with time zone,
	"last_duration_ms" integer,
	"last_success_at" timestamp with time zone,
	"last_error" text,
	"last_error_at" timestamp with time zone,
	"last_result" jsonb,
	"runs" integer DEFAULT 0 NOT NULL,
	"failures" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "held" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "suite_runs" ADD COLUMN "max_parallel" integer;--> statement-breakpoint
ALTER TABLE "suite_runs" ADD COLUMN "fail_fast" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "suite_runs" ADD COLUMN "failed_fast_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "suites" ADD COLUMN "max_parallel" integer;--> statement-breakpoint
ALTER TABLE "suites" ADD COLUMN "fail_fast" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "runs_finished_idx" ON "runs" USING btree ("finished_at") WHERE "runs"."finished_at" is not null;--> statement-breakpoint
CREATE INDEX "runs_held_idx" ON "runs" USING btree ("suite_run_id","created_at") WHERE "runs"."held";