-- CreateTable
CREATE TABLE "TransferChunk" (
    "fileId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "tenantId" TEXT NOT NULL,
    "content" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TransferChunk_pkey" PRIMARY KEY ("fileId","seq")
);

-- CreateTable
CREATE TABLE "TenantImport" (
    "tenantId" TEXT NOT NULL,
    "exportId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TenantImport_pkey" PRIMARY KEY ("tenantId","exportId")
);

-- CreateIndex
CREATE INDEX "TransferChunk_createdAt_idx" ON "TransferChunk"("createdAt");
