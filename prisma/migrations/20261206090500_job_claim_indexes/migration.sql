-- Claims read each type's due jobs in order from an index of queued jobs only: a backlog of other
-- types (runners' work) or finished jobs' entries no longer lie between a claim and its jobs.
-- DropIndex
DROP INDEX "Job_status_runAt_idx";

-- CreateIndex
CREATE INDEX "Job_resourceType_runAt_id_idx" ON "Job"("resourceType", "runAt", "id") WHERE (status = 'queued');

-- Lapsed leases are looked for among running jobs only.
-- CreateIndex
CREATE INDEX "Job_leaseExpiresAt_idx" ON "Job"("leaseExpiresAt") WHERE (status = 'running');
