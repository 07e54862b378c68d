# tools/testenv.sh
#	Source this to start a throw-away PostgreSQL cluster and the S3/SQS/SNS
#	emulator, both on 127.0.0.1, stopped again when the shell exits (also
#	when a test fails or the run is interrupted).
#
#	testenv_start [extra postgresql.conf lines...]
#	  exports PGHOST PGPORT PGUSER PGDATABASE PIPELINE_S3_ENDPOINT
#	  TESTENV_DIR (logs are in $TESTENV_DIR/postgres.log and emulator.log)
#	testenv_restart_pg   restart the cluster (after kill -9 tests, say)
#	testenv_stop         also run on exit
#
# initdb and pg_ctl refuse to run as root: the cluster runs as the
# "postgres" OS user, in a directory it owns.

TESTENV_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TESTENV_PGBIN=$(pg_config --bindir)
TESTENV_NODE="$TESTENV_TOP/tools/node/node"

# Emulator credentials: key:secret[:session token]
TESTENV_CREDENTIALS="test:test,alice:alice-secret,bob:bob-secret,temp:temp-secret:temp-token"

_testenv_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

_testenv_free_port() {
	"$TESTENV_NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

testenv_start() {
	TESTENV_DIR=$(mktemp -d /tmp/pipeline-test.XXXXXX)
	chmod 755 "$TESTENV_DIR"
	export TESTENV_DIR
	trap testenv_stop EXIT
	trap 'exit 130' INT TERM

	# the emulator
	"$TESTENV_NODE" "$TESTENV_TOP/tools/node/emulator.mjs" --port 0 \
		--port-file "$TESTENV_DIR/emulator.port" \
		--credentials "$TESTENV_CREDENTIALS" \
		>"$TESTENV_DIR/emulator.log" 2>&1 &
	TESTENV_EMULATOR_PID=$!
	for _ in $(seq 1 200); do
		[ -s "$TESTENV_DIR/emulator.port" ] && break
		if ! kill -0 "$TESTENV_EMULATOR_PID" 2>/dev/null; then
			cat "$TESTENV_DIR/emulator.log" >&2
			echo "testenv: the emulator did not start" >&2
			return 1
		fi
		sleep 0.05
	done
	PIPELINE_S3_ENDPOINT="http://127.0.0.1:$(cat "$TESTENV_DIR/emulator.port")"
	export PIPELINE_S3_ENDPOINT

	# the cluster
	mkdir -p "$TESTENV_DIR/data" "$TESTENV_DIR/sock"
	chown postgres: "$TESTENV_DIR/data" "$TESTENV_DIR/sock" 2>/dev/null || true
	touch "$TESTENV_DIR/postgres.log"
	chown postgres: "$TESTENV_DIR/postgres.log" 2>/dev/null || true
	_testenv_as_pg "$TESTENV_PGBIN/initdb" -D "$TESTENV_DIR/data" -U postgres \
		--auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$TESTENV_DIR/initdb.log" 2>&1 \
		|| { cat "$TESTENV_DIR/initdb.log" >&2; return 1; }
	PGPORT=$(_testenv_free_port)
	cat >>"$TESTENV_DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$TESTENV_DIR/sock'
shared_preload_libraries = 'pipeline'
max_worker_processes = 32
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%a '
log_min_messages = info
CONF
	for line in "$@"; do
		echo "$line" >>"$TESTENV_DIR/data/postgresql.conf"
	done
	testenv_start_pg
	export PGHOST="$TESTENV_DIR/sock" PGPORT PGUSER=postgres PGDATABASE=postgres
}

testenv_start_pg() {
	# ambient AWS credentials of the server process (superuser fallback)
	_testenv_as_pg env AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
		"$TESTENV_PGBIN/pg_ctl" -D "$TESTENV_DIR/data" -l "$TESTENV_DIR/postgres.log" \
		-w -t 60 start >/dev/null \
		|| { tail -50 "$TESTENV_DIR/postgres.log" >&2; return 1; }
}

testenv_restart_pg() {
	_testenv_as_pg "$TESTENV_PGBIN/pg_ctl" -D "$TESTENV_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	testenv_start_pg
}

testenv_stop() {
	local rc=$?
	trap - EXIT
	if [ -n "${TESTENV_DIR:-}" ] && [ -d "$TESTENV_DIR" ]; then
		if [ -f "$TESTENV_DIR/data/postmaster.pid" ]; then
			_testenv_as_pg "$TESTENV_PGBIN/pg_ctl" -D "$TESTENV_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
		fi
		if [ -n "${TESTENV_EMULATOR_PID:-}" ]; then
			kill "$TESTENV_EMULATOR_PID" 2>/dev/null || true
			wait "$TESTENV_EMULATOR_PID" 2>/dev/null || true
		fi
		if [ "$rc" -ne 0 ]; then
			echo "--- last lines of the server log ($TESTENV_DIR/postgres.log) ---" >&2
			tail -40 "$TESTENV_DIR/postgres.log" >&2 || true
		fi
		if [ "$rc" -eq 0 ] || [ -z "${TESTENV_KEEP:-}" ]; then
			rm -rf "$TESTENV_DIR"
		fi
	fi
	exit "$rc"
}
