-- A job's input is stored and read back whole, never queried inside: json only has its syntax
-- checked, where jsonb is taken apart and rebuilt (an import's input is megabytes).
-- AlterTable
ALTER TABLE "Job" ALTER COLUMN "input" SET DATA TYPE JSON;
