-- media: one row per upload; the application reads status, error and derivatives from here.
CREATE TABLE IF NOT EXISTS media (
    id                text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$'),
    kind              text NOT NULL CHECK (kind IN ('IMAGE', 'AUDIO', 'VIDEO', 'UNKNOWN')),
    status            text NOT NULL DEFAULT 'PENDING'
                      CHECK (status IN ('PENDING', 'PROCESSING', 'READY', 'ERROR')),
    storage_key       text NOT NULL,
    original_filename text,
    content_type      text,
    size_bytes        bigint CHECK (size_bytes >= 0),
    width             integer,
    height            integer,
    blurhash          text,
    error_code        text,
    error_message     text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    processed_at      timestamptz
);
CREATE INDEX IF NOT EXISTS media_status_updated_idx ON media (status, updated_at)
    WHERE status IN ('PENDING', 'PROCESSING');

-- media_derivatives: one row per media and type, upserted (a rerun replaces, never duplicates).
CREATE TABLE IF NOT EXISTS media_derivatives (
    media_id     text NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    type         text NOT NULL,
    storage_key  text NOT NULL,
    url          text NOT NULL,
    content_type text NOT NULL,
    width        integer,
    height       integer,
    size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (media_id, type)
);

-- job_runs: one row per attempt of every job, written by the job wrapper.
CREATE TABLE IF NOT EXISTS job_runs (
    id            bigserial PRIMARY KEY,
    job_id        text NOT NULL,
    function      text NOT NULL,
    arguments     jsonb NOT NULL DEFAULT '{}'::jsonb,
    status        text NOT NULL
                  CHECK (status IN ('RUNNING', 'SUCCEEDED', 'RETRYING', 'FAILED', 'INTERRUPTED')),
    attempt       integer NOT NULL CHECK (attempt >= 1),
    error_code    text,
    error_message text,
    worker        text,
    enqueued_at   timestamptz NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    duration_ms   integer
);
CREATE INDEX IF NOT EXISTS job_runs_job_idx ON job_runs (job_id, enqueued_at);
CREATE INDEX IF NOT EXISTS job_runs_started_idx ON job_runs (started_at);
