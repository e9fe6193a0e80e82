#!/bin/sh
# Run once by the postgres image on a new data folder (/docker-entrypoint-initdb.d): makes the
# mediaworker owner and worker roles (roles.sql). Passwords come from the environment and are
# required; role names may be changed. Also usable by hand against any server (PGHOST etc.).
set -eu
: "${MEDIAWORKER_OWNER_PASSWORD:?set MEDIAWORKER_OWNER_PASSWORD}"
: "${MEDIAWORKER_WORKER_PASSWORD:?set MEDIAWORKER_WORKER_PASSWORD}"
psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-mediaworker}" \
    --set database="${POSTGRES_DB:-mediaworker}" \
    --set owner_role="${MEDIAWORKER_OWNER_ROLE:-mediaworker_owner}" \
    --set owner_password="$MEDIAWORKER_OWNER_PASSWORD" \
    --set worker_role="${MEDIAWORKER_WORKER_ROLE:-mediaworker_worker}" \
    --set worker_password="$MEDIAWORKER_WORKER_PASSWORD" \
    --file "${MEDIAWORKER_ROLES_SQL:-/etc/mediaworker/roles.sql}"
