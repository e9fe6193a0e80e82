-- Photo analysis and the moving inventory (issue 8).

-- media.project_id: the project a photo belongs to (`mediaworker ingest --project P`).
ALTER TABLE media ADD COLUMN IF NOT EXISTS project_id text
    CHECK (project_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$');
CREATE INDEX IF NOT EXISTS media_project_idx ON media (project_id, id)
    WHERE project_id IS NOT NULL;

-- photo_analyses: one row per run of analyze_photo, versioned per media, never overwritten:
-- what was sent, what came back verbatim, what it cost, or why it failed.
CREATE TABLE IF NOT EXISTS photo_analyses (
    id               bigserial PRIMARY KEY,
    media_id         text NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    version          integer NOT NULL CHECK (version >= 1),
    method           text NOT NULL CHECK (method IN ('model', 'detector', 'none')),
    provider         text NOT NULL,
    model            text NOT NULL,  -- the exact model id the API reported
    prompt_version   text NOT NULL,
    schema_version   text NOT NULL,
    image_width      integer,
    image_height     integer,
    image_bytes      integer,
    image_sha256     text,
    raw_output       text,           -- the reply used (or the last one), verbatim
    rejected_outputs jsonb NOT NULL DEFAULT '[]'::jsonb,  -- replies that did not validate
    result           jsonb,          -- the validated RoomAnalysis
    input_tokens     integer,
    output_tokens    integer,
    cost_usd         numeric(14, 8),
    latency_ms       integer,
    error_code       text,
    error_message    text,
    job_id           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (media_id, version)
);

-- photos: the analysis status of an image, apart from its thumbnails' (media.status); the
-- polling shape of the original deployment. `analysis_id` is the current version.
CREATE TABLE IF NOT EXISTS photos (
    media_id        text PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'PROCESSING', 'DONE', 'ERROR')),
    room_type       text,
    room_type_given boolean NOT NULL DEFAULT false,
    analysis_id     bigint REFERENCES photo_analyses (id) ON DELETE SET NULL,
    error_code      text,
    error_message   text,
    processed_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- inventories: the current inventory of a project, replaced in one transaction when its
-- inputs hash changes (`version` counts the writes).
CREATE TABLE IF NOT EXISTS inventories (
    project_id           text PRIMARY KEY,
    version              integer NOT NULL DEFAULT 1,
    total_items          integer NOT NULL,
    total_volume_m3      numeric(14, 3) NOT NULL,
    volume_known_share   numeric(5, 4) NOT NULL,
    items_estimated      integer NOT NULL,
    items_without_volume integer NOT NULL,
    dismountable_items   integer NOT NULL,
    photos_total         integer NOT NULL,
    photos_analysed      integer NOT NULL,
    photos_not_analysed  integer NOT NULL,
    photos_error         integer NOT NULL,
    rooms                jsonb NOT NULL,
    result               jsonb NOT NULL,
    table_version        text NOT NULL,
    inputs_hash          text NOT NULL,
    computed_at          timestamptz NOT NULL DEFAULT now()
);
