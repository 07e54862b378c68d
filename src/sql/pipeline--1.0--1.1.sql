/* src/sql/pipeline--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pipeline UPDATE TO '1.1'" to load this file. \quit

-------------------------------------------------------------------------------
-- Security: every role sees its own queues only
-------------------------------------------------------------------------------

-- The view read pipeline.queues with its owner's rights (bypassing the
-- row-level security that shows each role the queues of roles it belongs
-- to); read it with the reader's.
ALTER VIEW pipeline.status SET (security_invoker = true);
