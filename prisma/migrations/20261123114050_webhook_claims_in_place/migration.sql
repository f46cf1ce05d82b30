-- Workers claim a delivery by setting "claimedUntil", a column in no index, instead of moving
-- "nextAttemptAt": the row is then rewritten in place (a HOT update) with no new index entries.
-- The due index keeps pending deliveries only, so finished ones leave it, and pages keep a tenth
-- free for the in-place rewrites.
-- DropIndex
DROP INDEX "WebhookDelivery_status_nextAttemptAt_idx";

-- AlterTable
ALTER TABLE "WebhookDelivery" ADD COLUMN     "claimedUntil" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "WebhookDelivery_nextAttemptAt_idx" ON "WebhookDelivery"("nextAttemptAt") WHERE (status = 'pending');

-- AlterTable
ALTER TABLE "WebhookDelivery" SET (fillfactor = 90);
