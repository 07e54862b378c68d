/* src/sql/pipeline--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pipeline" to load this file. \quit

-------------------------------------------------------------------------------
-- Read: the pipeline_s3 foreign data wrapper
-------------------------------------------------------------------------------

CREATE FUNCTION pipeline.s3_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME', 'pipeline_s3_fdw_handler'
LANGUAGE C STRICT;

CREATE FUNCTION pipeline.s3_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_s3_fdw_validator'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER pipeline_s3
  HANDLER pipeline.s3_fdw_handler
  VALIDATOR pipeline.s3_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER pipeline_s3 IS
  'S3 objects (gzip or plain; JSON or CSV) as foreign tables';

CREATE FUNCTION pipeline.rejects(
  OUT relation regclass,
  OUT uri text,
  OUT record bigint,
  OUT line bigint,
  OUT error text,
  OUT raw text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_rejects'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION pipeline.rejects() IS
  'records that on_error ''skip'' scans of the last statement that skipped any left out, and why';
