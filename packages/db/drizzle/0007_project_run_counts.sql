CREATE TABLE "project_run_counts" (
	"project_id" text PRIMARY KEY NOT NULL,
	"queued" integer DEFAULT 0 NOT NULL,
	"running" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "project_run_counts" ADD CONSTRAINT "project_run_counts_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;