-- Wakes every gateway's event relay when events commit (NOTIFY is delivered at commit, once
-- per transaction and channel), whichever code path inserted them. Polling remains the safety net.
CREATE FUNCTION "nilo_notify_events"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('nilo_events', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER "Event_notify_relay" AFTER INSERT ON "Event" FOR EACH STATEMENT EXECUTE FUNCTION "nilo_notify_events"();
