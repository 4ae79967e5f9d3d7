DROP INDEX "recordings_project_created_idx";--> statement-breakpoint
DROP INDEX "runs_project_created_idx";--> statement-breakpoint
DROP INDEX "runs_project_status_created_idx";--> statement-breakpoint
DROP INDEX "runs_dead_letters_idx";--> statement-breakpoint
CREATE INDEX "recordings_project_created_idx" ON "recordings" USING btree ("project_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "runs_project_created_idx" ON "runs" USING btree ("project_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "runs_project_status_created_idx" ON "runs" USING btree ("project_id","status","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "runs_dead_letters_idx" ON "runs" USING btree ("project_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST) WHERE "runs"."dead_lettered_at" is not null;