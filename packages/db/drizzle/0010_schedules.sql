CREATE TABLE "schedule_fires" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"schedule_id" text NOT NULL,
	"project_id" text NOT NULL,
	"scheduled_at" timestamp with time zone NOT NULL,
	"fired_at" timestamp with time zone DEFAULT now() NOT NULL,
	"outcome" text NOT NULL,
	"manual" boolean DEFAULT false NOT NULL,
	"run_id" text,
	"suite_run_id" text,
	"reason" text
);
--> statement-breakpoint
CREATE TABLE "schedules" (
	"id" text PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"name" text NOT NULL,
	"recording_id" text,
	"suite_id" text,
	"cron" text,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"every_seconds" integer,
	"start_at" timestamp with time zone,
	"end_at" timestamp with time zone,
	"jitter_seconds" integer DEFAULT 0 NOT NULL,
	"overlap" text DEFAULT 'skip' NOT NULL,
	"catch_up_window_seconds" integer DEFAULT 0 NOT NULL,
	"run_overrides" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"run_defaults" jsonb NOT NULL,
	"pause_after_failures" integer,
	"paused_at" timestamp with time zone,
	"pause_reason" text,
	"next_fire_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "schedule_id" text;--> statement-breakpoint
ALTER TABLE "schedule_fires" ADD CONSTRAINT "schedule_fires_schedule_id_schedules_id_fk" FOREIGN KEY ("schedule_id") REFERENCES "public"."schedules"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_recording_id_recordings_id_fk" FOREIGN KEY ("recording_id") REFERENCES "public"."recordings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_suite_id_suites_id_fk" FOREIGN KEY ("suite_id") REFERENCES "public"."suites"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "schedule_fires_schedule_time_idx" ON "schedule_fires" USING btree ("schedule_id","scheduled_at");--> statement-breakpoint
CREATE INDEX "schedule_fires_schedule_id_idx" ON "schedule_fires" USING btree ("schedule_id","id" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "schedules_project_name_idx" ON "schedules" USING btree ("project_id","name");--> statement-breakpoint
CREATE INDEX "schedules_project_created_idx" ON "schedules" USING btree ("project_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "schedules_next_fire_idx" ON "schedules" USING btree ("next_fire_at") WHERE "schedules"."next_fire_at" is not null;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_schedule_id_schedules_id_fk" FOREIGN KEY ("schedule_id") REFERENCES "public"."schedules"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "runs_schedule_created_idx" ON "runs" USING btree ("schedule_id","created_at" DESC NULLS FIRST) WHERE "runs"."schedule_id" is not null;