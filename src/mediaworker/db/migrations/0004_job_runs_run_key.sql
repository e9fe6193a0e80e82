-- job_runs rows are written in batches by each worker (tracking.py): a key made by the worker
-- lets one upsert both insert new attempts and close finished ones.
ALTER TABLE job_runs ADD COLUMN IF NOT EXISTS run_key uuid;
CREATE UNIQUE INDEX IF NOT EXISTS job_runs_run_key_idx ON job_runs (run_key);
