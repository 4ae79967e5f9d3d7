-- project_run_counts is kept exact by statement-level triggers on runs: whatever code inserts,
-- moves or deletes runs (API, workers, reconciler, retention), the counts follow in the same
-- transaction, with one upsert per statement rather than one per row.
CREATE OR REPLACE FUNCTION conveyor_count_inserted_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO project_run_counts AS c (project_id, queued, running)
  SELECT project_id, count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'running')
    FROM new_rows GROUP BY project_id
  ON CONFLICT (project_id) DO UPDATE SET queued = c.queued + excluded.queued, running = c.running + excluded.running;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION conveyor_count_updated_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO project_run_counts AS c (project_id, queued, running)
  SELECT d.project_id, 0, 0
    FROM (SELECT DISTINCT n.project_id FROM new_rows n JOIN old_rows o ON o.id = n.id
           WHERE n.status IS DISTINCT FROM o.status) d
  ON CONFLICT (project_id) DO NOTHING;
  UPDATE project_run_counts c
     SET queued = c.queued + d.dq, running = c.running + d.dr
    FROM (SELECT n.project_id,
                 sum((n.status = 'queued')::int - (o.status = 'queued')::int) AS dq,
                 sum((n.status = 'running')::int - (o.status = 'running')::int) AS dr
            FROM new_rows n JOIN old_rows o ON o.id = n.id
           WHERE n.status IS DISTINCT FROM o.status
           GROUP BY n.project_id) d
   WHERE c.project_id = d.project_id AND (d.dq <> 0 OR d.dr <> 0);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION conveyor_count_deleted_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Only an update: when a whole project is deleted its counts row may already be gone.
  UPDATE project_run_counts c
     SET queued = c.queued - d.q, running = c.running - d.r
    FROM (SELECT project_id, count(*) FILTER (WHERE status = 'queued') AS q,
                 count(*) FILTER (WHERE status = 'running') AS r
            FROM old_rows GROUP BY project_id) d
   WHERE c.project_id = d.project_id AND (d.q <> 0 OR d.r <> 0);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER runs_count_inserted AFTER INSERT ON runs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor_count_inserted_runs();
--> statement-breakpoint
CREATE TRIGGER runs_count_updated AFTER UPDATE ON runs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor_count_updated_runs();
--> statement-breakpoint
CREATE TRIGGER runs_count_deleted AFTER DELETE ON runs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor_count_deleted_runs();
--> statement-breakpoint
-- Every project gets its row (admission locks it), counted from what is there now.
INSERT INTO project_run_counts (project_id, queued, running)
SELECT p.id, count(r.id) FILTER (WHERE r.status = 'queued'), count(r.id) FILTER (WHERE r.status = 'running')
  FROM projects p LEFT JOIN runs r ON r.project_id = p.id
 GROUP BY p.id
ON CONFLICT (project_id) DO UPDATE SET queued = excluded.queued, running = excluded.running;
