-- AI jobs: generated and enhanced media, transcriptions, speech requests, metered provider calls.

-- media: where a row came from, the prompt of a generated image, an enhanced copy's original.
ALTER TABLE media ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'UPLOAD'
    CHECK (source IN ('UPLOAD', 'GENERATED'));
ALTER TABLE media ADD COLUMN IF NOT EXISTS prompt text;
ALTER TABLE media ADD COLUMN IF NOT EXISTS is_enhanced boolean NOT NULL DEFAULT false;
ALTER TABLE media ADD COLUMN IF NOT EXISTS parent_id text
    REFERENCES media (id) ON DELETE SET NULL;
CREATE INDEX IF NOT EXISTS media_parent_idx ON media (parent_id) WHERE parent_id IS NOT NULL;

-- job_runs: DEFERRED marks a pickup our rate limiter turned away; it is not an attempt.
ALTER TABLE job_runs DROP CONSTRAINT IF EXISTS job_runs_status_check;
ALTER TABLE job_runs ADD CONSTRAINT job_runs_status_check CHECK (
    status IN ('RUNNING', 'SUCCEEDED', 'RETRYING', 'FAILED', 'INTERRUPTED', 'DEFERRED'));

-- transcriptions: one row per run, versioned per media; the newest automatic one is active.
CREATE TABLE IF NOT EXISTS transcriptions (
    id         bigserial PRIMARY KEY,
    media_id   text NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    version    integer NOT NULL CHECK (version >= 1),
    source     text NOT NULL DEFAULT 'AUTO' CHECK (source IN ('AUTO', 'MANUAL')),
    active     boolean NOT NULL DEFAULT true,
    text       text NOT NULL,
    language   text,
    segments   jsonb,
    duration_s double precision,
    provider   text,
    model      text,
    job_id     text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (media_id, version)
);
CREATE INDEX IF NOT EXISTS transcriptions_active_idx ON transcriptions (media_id) WHERE active;

-- tts_jobs: speech requests written by producers; a cron job claims PENDING rows and
-- enqueues them; the job writes the audio URL (DONE) or the error (ERROR) back.
CREATE TABLE IF NOT EXISTS tts_jobs (
    id            bigserial PRIMARY KEY,
    text          text NOT NULL CHECK (length(text) > 0),
    voice         text,
    format        text NOT NULL DEFAULT 'mp3',
    language      text,
    status        text NOT NULL DEFAULT 'PENDING'
                  CHECK (status IN ('PENDING', 'QUEUED', 'DONE', 'ERROR')),
    audio_url     text,
    storage_key   text,
    error_code    text,
    error_message text,
    job_id        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    claimed_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX IF NOT EXISTS tts_jobs_open_idx ON tts_jobs (status, id)
    WHERE status IN ('PENDING', 'QUEUED');

-- ai_metrics: one row per provider call, success or failure. `usage` keeps the raw usage the
-- provider reported, so the cost can be recomputed when prices change.
CREATE TABLE IF NOT EXISTS ai_metrics (
    id            bigserial PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    provider      text NOT NULL,
    model         text NOT NULL,
    operation     text NOT NULL,
    latency_ms    integer NOT NULL CHECK (latency_ms >= 0),
    success       boolean NOT NULL,
    error_code    text,
    retries       integer NOT NULL DEFAULT 0 CHECK (retries >= 0),
    input_tokens  integer,
    output_tokens integer,
    audio_seconds double precision,
    characters    integer,
    images        integer,
    cost_usd      numeric(14, 8),
    usage         jsonb NOT NULL DEFAULT '{}'::jsonb,
    job_id        text,
    meta          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS ai_metrics_created_idx ON ai_metrics (created_at);
CREATE INDEX IF NOT EXISTS ai_metrics_model_idx ON ai_metrics (provider, model, created_at);
