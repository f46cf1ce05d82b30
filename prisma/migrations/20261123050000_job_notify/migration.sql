-- Wakes every gateway's job workers when jobs are queued (NOTIFY is delivered at commit, once per
-- transaction and channel), so queueing a job is a single statement. Polling remains the safety net.
CREATE FUNCTION "nilo_notify_jobs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('nilo_jobs', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER "Job_notify_workers" AFTER INSERT ON "Job" FOR EACH STATEMENT EXECUTE FUNCTION "nilo_notify_jobs"();
