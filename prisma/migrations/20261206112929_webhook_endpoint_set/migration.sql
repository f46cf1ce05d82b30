-- A version per tenant of its set of webhook endpoints, raised in the same transaction as any
-- change the event relay cares about (an endpoint created or deleted, enabled or disabled, its
-- types or filter changed), whichever code path makes it. The relay keeps each tenant's endpoints
-- in memory and reads them again only when this version moved. No foreign key to the tenant: these
-- triggers also run when a tenant's deletion cascades to its endpoints.
-- CreateTable
CREATE TABLE "WebhookEndpointSet" (
    "tenantId" TEXT NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "WebhookEndpointSet_pkey" PRIMARY KEY ("tenantId")
);

-- Once per statement over its rows, so a bulk insert or a tenant's deletion raises each tenant's version once.
CREATE FUNCTION "nilo_webhook_endpoint_set_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "WebhookEndpointSet" ("tenantId", "version")
  SELECT DISTINCT "tenantId", 1 FROM changed_endpoints
  ON CONFLICT ("tenantId") DO UPDATE SET "version" = "WebhookEndpointSet"."version" + 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER "WebhookEndpoint_set_inserted" AFTER INSERT ON "WebhookEndpoint"
  REFERENCING NEW TABLE AS changed_endpoints FOR EACH STATEMENT EXECUTE FUNCTION "nilo_webhook_endpoint_set_changed"();
CREATE TRIGGER "WebhookEndpoint_set_deleted" AFTER DELETE ON "WebhookEndpoint"
  REFERENCING OLD TABLE AS changed_endpoints FOR EACH STATEMENT EXECUTE FUNCTION "nilo_webhook_endpoint_set_changed"();

-- Updates one row at a time, and only those the relay cares about: the delivery worker's
-- failingSince bookkeeping does not move the version.
CREATE FUNCTION "nilo_webhook_endpoint_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "WebhookEndpointSet" ("tenantId", "version") VALUES (NEW."tenantId", 1)
  ON CONFLICT ("tenantId") DO UPDATE SET "version" = "WebhookEndpointSet"."version" + 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER "WebhookEndpoint_set_updated" AFTER UPDATE ON "WebhookEndpoint" FOR EACH ROW
  WHEN (OLD."eventTypes" IS DISTINCT FROM NEW."eventTypes" OR OLD."filters" IS DISTINCT FROM NEW."filters"
        OR OLD."anyOf" IS DISTINCT FROM NEW."anyOf" OR OLD."enabled" IS DISTINCT FROM NEW."enabled")
  EXECUTE FUNCTION "nilo_webhook_endpoint_changed"();
