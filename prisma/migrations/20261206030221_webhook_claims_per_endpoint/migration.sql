-- Claims take turns across endpoints: each endpoint's oldest due deliveries, read per endpoint.
-- DropIndex
DROP INDEX "WebhookDelivery_nextAttemptAt_idx";

-- CreateIndex
CREATE INDEX "WebhookDelivery_endpointId_nextAttemptAt_idx" ON "WebhookDelivery"("endpointId", "nextAttemptAt") WHERE (status = 'pending');
