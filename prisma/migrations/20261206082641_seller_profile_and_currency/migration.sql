-- Every invoice has a currency. Invoices created before there was one were EUR, the currency the
-- PDF and the examples assumed; the default fills them and is dropped again, so every new invoice
-- names its currency (the request's, else the seller profile's default, else EUR: invoices/service.ts).
-- Amounts take scale 4, the largest minor unit of ISO 4217 (CLF, UYW); 2-place values convert exactly.
-- AlterTable
ALTER TABLE "Invoice" ADD COLUMN     "currency" CHAR(3) NOT NULL DEFAULT 'EUR',
ALTER COLUMN "netTotal" SET DATA TYPE DECIMAL(20,4),
ALTER COLUMN "taxTotal" SET DATA TYPE DECIMAL(20,4),
ALTER COLUMN "grossTotal" SET DATA TYPE DECIMAL(20,4);
ALTER TABLE "Invoice" ALTER COLUMN "currency" DROP DEFAULT;

-- AlterTable
ALTER TABLE "InvoiceLine" ALTER COLUMN "net" SET DATA TYPE DECIMAL(20,4),
ALTER COLUMN "tax" SET DATA TYPE DECIMAL(20,4),
ALTER COLUMN "gross" SET DATA TYPE DECIMAL(20,4);

-- CreateTable
CREATE TABLE "SellerProfile" (
    "tenantId" TEXT NOT NULL,
    "legalName" TEXT NOT NULL,
    "addressLines" TEXT[],
    "city" TEXT NOT NULL,
    "postalCode" TEXT,
    "region" TEXT,
    "country" CHAR(2) NOT NULL,
    "vatId" TEXT,
    "taxId" TEXT,
    "email" TEXT,
    "phone" TEXT,
    "defaultCurrency" CHAR(3) NOT NULL,
    "iban" TEXT,
    "bic" TEXT,
    "bankName" TEXT,
    "paymentTerms" TEXT,
    "logo" BYTEA,
    "logoType" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "SellerProfile_pkey" PRIMARY KEY ("tenantId")
);

-- AddForeignKey
ALTER TABLE "SellerProfile" ADD CONSTRAINT "SellerProfile_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
