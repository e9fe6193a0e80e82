-- The mediaworker roles, made once by the Postgres superuser (init-roles.sh passes the psql
-- variables: database, owner_role, owner_password, worker_role, worker_password).
--
--   owner_role   owns the database and its schema; runs the migrations (`mediaworker migrate`,
--                the one-shot `migrate` service), the only role with DDL rights.
--   worker_role  what the workers connect as: reads and writes rows (SELECT, INSERT, UPDATE,
--                DELETE) and uses sequences, in the tables the owner makes now and later;
--                cannot create, alter or drop a table, nor make temporary ones.
\set ON_ERROR_STOP on

CREATE ROLE :"owner_role" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"worker_role" LOGIN PASSWORD :'worker_password';

ALTER DATABASE :"database" OWNER TO :"owner_role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"worker_role";

-- Only the owner creates objects (Postgres 15+ already keeps PUBLIC out of schema public).
ALTER SCHEMA public OWNER TO :"owner_role";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"worker_role";

-- Rows, not structure, in every table and sequence the owner makes from now on ...
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"worker_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"worker_role";
-- ... and in those that exist already (this script run on a database migrated before).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"worker_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"worker_role";
