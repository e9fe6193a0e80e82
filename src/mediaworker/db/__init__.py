"""Postgres through asyncpg: the pool, numbered migrations, one module of queries per table."""
