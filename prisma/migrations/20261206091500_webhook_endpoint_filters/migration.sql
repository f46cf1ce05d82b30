-- Content filters on webhook endpoints, and how many events each filter kept from its endpoint.
-- AlterTable
ALTER TABLE "WebhookEndpoint" ADD COLUMN     "anyOf" JSONB NOT NULL DEFAULT '[]',
ADD COLUMN     "filters" JSONB NOT NULL DEFAULT '[]';

-- CreateTable
CREATE TABLE "WebhookFilteredCount" (
    "endpointId" TEXT NOT NULL,
    "filteredOut" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "WebhookFilteredCount_pkey" PRIMARY KEY ("endpointId")
);

-- AddForeignKey
ALTER TABLE "WebhookFilteredCount" ADD CONSTRAINT "WebhookFilteredCount_endpointId_fkey" FOREIGN KEY ("endpointId") REFERENCES "WebhookEndpoint"("id") ON DELETE CASCADE ON UPDATE CASCADE;
