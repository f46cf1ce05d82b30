-- The relay reads unpublished events in (tenantId, tenantSequence) order. An index of only those
-- rows serves that read without a sort, however long the log grows; the old index kept every
-- published event and made the relay sort what it found.
DROP INDEX "Event_publishedAt_occurredAt_idx";
CREATE INDEX "Event_unpublished_idx" ON "Event"("tenantId", "tenantSequence") WHERE "publishedAt" IS NULL;
