--
-- URLs the server sends requests to (queues, webhooks), as an ordinary role:
-- the host that is checked is the host libcurl connects to, and URLs with
-- user information are refused.  The reproducers of the security review
-- (shared/security-review/S1_ssrf.sql) first.  No network.
--
\set VERBOSITY default
CREATE ROLE pipeline_mallory LOGIN;
CREATE SCHEMA mallory AUTHORIZATION pipeline_mallory;
-- "aws" has no endpoint: requests go to the queue URL's host
CREATE SERVER aws FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-east-1');
GRANT USAGE ON FOREIGN SERVER aws TO pipeline_mallory;
CREATE USER MAPPING FOR pipeline_mallory SERVER aws
  OPTIONS (access_key_id 'AKIA', secret_access_key 'sekrit');
SET pipeline.webhook_hosts = 'hooks.example.com';

SET ROLE pipeline_mallory;
-- queues: a non-superuser may only poll AWS hosts through a server without endpoint
SELECT pipeline.add_queue('ssrf0', 'http://127.0.0.1:18080/000/q', 'aws');
SELECT pipeline.add_queue('ssrf1', 'http://sqs.us-east-1.amazonaws.com:x@127.0.0.1:18080/000/q', 'aws');
SELECT pipeline.add_queue('ssrf2', 'http://sqs.us-east-1.amazonaws.com@127.0.0.1:18080/000/q', 'aws');
SELECT pipeline.add_queue('ssrf3', 'HTTP://SQS.US-EAST-1.AMAZONAWS.COM:X@127.0.0.1/000/q', 'aws');
SELECT pipeline.add_queue('ssrf4', 'http://sqs.us-east-1.amazonaws.com\@127.0.0.1/000/q', 'aws');
SELECT pipeline.add_queue('ssrf5', 'http://sqs.us-east-1.amazonaws.com.127.0.0.1.nip.io/000/q', 'aws');
SELECT pipeline.add_queue('ssrf6', 'http://[::1]:18080/000/q', 'aws');
SELECT pipeline.add_queue('ssrf7', 'http://2130706433/000/q', 'aws');
SELECT pipeline.add_queue('ssrf8', 'http://amazonaws.com/000/q', 'aws');
SELECT pipeline.add_queue('ssrf9', ' http://sqs.us-east-1.amazonaws.com/000/q', 'aws');
SELECT pipeline.add_queue('ssrf10', 'http:///sqs.us-east-1.amazonaws.com/000/q', 'aws');
-- an AWS host is fine, in any case
SELECT pipeline.add_queue('real', 'https://SQS.us-east-1.amazonaws.com/123456789012/iot-events', 'aws');
SELECT name, url, server FROM pipeline.queues ORDER BY name;
SELECT pipeline.drop_queue('real');

-- webhooks: a non-superuser may only send to pipeline.webhook_hosts
SELECT pipeline.create_report(name => 'wh1', query => 'SELECT 1 AS x', target => 'mallory.wh1',
       webhook => 'http://hooks.example.com:x@127.0.0.1:18080/ssrf-webhook');
SELECT pipeline.create_report(name => 'wh1', query => 'SELECT 1 AS x', target => 'mallory.wh1',
       webhook => 'http://hooks.example.com@127.0.0.1:18080/ssrf-webhook');
SELECT pipeline.create_report(name => 'wh1', query => 'SELECT 1 AS x', target => 'mallory.wh1',
       webhook => 'http://127.0.0.1:18080/hooks.example.com');
SELECT pipeline.create_report(name => 'wh1', query => 'SELECT 1 AS x', target => 'mallory.wh1',
       webhook => 'http://hooks.example.com.evil.net/');
SELECT pipeline.create_report(name => 'wh1', query => 'SELECT 1 AS x', target => 'mallory.wh1',
       webhook => 'gopher://hooks.example.com/');
SELECT count(*) FROM pipeline.reports;
-- the allowed host, in any case, with a port, a path and a query
SELECT pipeline.create_report(name => 'wh1', query => 'SELECT 1 AS x', target => 'mallory.wh1',
       webhook => 'https://HOOKS.example.com:8443/run?from=pipeline');
SELECT name, webhook FROM pipeline.reports;
SELECT pipeline.drop_report('wh1');
RESET ROLE;

-- a superuser may send anywhere, but never with user information either
SELECT pipeline.create_report(name => 'wh2', query => 'SELECT 1 AS x', target => 'mallory.wh2',
       webhook => 'http://user:secret@hooks.internal/');
SELECT pipeline.add_queue('ssrf11', 'http://user:secret@127.0.0.1:18080/000/q', 'aws');

RESET pipeline.webhook_hosts;
DROP SCHEMA mallory CASCADE;
DROP USER MAPPING FOR pipeline_mallory SERVER aws;
DROP SERVER aws;
DROP ROLE pipeline_mallory;
