CREATE TABLE "suite_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"suite_id" text,
	"suite_name" text NOT NULL,
	"ci" jsonb,
	"run_ids" text[] NOT NULL,
	"total" integer NOT NULL,
	"cancelled_at" timestamp with time zone,
	"idempotency_key" text,
	"request_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "suites" (
	"id" text PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"name" text NOT NULL,
	"recording_ids" text[] DEFAULT '{}'::text[] NOT NULL,
	"tag_query" jsonb,
	"defaults" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "recordings" ADD COLUMN "tags" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "suite_run_id" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "ci" jsonb;--> statement-breakpoint
ALTER TABLE "suite_runs" ADD CONSTRAINT "suite_runs_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "suite_runs" ADD CONSTRAINT "suite_runs_suite_id_suites_id_fk" FOREIGN KEY ("suite_id") REFERENCES "public"."suites"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "suites" ADD CONSTRAINT "suites_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "suite_runs_project_created_idx" ON "suite_runs" USING btree ("project_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "suite_runs_suite_idx" ON "suite_runs" USING btree ("suite_id") WHERE "suite_runs"."suite_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "suite_runs_project_idempotency_idx" ON "suite_runs" USING btree ("project_id","idempotency_key") WHERE "suite_runs"."idempotency_key" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "suites_project_name_idx" ON "suites" USING btree ("project_id","name");--> statement-breakpoint
CREATE INDEX "suites_project_created_idx" ON "suites" USING btree ("project_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_suite_run_id_suite_runs_id_fk" FOREIGN KEY ("suite_run_id") REFERENCES "public"."suite_runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "recordings_tags_idx" ON "recordings" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "runs_suite_run_idx" ON "runs" USING btree ("suite_run_id") WHERE "runs"."suite_run_id" is not null;