-- Run once, when the data directory is new: the databases beside POSTGRES_DB (flowyard, the platform's), and
-- Prefect's pg_trgm extension, which its migrations would otherwise need a superuser for.
CREATE DATABASE flowyard_vault;
CREATE DATABASE prefect;
\connect prefect
CREATE EXTENSION IF NOT EXISTS pg_trgm;
