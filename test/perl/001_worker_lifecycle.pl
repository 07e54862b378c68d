# test/perl/001_worker_lifecycle.pl
#
# The worker's life cycle, with PostgreSQL's own TAP framework
# (PostgreSQL::Test::Cluster, as contrib and src/test/modules use it):
# the launcher starts with the postmaster, CREATE EXTENSION starts a
# database's worker, a worker killed with SIGKILL comes back after the
# postmaster's crash recovery, a worker that ends with an error is started
# again, DROP DATABASE is never blocked by it, DROP EXTENSION stops it, and
# a restart finds the databases that have the extension.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pipeline');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pipeline'
pipeline.launcher_naptime = 1
restart_after_crash = on
});
$node->start;

sub workers
{
	my ($db) = @_;
	my $where = defined $db ? "AND datname = '$db'" : '';
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pipeline worker' $where");
}

sub worker_pid
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pipeline worker' AND datname = '$db'");
}

ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pipeline launcher'"),
	'the launcher starts with the server');
is(workers(), '0', 'no worker before any database has the extension');

$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION pipeline');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pipeline worker' AND datname = 'app'"),
	'CREATE EXTENSION starts the database\'s worker');

# SIGKILL: the postmaster resets every backend and the launcher starts the
# worker again after recovery
my $pid = worker_pid('app');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pipeline worker' AND datname = 'app' AND pid <> $pid"),
	'a worker killed with SIGKILL is back after crash recovery');
ok($node->log_contains(qr/terminated by signal 9/, $log_offset),
	'the server log says the worker was killed');

# an ordinary termination (SIGTERM from pg_terminate_backend): started again
$pid = worker_pid('app');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pipeline worker' AND datname = 'app' AND pid <> $pid"),
	'a terminated worker is started again');

# DROP DATABASE moves the worker out of the way instead of failing with
# "database is being accessed by other users"
$node->safe_psql('postgres', 'CREATE DATABASE scratch');
$node->safe_psql('scratch', 'CREATE EXTENSION pipeline');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pipeline worker' AND datname = 'scratch'"),
	'a second database gets its own worker');
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE scratch');
is($ret, 0, 'DROP DATABASE of a database with a worker succeeds');
is($stderr, '', 'and says nothing');
is(workers('scratch'), '0', 'its worker is gone');
is(workers('app'), '1', 'the other database\'s worker is untouched');

# a restart finds the databases with the extension
$node->restart;
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pipeline worker' AND datname = 'app'"),
	'after a restart the worker is back');

# DROP EXTENSION stops it; CREATE EXTENSION starts it again
$node->safe_psql('app', 'DROP EXTENSION pipeline');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pipeline worker'"),
	'DROP EXTENSION stops the worker');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pipeline launcher'"),
	'1', 'the launcher stays');
$node->safe_psql('app', 'CREATE EXTENSION pipeline');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pipeline worker' AND datname = 'app'"),
	'CREATE EXTENSION again starts it again');

$node->stop;
done_testing();
