--
-- Options of the pipeline_s3 foreign data wrapper: what is accepted, what is
-- refused and how the errors read.  No network: nothing here is scanned.
--
\set VERBOSITY default

-- servers
CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3
  OPTIONS (region 'us-east-1', endpoint 'http://127.0.0.1:9');
CREATE SERVER bad1 FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (bucket 'x');
CREATE SERVER bad2 FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint 'ftp://host');
CREATE SERVER bad3 FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint 'http://host/path');
CREATE SERVER bad4 FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint 'http://user:pw@host');
CREATE SERVER bad5 FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (url_style 'sideways');
CREATE SERVER bad6 FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'US East');
CREATE SERVER bad7 FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'a', region 'b');
CREATE SERVER aws FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'eu-west-1', url_style 'virtual');
CREATE SERVER withslash FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint 'https://s3.example.com:9000/');

-- user mappings: keys come in pairs, and only here
CREATE USER MAPPING FOR CURRENT_USER SERVER lake
  OPTIONS (access_key_id 'AKIA', secret_access_key 'sekrit');
CREATE USER MAPPING FOR PUBLIC SERVER lake OPTIONS (access_key_id 'AKIA');
CREATE USER MAPPING FOR PUBLIC SERVER lake OPTIONS (region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER aws OPTIONS (session_token 't');
DROP USER MAPPING FOR PUBLIC SERVER aws;

-- foreign tables
CREATE FOREIGN TABLE t_nouri (a int) SERVER lake;
CREATE FOREIGN TABLE t_baduri (a int) SERVER lake OPTIONS (uri 'http://iot/raw/');
CREATE FOREIGN TABLE t_nobucket (a int) SERVER lake OPTIONS (uri 's3:///raw/');
CREATE FOREIGN TABLE t_format (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'xml');
CREATE FOREIGN TABLE t_comp (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', compression 'zstd');
CREATE FOREIGN TABLE t_onerr (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', on_error 'ignore');
CREATE FOREIGN TABLE t_csvopt (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', delimiter ';');
CREATE FOREIGN TABLE t_delim (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'csv', delimiter ';;');
CREATE FOREIGN TABLE t_header (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'csv', header 'maybe');
-- a delimiter equal to the quote, or a line end as either, could never be read back
CREATE FOREIGN TABLE t_dq (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'csv', delimiter '|', quote '|');
CREATE FOREIGN TABLE t_dq2 (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'csv', delimiter '"');
CREATE FOREIGN TABLE t_dq3 (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'csv', quote ',');
CREATE FOREIGN TABLE t_nl (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'csv', delimiter E'\n');
CREATE FOREIGN TABLE t_cr (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'csv', delimiter E'\r');
CREATE FOREIGN TABLE t_qnl (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'csv', quote E'\n');
CREATE FOREIGN TABLE t_qcr (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'csv', quote E'\r');
-- swapped is fine; so is a tab
CREATE FOREIGN TABLE t_swap (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'csv', delimiter '"', quote ',');
CREATE FOREIGN TABLE t_tab (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', format 'csv', delimiter E'\t');
ALTER FOREIGN TABLE t_swap OPTIONS (SET quote '"');
DROP FOREIGN TABLE t_swap, t_tab;
CREATE FOREIGN TABLE t_secret (a int) SERVER lake OPTIONS (uri 's3://iot/raw/', secret_access_key 'x');
CREATE FOREIGN TABLE t_meta (a int OPTIONS (metadata 'etag')) SERVER lake OPTIONS (uri 's3://iot/raw/');
CREATE FOREIGN TABLE t_both (a text OPTIONS (metadata 'uri', field 'a')) SERVER lake OPTIONS (uri 's3://iot/raw/');
CREATE FOREIGN TABLE t_emptyfield (a text OPTIONS (field '')) SERVER lake OPTIONS (uri 's3://iot/raw/');
CREATE FOREIGN TABLE t_colopt (a text OPTIONS (format 'json')) SERVER lake OPTIONS (uri 's3://iot/raw/');
CREATE FOREIGN TABLE t_part (a text OPTIONS (partition 'dt=1')) SERVER lake OPTIONS (uri 's3://iot/raw/');
CREATE FOREIGN TABLE t_part2 (a text OPTIONS (partition 'dt', metadata 'key')) SERVER lake OPTIONS (uri 's3://iot/raw/');

CREATE FOREIGN TABLE deviceping (
  device_id text,
  battery   float8,
  ts        timestamptz,
  lat       float8 OPTIONS (field 'loc.lat'),
  src       text   OPTIONS (metadata 'uri'),
  k         text   OPTIONS (metadata 'key'),
  sz        bigint OPTIONS (metadata 'size'),
  lm        timestamptz OPTIONS (metadata 'last_modified'),
  ln        bigint OPTIONS (metadata 'line')
) SERVER lake OPTIONS (uri 's3://iot/raw/v0/deviceping/', format 'json',
                       compression 'auto', on_error 'stop');
CREATE FOREIGN TABLE athena (day date, n int)
  SERVER lake OPTIONS (uri 's3://iot/athena/out.csv', format 'csv', delimiter ',',
                       quote '"', header 'true', null 'NULL');

-- altering keeps validating
ALTER FOREIGN TABLE deviceping OPTIONS (SET format 'yaml');
ALTER FOREIGN TABLE deviceping OPTIONS (ADD on_error 'skip');
ALTER FOREIGN TABLE deviceping OPTIONS (SET on_error 'skip');
ALTER FOREIGN TABLE deviceping ALTER COLUMN battery OPTIONS (ADD metadata 'size');

SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'deviceping'::regclass;

-- only superusers choose where requests go
CREATE ROLE pipeline_alice LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER pipeline_s3 TO pipeline_alice;
SET ROLE pipeline_alice;
CREATE SERVER alice_s3 FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint 'http://169.254.169.254');
CREATE SERVER alice_aws FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-west-2');
DROP SERVER alice_aws;
RESET ROLE;

-- secrets stay out of pg_user_mappings for other roles
CREATE USER MAPPING FOR pipeline_alice SERVER lake
  OPTIONS (access_key_id 'alice', secret_access_key 'alice-secret');
SELECT srvname, usename, umoptions FROM pg_user_mappings WHERE srvname = 'lake' ORDER BY usename;
SET ROLE pipeline_alice;
SELECT srvname, usename, umoptions FROM pg_user_mappings WHERE srvname = 'lake' ORDER BY usename;
RESET ROLE;

DROP USER MAPPING FOR pipeline_alice SERVER lake;
REVOKE USAGE ON FOREIGN DATA WRAPPER pipeline_s3 FROM pipeline_alice;
DROP ROLE pipeline_alice;
DROP SERVER lake CASCADE;
DROP SERVER aws, withslash;
