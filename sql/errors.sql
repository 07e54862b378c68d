--
-- Errors raised before any request is sent, and the plan of a scan whose
-- objects come from a filter (no listing).  No network is needed: the
-- endpoint is a closed port.
--
\set VERBOSITY default
SET pipeline.s3_max_retries = 0;

CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3
  OPTIONS (region 'us-east-1', endpoint 'http://127.0.0.1:9');
CREATE FOREIGN TABLE deviceping (
  device_id text,
  battery   float8,
  src       text OPTIONS (metadata 'uri'),
  k         text OPTIONS (metadata 'key')
) SERVER lake OPTIONS (uri 's3://iot/raw/v0/deviceping/');

-- no user mapping at all
SELECT * FROM deviceping;

-- a non-superuser without keys never gets the server's own credentials
CREATE ROLE pipeline_bob LOGIN;
GRANT SELECT ON deviceping TO pipeline_bob;
CREATE USER MAPPING FOR pipeline_bob SERVER lake;
SET ROLE pipeline_bob;
SELECT * FROM deviceping;
RESET ROLE;

-- a superuser with keys reaches the network; the port is closed
CREATE USER MAPPING FOR CURRENT_USER SERVER lake
  OPTIONS (access_key_id 'AKIA', secret_access_key 'never-printed');
\set VERBOSITY terse
SELECT * FROM deviceping;
\set VERBOSITY default

-- filters on the uri and key columns choose the objects: no listing
EXPLAIN (COSTS OFF)
  SELECT device_id FROM deviceping WHERE src = 's3://iot/raw/v0/deviceping/a.json.gz';
EXPLAIN (COSTS OFF)
  SELECT device_id FROM deviceping WHERE src = ANY ('{s3://iot/raw/v0/deviceping/a.json,s3://iot/raw/v0/deviceping/b.json}');
EXPLAIN (COSTS OFF)
  SELECT device_id FROM deviceping WHERE k IN ('raw/v0/deviceping/a.json', 'raw/v0/deviceping/b.json');
EXPLAIN (COSTS OFF)
  SELECT device_id FROM deviceping WHERE 's3://iot/raw/v0/deviceping/a.json.gz' = src;
-- ...including values known only at execution
PREPARE q(text[]) AS SELECT device_id FROM deviceping WHERE src = ANY ($1);
EXPLAIN (COSTS OFF) EXECUTE q('{s3://iot/raw/v0/deviceping/a.json}');
DEALLOCATE q;
-- objects outside the table's prefix or bucket hold none of its rows: no request at all
SELECT count(*) FROM deviceping WHERE src = 's3://other/raw/v0/deviceping/a.json';
SELECT count(*) FROM deviceping WHERE src = ANY ('{s3://iot/elsewhere/a.json,https://iot/x,NULL}');
SELECT count(*) FROM deviceping WHERE k = 'raw/v0/other/a.json';

-- secrets appear in no error and no plan
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM deviceping WHERE src = 's3://iot/raw/v0/deviceping/a.json';

-- the rejects of this session: none yet
SELECT * FROM pipeline.rejects();

-- settings live under pipeline.
SHOW pipeline.s3_max_retries;
SET pipeline.no_such_setting = 1;

DROP USER MAPPING FOR pipeline_bob SERVER lake;
DROP OWNED BY pipeline_bob;
DROP ROLE pipeline_bob;
DROP SERVER lake CASCADE;
