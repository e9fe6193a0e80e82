-- media.category: the application's own label for an upload (the original deployment used
-- DISP, DECD, ...). process_upload enhances images of the AUTO_ENHANCE_CATEGORIES.
ALTER TABLE media ADD COLUMN IF NOT EXISTS category text;
