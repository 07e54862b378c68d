/* src/sql/pipeline--1.2--1.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pipeline UPDATE TO '1.3'" to load this file. \quit

-- Version 1.2 is released: every schema change from here on goes in this
-- script, one block per feature, each under a header naming it.
