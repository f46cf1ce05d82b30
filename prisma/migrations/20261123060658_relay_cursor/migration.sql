-- The relays publish each tenant's log from a cursor instead of marking every event published:
-- the log becomes append-only, and one relay at a time (the one holding the cursor row)
-- publishes a tenant's events, in tenantSequence order.

-- CreateTable
CREATE TABLE "RelayCursor" (
    "tenantId" TEXT NOT NULL,
    "publishedSequence" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "RelayCursor_pkey" PRIMARY KEY ("tenantId")
);

-- AddForeignKey
ALTER TABLE "RelayCursor" ADD CONSTRAINT "RelayCursor_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Every tenant's cursor stops before its first unpublished event (sequences commit in order).
INSERT INTO "RelayCursor" ("tenantId", "publishedSequence")
SELECT t."id", coalesce((SELECT min(e."tenantSequence") - 1 FROM "Event" e WHERE e."tenantId" = t."id" AND e."publishedAt" IS NULL), t."eventSequence")
FROM "Tenant" t;

-- AlterTable
DROP INDEX "Event_unpublished_idx";
ALTER TABLE "Event" DROP COLUMN "publishedAt";

-- The NOTIFY names the tenants whose events committed, so a relay looks only at their cursors.
CREATE OR REPLACE FUNCTION "nilo_notify_events"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('nilo_events', tenants."tenantId") FROM (SELECT DISTINCT "tenantId" FROM appended) AS tenants;
  RETURN NULL;
END
$$;

DROP TRIGGER "Event_notify_relay" ON "Event";
CREATE TRIGGER "Event_notify_relay" AFTER INSERT ON "Event" REFERENCING NEW TABLE AS appended FOR EACH STATEMENT EXECUTE FUNCTION "nilo_notify_events"();
