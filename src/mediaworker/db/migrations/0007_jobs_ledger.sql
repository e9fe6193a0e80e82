-- jobs: the ledger, one row per job from its enqueue to its end (db/jobs.py, queue/ledger.py).
-- Written once when the client or the HTTP API enqueues (idempotent on the job id), or at
-- first pickup for jobs plain arq and cron enqueued; kept current by the job wrapper through
-- the worker's batched tracker. The reconciler enqueues again every job still queued,
-- deferred or running that Redis no longer has. job_runs stays the per-attempt record.
CREATE TABLE IF NOT EXISTS jobs (
    job_id        text PRIMARY KEY CHECK (length(job_id) BETWEEN 1 AND 200),
    function      text NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
    priority      integer NOT NULL DEFAULT 10 CHECK (priority BETWEEN 0 AND 100),
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN
                  ('queued', 'deferred', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    result        jsonb,
    error_code    text,
    error_message text,
    webhook_url   text,
    source        text NOT NULL DEFAULT 'producer' CHECK (source IN ('producer', 'pickup')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- the time of the event that wrote the row last; a late write of an older event is ignored
    updated_at    timestamptz NOT NULL DEFAULT now(),
    run_at        timestamptz,  -- when a queued or deferred job is due (NULL: now)
    reconciled_at timestamptz,  -- when the reconciler last enqueued it again
    started_at    timestamptz,
    finished_at   timestamptz
);
-- the failed-job list, the reconciler's scan and the per-state counts
CREATE INDEX IF NOT EXISTS jobs_status_updated_idx ON jobs (status, updated_at);
-- a function's history, newest first (the API's list, retention's "keep the last N")
CREATE INDEX IF NOT EXISTS jobs_function_status_idx ON jobs (function, status, finished_at DESC);
CREATE INDEX IF NOT EXISTS jobs_created_idx ON jobs (created_at DESC);
-- search by a payload value: payload @> '{"media_id": "..."}'
CREATE INDEX IF NOT EXISTS jobs_payload_idx ON jobs USING gin (payload jsonb_path_ops);
