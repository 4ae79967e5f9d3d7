ALTER TABLE "runs" ADD COLUMN "dead_lettered_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "retry_of" text;--> statement-breakpoint
CREATE INDEX "runs_unfinished_idx" ON "runs" USING btree ("created_at") WHERE "runs"."status" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "runs_dead_letters_idx" ON "runs" USING btree ("project_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "runs"."dead_lettered_at" is not null;