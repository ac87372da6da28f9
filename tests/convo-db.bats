#!/usr/bin/env bats
# The built-in local database, driven through convo-db. Each test gets
# its own CONVO_HOME under /tmp, because as root the server runs as the
# postgres user, which cannot enter bats's private temporary directory.

bats_load_library bats-support
bats_load_library bats-assert
load build

bats_require_minimum_version 1.5.0

setup() {
	CONVO_DB_BIN="$CONVO_BUILD/bin/convo-db"
	unset CONVO_DB PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE
	CONVO_HOME=$(mktemp -d /tmp/convo-db.XXXXXX)
	chmod 711 "$CONVO_HOME"
	export CONVO_HOME
}

teardown() {
	"$CONVO_DB_BIN" -q stop || true
	rm -rf "$CONVO_HOME"
	check_sanitizers
}

convo_db() {
	"$CONVO_DB_BIN" "$@"
}

@test "account brand with a control character exits 64" {
	run --separate-stderr convo-db account add shop --brand $'Sh\eop'
	assert_failure 64
	assert_equal "$stderr" 'convo-db: --brand contains a control character at byte 3, which replies would send to customers'
}

@test "help after a command shows the help" {
	run --separate-stderr convo-db account add --help
	assert_success
	assert_line --index 0 'usage: convo-db [--db conninfo] [-qv] command [argument ...]'
	assert_equal "$stderr" ""
	run --separate-stderr convo-db archive --before 2025-01 --help
	assert_success
	assert_line --index 0 'usage: convo-db [--db conninfo] [-qv] command [argument ...]'
}

@test "version names convo and libpq" {
	run convo_db --version
	assert_success
	assert_line --index 0 "convo-db 0.1.0"
	assert_line --index 1 --regexp '^libpq [0-9]+\.[0-9]+'
}

@test "unknown command is a usage error" {
	run convo_db frobnicate
	assert_failure 64
	assert_output --partial 'unknown command "frobnicate"'
}

@test "status before init reports no cluster" {
	run convo_db status
	assert_failure 3
	assert_line "home: $CONVO_HOME"
	assert_line "server: not created (run convo-db init)"
}

@test "init creates, starts and migrates" {
	run convo_db init
	assert_success
	assert_output --partial "local database running in $CONVO_HOME"
	run convo_db status
	assert_success
	assert_line "server: running"
	assert_line --regexp '^schema version: ([0-9]+) \(latest \1\)$'
}

@test "init twice keeps one cluster" {
	convo_db -q init
	run convo_db init
	assert_success
	assert_output --partial "schema is up to date"
	run grep -c "running initdb" "$CONVO_HOME/postgresql.log"
	assert_output 1
}

@test "stop then status exits 3" {
	convo_db -q init
	run convo_db stop
	assert_success
	assert_output --partial "stopped the local database"
	[ ! -e "$CONVO_HOME/pgdata/postmaster.pid" ]
	run convo_db status
	assert_failure 3
	assert_line "server: stopped"
}

@test "stop when stopped succeeds" {
	run convo_db stop
	assert_success
	assert_output --partial "is not running"
}

@test "concurrent starts run initdb once" {
	local i
	for i in 1 2 3; do
		"$CONVO_DB_BIN" -q start 2>"$CONVO_HOME/start.$i" &
	done
	wait
	for i in 1 2 3; do
		run cat "$CONVO_HOME/start.$i"
		assert_output ""
	done
	run grep -c "running initdb" "$CONVO_HOME/postgresql.log"
	assert_output 1
	run grep -c "running pg_ctl start" "$CONVO_HOME/postgresql.log"
	assert_output 1
}

@test "server listens on its socket only" {
	convo_db -q init
	run stat -c %a "$CONVO_HOME/run"
	assert_output 700
	[ -S "$CONVO_HOME/run/.s.PGSQL.5432" ]
	run convo_db psql -X -A -t -c "SHOW listen_addresses"
	assert_success
	assert_output ""
}

@test "env points psql at the socket" {
	convo_db -q start
	run convo_db env
	assert_success
	assert_line "export PGHOST='$CONVO_HOME/run'"
	assert_line "export PGDATABASE='convo'"
	assert_line "export PGPORT='5432'"
	eval "$output"
	run convo_db psql -X -A -t -c "SELECT current_database()"
	assert_output convo
}

@test "psql gets the password outside its arguments" {
	local bin="$CONVO_HOME/bin"
	mkdir "$bin"
	# A psql that prints what it was given, beside the initdb that the
	# local database's bin directory must have.
	printf '#!/bin/sh\necho "arguments: $*"\necho "PGPASSWORD=$PGPASSWORD"\n' \
	    >"$bin/psql"
	printf '#!/bin/sh\nexit 1\n' >"$bin/initdb"
	chmod 755 "$bin/psql" "$bin/initdb"
	CONVO_PG_BINDIR=$bin run convo_db \
	    --db "host=/nonexistent dbname=x password=pw-7a1c" psql -X -c 'SELECT 1'
	assert_success
	assert_line "arguments: -X -c SELECT 1"
	assert_line "PGPASSWORD=pw-7a1c"
}

@test "start after a crash recovers" {
	local pid state i
	convo_db -q init
	pid=$(head -n 1 "$CONVO_HOME/pgdata/postmaster.pid")
	kill -9 "$pid"
	# The signal takes effect a moment later, and a start before that
	# finds the server running.
	for ((i = 0; i < 100; i++)); do
		state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) ||
		    state=
		case $state in '' | Z | X) break ;; esac
		sleep 0.05
	done
	run convo_db start
	assert_success
	run convo_db status
	assert_success
	assert_line "server: running"
}

@test "long home is a configuration error" {
	CONVO_HOME=/tmp/$(printf 'd%.0s' $(seq 1 100)) run convo_db status
	assert_failure 78
	assert_output --partial "set CONVO_HOME to a shorter directory"
}

@test "home with a double quote is rejected" {
	CONVO_HOME='/tmp/convo"db' run convo_db start
	assert_failure 78
	assert_output --partial "pg_ctl cannot quote"
}

@test "home with a space and a quote works" {
	local home="$CONVO_HOME/it's here"
	CONVO_HOME=$home run convo_db -q init
	assert_success
	CONVO_HOME=$home run convo_db psql -X -A -t -c "SELECT 1"
	assert_output 1
	CONVO_HOME=$home run convo_db -q stop
	assert_success
}

@test "explicit connection is noted by status" {
	convo_db -q start
	CONVO_DB="host=$CONVO_HOME/run dbname=convo" run convo_db status
	assert_success
	assert_output --partial "acts on the local database only"
}

@test "account add then list" {
	convo_db -q init
	run convo_db account add acme --country gb --brand "Acme Ltd"
	assert_success
	run convo_db account list
	assert_success
	assert_line '{"type":"account","name":"acme","country":"GB","brand_name":"Acme Ltd"}'
}

@test "account add twice fails" {
	convo_db -q init
	convo_db -q account add acme
	run convo_db account add acme
	assert_failure 65
	assert_output --partial 'account "acme" already exists'
}

@test "account add rejects empty or invalid brand" {
	local brand
	# Keyword replies start with the brand name.
	for brand in "" "   " $'\t' $'\xff'; do
		run convo_db account add acme --brand "$brand"
		[ "$status" -eq 64 ] || fail "--brand '$brand' exits $status"
		[[ $output == *"--brand"* ]] || fail "--brand '$brand' wrote: $output"
	done
	run convo_db account list
	refute_output --partial '"acme"'
}

@test "account add rejects unknown country" {
	run convo_db account add acme --country ZZ
	assert_failure 64
	assert_output --partial 'unknown country code "ZZ"'
}
