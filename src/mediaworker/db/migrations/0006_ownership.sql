-- Rows a job may touch (issue 10).

-- media: which job made a row the worker made itself (generate_image, enhance_image). Such a
-- job may create its row or update the row it made, nothing else; NULL marks a row written by
-- a producer (an upload). Rows made before this migration get the job that made them.
ALTER TABLE media ADD COLUMN IF NOT EXISTS made_by_function text;
ALTER TABLE media ADD COLUMN IF NOT EXISTS made_by_job text;
UPDATE media SET made_by_function = 'enhance_image', made_by_job = 'enhance-' || parent_id
    WHERE is_enhanced AND parent_id IS NOT NULL AND made_by_job IS NULL;
UPDATE media SET made_by_function = 'generate_image', made_by_job = 'generate-image-' || id
    WHERE source = 'GENERATED' AND NOT is_enhanced AND made_by_job IS NULL;

-- tts_jobs: each job enqueued for a row gets a new token, which it carries; only a job with
-- the row's current token may finish it (DONE or ERROR). A row whose job was lost and is
-- enqueued again gets a new token, so the lost job can no longer write it.
ALTER TABLE tts_jobs ADD COLUMN IF NOT EXISTS claim_token uuid;
