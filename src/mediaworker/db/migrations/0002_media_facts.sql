-- 0002: what the probe of an audio or video upload found, and the derivatives it expects.
-- The media row is READY once every type in expected_derivatives has a media_derivatives row
-- (NULL: the types of the job that just finished), ERROR as soon as one job fails for good.
ALTER TABLE media
    ADD COLUMN IF NOT EXISTS duration_s           double precision CHECK (duration_s >= 0),
    ADD COLUMN IF NOT EXISTS sample_rate          integer CHECK (sample_rate > 0),
    ADD COLUMN IF NOT EXISTS channels             integer CHECK (channels > 0),
    ADD COLUMN IF NOT EXISTS container            text,
    ADD COLUMN IF NOT EXISTS video_codec          text,
    ADD COLUMN IF NOT EXISTS audio_codec          text,
    ADD COLUMN IF NOT EXISTS rotation             integer CHECK (rotation IN (0, 90, 180, 270)),
    ADD COLUMN IF NOT EXISTS frame_rate           double precision CHECK (frame_rate >= 0),
    ADD COLUMN IF NOT EXISTS has_audio            boolean,
    ADD COLUMN IF NOT EXISTS has_video            boolean,
    ADD COLUMN IF NOT EXISTS probe                jsonb,
    ADD COLUMN IF NOT EXISTS expected_derivatives text[];
