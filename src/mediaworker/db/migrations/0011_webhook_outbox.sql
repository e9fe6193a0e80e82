-- The webhook outbox (events/webhooks.py): one row per event a job's final success or failure
-- owes its target, written at that end; the deliver_webhook job sends it, signed, with the same
-- webhook_id (the `webhook-id` header) on every try so that receivers can dedupe.
CREATE TABLE IF NOT EXISTS webhook_outbox (
    id               bigserial PRIMARY KEY,
    webhook_id       text NOT NULL UNIQUE,  -- msg_...: names the job's end (job id, enqueue time)
    job_id           text NOT NULL,
    function         text NOT NULL,
    event_type       text NOT NULL,         -- job.succeeded | job.failed
    url              text NOT NULL,
    payload          jsonb NOT NULL,        -- the event as sent; signed anew on every try
    status           text NOT NULL DEFAULT 'PENDING'
                     CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    delivered_at     timestamptz
);
CREATE INDEX IF NOT EXISTS webhook_outbox_pending_idx ON webhook_outbox (created_at)
    WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS webhook_outbox_job_idx ON webhook_outbox (job_id);
