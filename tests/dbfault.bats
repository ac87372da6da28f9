#!/usr/bin/env bats
# Database faults: the server stopped part-way through a run, a statement
# timeout and a read-only database. Each ends the program with a clear
# message and exit status 69 or 75, leaves nothing half-written, and a
# run after the fault is gone completes.

load helper
load consistency

# Run tests/pg-server COMMAND on the test's own server, from a directory
# that the server's user may enter.
fault_server() {
	(cd / && "$BATS_TEST_DIRNAME/pg-server" "$1" "$FAULT_SERVER")
}

# Start a server of the test's own, which the test may stop, with a
# migrated database "convo", and point CONVO_DB at it.
own_server() {
	FAULT_SERVER=$(mktemp -d /tmp/convo-fault.XXXXXX)
	chmod 711 "$FAULT_SERVER"
	FAULT_CONN=$(fault_server start)
	psql -X -q "$FAULT_CONN dbname=postgres" -c "CREATE DATABASE convo" \
	    >/dev/null
	export CONVO_DB="$FAULT_CONN dbname=convo"
	convo-db -q migrate
}

teardown() {
	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
	if [ -n "${HOLDER_PID:-}" ]; then
		exec 5>&- || true
		wait "$HOLDER_PID" || true
	fi
	if [ -n "${FAULT_SERVER:-}" ]; then
		fault_server stop
		rm -rf "$FAULT_SERVER"
	fi
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" >/dev/null
	if [ -n "${REF_DB:-}" ]; then
		psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
		    -c "DROP DATABASE IF EXISTS $REF_DB WITH (FORCE)" >/dev/null
	fi
}

@test "server stopped mid-ingest exits 69" {
	local pid status=0
	"$GEN_INPUT" 10000 300 51 >input.ndjson
	reference_state input.ndjson >expected.json
	own_server
	convo-ingest -q --batch-size 200 input.ndjson >first.out \
	    2>first.err 3>&- &
	pid=$!
	wait_until "SELECT count(*) FROM convo.messages" 2000 120
	fault_server stop
	wait "$pid" || status=$?
	assert_equal "$status" 69
	run cat first.err
	assert_line --regexp '^convo-ingest: (cannot record the batch|database statement failed): (server closed the connection|no connection to the server|could not receive data)'
	fault_server restart
	# The batches committed before the stop are whole.
	run convo-db verify
	assert_success
	run convo-ingest -q --batch-size 200 input.ndjson
	assert_success
	state >actual.json
	run jq -n --slurpfile a actual.json --slurpfile e expected.json \
	    '$a == $e'
	assert_output "true"
	run convo-db verify
	assert_success
}

@test "server stopped mid-send exits 69" {
	local pid i status=0
	own_server
	start_fake ok ok ok ok ok "slow 3" "slow 3" "slow 3" "slow 3" \
	    "always ok"
	customers 30
	send_replies >first.out 2>first.err 3>&- &
	pid=$!
	for i in $(seq 100); do
		[ "$(requests)" -ge 9 ] && break
		sleep 0.1
	done
	fault_server stop
	wait "$pid" || status=$?
	assert_equal "$status" 69
	run cat first.err
	assert_output --partial "convo-send: database statement failed:"
	fault_server restart
	run --separate-stderr send_replies
	echo "$output" >rerun.out
	assert_failure 75
	assert_sent_once 30
	run wc -l <unknown.txt
	assert_output "4"
}

@test "statement timeout exits 75" {
	echo '{"type":"message","direction":"inbound","from":"+12015550001","to":"+12025550140","body":"hi","provider_message_id":"SM1","sent_at":"2026-11-01T10:00:00Z"}' |
	    convo-ingest -q >/dev/null
	sql "ALTER DATABASE $TEST_DB SET statement_timeout = '1s'"
	# An operator's transaction holds the thread for longer.
	hold "SELECT 1 FROM convo.conversations FOR UPDATE;"
	echo '{"type":"message","direction":"inbound","from":"+12015550001","to":"+12025550140","body":"again","provider_message_id":"SM2","sent_at":"2026-11-01T10:01:00Z"}' \
	    >input.ndjson
	run convo-ingest -q input.ndjson
	assert_failure 75
	assert_output "convo-ingest: cannot record the batch: canceling statement due to statement timeout; retry, or raise statement_timeout for this database or role"
	release
	run sql "SELECT count(*) FROM convo.messages"
	assert_output "1"
	run convo-ingest -q input.ndjson
	assert_success
	run sql "SELECT unread_count FROM convo.conversations"
	assert_output "2"
}

@test "read-only database exits 69" {
	start_fake
	customers 2
	sql "ALTER DATABASE $TEST_DB SET default_transaction_read_only = on"
	echo '{"type":"consent","phone":"+12015551001","status":"subscribed","at":"2026-11-03T00:00:00Z"}' \
	    >input.ndjson
	run convo-ingest -q input.ndjson
	assert_failure 69
	assert_output --partial "in a read-only transaction; the database accepts no writes (a standby, or default_transaction_read_only is on)"
	run send_replies
	assert_failure 69
	assert_output --partial "convo-send: database statement failed: cannot execute INSERT in a read-only transaction"
	run requests
	assert_output "0"
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "ALTER DATABASE $TEST_DB RESET default_transaction_read_only"
	run convo-ingest -q input.ndjson
	assert_success
	run --separate-stderr send_replies
	assert_success
	run requests
	assert_output "2"
}
