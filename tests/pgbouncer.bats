#!/usr/bin/env bats
# The main pipeline through PgBouncer in transaction pooling mode. The
# pool has two server connections handed out in turn
# (server_round_robin), so consecutive transactions of one program run
# on different server connections, and any session state the programs
# relied on between transactions would be lost.

load helper

FAKE="$BATS_TEST_DIRNAME/fake-twilio"
POOL_SIZE=2

pgbouncer_bin() {
	command -v pgbouncer || { [ -x /usr/sbin/pgbouncer ] &&
	    echo /usr/sbin/pgbouncer; }
}

# PgBouncer rejects running as root ("should not run as root"), so as
# root it runs as postgres, like the test server.
as_pooler() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# conninfo_value CONNINFO KEY: print the value of KEY in the libpq
# connection string CONNINFO.
conninfo_value() {
	sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"
}

setup_file() {
	local bin server user i

	# bats 1.8 cannot skip from setup_file: setup() skips each test.
	if ! bin=$(pgbouncer_bin); then
		export POOLER_MISSING="pgbouncer is not installed (Debian package pgbouncer)"
		return 0
	fi
	# Starts the test server when this file runs on its own.
	if [ -z "${CONVO_TEST_SERVER:-}" ]; then
		OWN_SERVER=$(mktemp -d /tmp/convo-test.XXXXXX)
		chmod 711 "$OWN_SERVER"
		CONVO_TEST_SERVER=$("$BATS_TEST_DIRNAME/pg-server" start \
		    "$OWN_SERVER")
		CONVO_DB="$CONVO_TEST_SERVER dbname=convo_template" convo-db \
		    -q migrate
		export OWN_SERVER CONVO_TEST_SERVER
	fi
	server=$(conninfo_value "$CONVO_TEST_SERVER" host)
	user=$(conninfo_value "$CONVO_TEST_SERVER" user)
	POOLER_DIR=$(mktemp -d /tmp/convo-pgbouncer.XXXXXX)
	chmod 711 "$POOLER_DIR"
	# No TCP listener: clients reach the pooler on its unix socket only.
	cat >"$POOLER_DIR/pgbouncer.ini" <<EOF
[databases]
* = host=$server

[pgbouncer]
listen_addr =
listen_port = 6432
unix_socket_dir = $POOLER_DIR
auth_type = trust
auth_file = $POOLER_DIR/users.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
server_round_robin = 1
max_client_conn = 50
logfile = $POOLER_DIR/pgbouncer.log
pidfile = $POOLER_DIR/pgbouncer.pid
EOF
	printf '"%s" ""\n' "$user" >"$POOLER_DIR/users.txt"
	[ "$(id -u)" -ne 0 ] || chown -R postgres "$POOLER_DIR"
	as_pooler "$bin" -d "$POOLER_DIR/pgbouncer.ini" 3>&- ||
	    fail "pgbouncer did not start: $(cat "$POOLER_DIR/pgbouncer.log")"
	for i in $(seq 50); do
		[ -S "$POOLER_DIR/.s.PGSQL.6432" ] && break
		sleep 0.1
	done
	[ -S "$POOLER_DIR/.s.PGSQL.6432" ] ||
	    fail "pgbouncer did not listen: $(cat "$POOLER_DIR/pgbouncer.log")"
	POOLER="host=$POOLER_DIR port=6432 user=$user"
	export POOLER_DIR POOLER
}

teardown_file() {
	local i

	if [ -n "${POOLER_DIR:-}" ] && [ -f "$POOLER_DIR/pgbouncer.pid" ]; then
		kill "$(cat "$POOLER_DIR/pgbouncer.pid")" 2>/dev/null || true
		for i in $(seq 50); do
			[ -f "$POOLER_DIR/pgbouncer.pid" ] || break
			sleep 0.1
		done
	fi
	[ -z "${POOLER_DIR:-}" ] || rm -rf "$POOLER_DIR"
	if [ -n "${OWN_SERVER:-}" ]; then
		"$BATS_TEST_DIRNAME/pg-server" stop "$OWN_SERVER"
		rm -rf "$OWN_SERVER"
	fi
}

# Open every server connection of the test database's pool, so that
# round robin has more than one to hand out.
fill_pool() {
	local i

	for i in $(seq "$POOL_SIZE"); do
		psql -X -qAt "$POOLER dbname=$1" -c 'SELECT pg_sleep(0.3)' \
		    >/dev/null &
	done
	wait
}

setup() {
	[ -z "${POOLER_MISSING:-}" ] || skip "$POOLER_MISSING"
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE
	unset CONVO_ACCOUNT CONVO_HOME
	TEST_DB="t_$$_${BATS_SUITE_TEST_NUMBER}"
	DIRECT="$CONVO_TEST_SERVER dbname=$TEST_DB"
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "CREATE DATABASE $TEST_DB TEMPLATE convo_template" >/dev/null
	fill_pool "$TEST_DB"
	export CONVO_DB="$POOLER dbname=$TEST_DB"
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	if [ -z "${TEST_DB:-}" ]; then
		return 0
	fi
	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" \
	    -c "DROP DATABASE IF EXISTS ${TEST_DB}_direct WITH (FORCE)" \
	    >/dev/null
}

# Run one SQL statement on the server itself, bypassing the pooler.
direct_sql() {
	psql -X -qAt -v ON_ERROR_STOP=1 "$DIRECT" -c "$1"
}

# Start the fake Twilio API on 127.0.0.1, with one script rule per
# argument.
start_fake() {
	local i

	rm -f port log.ndjson
	printf '%s\n' "$@" >script
	"$FAKE" --port-file port --log log.ndjson --script script \
	    >fake.out 2>fake.err 3>&- &
	FAKE_PID=$!
	for i in $(seq 50); do
		[ -s port ] && break
		sleep 0.1
	done
	[ -s port ] || fail "fake-twilio did not start: $(cat fake.err)"
	export TWILIO_API_BASE="http://127.0.0.1:$(cat port)"
	export CONVO_INSECURE_TLS_FOR_TESTING=1
	export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
	export TWILIO_AUTH_TOKEN=test-token
}

@test "transactions switch server connections" {
	run psql -X -qAt "$CONVO_DB" -c 'SELECT pg_backend_pid()' \
	    -c 'SELECT pg_backend_pid()' -c 'SELECT pg_backend_pid()' \
	    -c 'SELECT pg_backend_pid()'
	assert_success
	[ "$(sort -u <<<"$output" | wc -l)" -eq "$POOL_SIZE" ] ||
	    fail "one client used these server processes: $output"
}

@test "batched ingest matches a direct ingest" {
	run --separate-stderr convo-ingest --batch-size 3 "$SAMPLE"
	assert_success
	run jq -r .result <<<"$output"
	[ "$(grep -c inserted <<<"$output")" -eq 23 ]
	[ "$(grep -c updated <<<"$output")" -eq 5 ]
	refute_line rejected
	pooled=$(state)

	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" -c "CREATE DATABASE \
	    ${TEST_DB}_direct TEMPLATE convo_template" >/dev/null
	CONVO_DB="$CONVO_TEST_SERVER dbname=${TEST_DB}_direct" \
	    convo-ingest -q "$SAMPLE" >/dev/null
	direct=$(CONVO_DB="$CONVO_TEST_SERVER dbname=${TEST_DB}_direct" state)
	assert_equal "$pooled" "$direct"
	run jq -c .counts <<<"$pooled"
	assert_output '{"inbound":9,"messages":14,"outbound":5,"profiles":5,"unread_total":7,"conversations":4,"keyword_messages":2}'
}

@test "concurrent ingests share the pool" {
	local i

	# Four programs, two server connections: every batch waits for a
	# server connection that others used in between.
	for i in 0 1 2 3; do
		awk -v part=$i 'NR % 4 == part' "$SAMPLE" >part$i.ndjson
	done
	for i in 0 1 2 3; do
		convo-ingest -q --batch-size 2 part$i.ndjson >out$i.ndjson \
		    2>err$i &
	done
	wait
	for i in 0 1 2 3; do
		assert_equal "$(cat err$i)" ""
	done
	run jq -r .result out0.ndjson out1.ndjson out2.ndjson out3.ndjson
	refute_line rejected
	run jq -c .counts <<<"$(state)"
	assert_output '{"inbound":9,"messages":14,"outbound":5,"profiles":5,"unread_total":7,"conversations":4,"keyword_messages":2}'
}

@test "list and read mark the thread read" {
	convo-ingest -q "$SAMPLE" >/dev/null
	run convo-list --unread --json
	assert_success
	[ "${#lines[@]}" -eq 4 ]
	run convo-read c_1
	assert_success
	run jq -r 'select(.type == "message") | .body' <<<"$output"
	assert_line --index 0 "Acme: the winter sale starts today, 20% off boots. Reply STOP to opt out."
	assert_line "Great, I'll pick them up tomorrow. Thanks!"
	run direct_sql "SELECT unread_count, last_read_at IS NOT NULL
	    FROM convo.conversations WHERE conversation_id = 1"
	assert_output "0|t"
	run convo-list --unread --json
	[ "${#lines[@]}" -eq 3 ]
}

@test "mark actions change the conversation" {
	convo-ingest -q "$SAMPLE" >/dev/null
	run convo-mark --operator ana --assign cy c_1
	assert_success
	run jq -r .assignee <<<"$output"
	assert_output cy
	run convo-mark --operator ana --snooze-until 2090-01-01T09:00:00Z c_2
	assert_success
	run jq -r '"\(.status) \(.snoozed_until)"' <<<"$output"
	assert_output "snoozed 2090-01-01T09:00:00Z"
	# Confirming an opt-out runs the staging functions of convo-ingest
	# inside convo-mark's transaction.
	run convo-mark --operator ana --confirm-opt-out c_3
	assert_success
	run jq -r '"\(.possible_opt_out) \(.profile.consent)"' <<<"$output"
	assert_output "null unsubscribed"
	run direct_sql "SELECT conversation_id, action, operator
	    FROM convo.conversation_events ORDER BY event_id"
	assert_output - <<'EOF'
1|assign|ana
2|snooze|ana
3|confirm_opt_out|ana
EOF
}

@test "keyword replies and a reply reach the provider" {
	start_fake
	# The sample's times move to the last day, because convo-send sends
	# no reply to a keyword message sent more than 24 hours ago.
	local shift=$(($(date -u +%s) - $(date -u -d 2026-11-21T11:06:17Z +%s)))
	jq -c --argjson d "$shift" 'with_entries(if (.key == "at" or
	    .key == "sent_at") and (.value | type) == "string" then
	    .value |= (fromdateiso8601 + $d | todateiso8601) else . end)' \
	    "$SAMPLE" >recent.ndjson
	run --separate-stderr bash -c "convo-ingest -q recent.ndjson | convo-send -q"
	assert_success
	run jq -r '[.status, .to] | join(" ")' <<<"$output"
	assert_output - <<'EOF'
sent +13125550188
sent +14155550142
EOF
	run --separate-stderr convo-send -q --to +12015550123 \
	    --body "See you tomorrow"
	assert_success
	run jq -r .status <<<"$output"
	assert_output sent
	run jq -r .form.To log.ndjson
	assert_output - <<'EOF'
+13125550188
+14155550142
+12015550123
EOF
	run direct_sql "SELECT state, count(*) FROM convo.outbox GROUP BY 1"
	assert_output "sent|3"
	run direct_sql "SELECT last_body, last_direction
	    FROM convo.conversations WHERE conversation_id = 1"
	assert_output "See you tomorrow|outbound"
}

@test "overlapping sends share the pool" {
	local n first second

	# Slow answers keep each run's claimed rows queued while the other
	# run claims the same messages on the same server connections.
	start_fake "always slow 1"
	for n in $(seq 10 25); do
		printf '{"type":"message","direction":"inbound","from":"+120155510%s","to":"+12025550140","body":"Hi","provider_message_id":"SMin%s","sent_at":"2026-11-02T10:00:00Z"}\n' \
		    "$n" "$n"
		printf '{"type":"consent","phone":"+120155510%s","status":"subscribed","at":"2026-11-01T00:00:00Z"}\n' \
		    "$n"
	done | convo-ingest -q >/dev/null
	for n in $(seq 10 25); do
		printf '{"to":"+120155510%s","body":"Your order shipped"}\n' "$n"
	done >replies.ndjson
	convo-send -q -P 2 --rate 0 <replies.ndjson >a.ndjson 2>a.err &
	first=$!
	sleep 0.5
	convo-send -q -P 2 --rate 0 <replies.ndjson >b.ndjson 2>b.err &
	second=$!
	# Each run leaves the messages the other has queued or in flight to
	# it, so neither reports an unknown outcome.
	wait "$first"
	wait "$second"
	run jq -r .form.To log.ndjson
	assert_equal "$(sort <<<"$output" | uniq -d)" ""
	assert_equal "${#lines[@]}" 16
	run jq -r 'select(.status == "sent") | .to' a.ndjson b.ndjson
	assert_equal "${#lines[@]}" 16
	run direct_sql "SELECT state, count(*) FROM convo.outbox GROUP BY 1"
	assert_output "sent|16"
}

@test "keywords change and reset" {
	run convo-keywords add hours --action custom --reply '{brand}: 9-5'
	assert_success
	run convo-keywords settings --lang en,es --help-contact help@example.com
	assert_success
	run convo-keywords remove hours
	assert_success
	run direct_sql "SELECT count(*) FROM convo.keywords WHERE word = 'hours'"
	assert_output 0
	run direct_sql "SELECT count(*) FROM convo.keywords WHERE lang = 'es'"
	assert_output 10
	run convo-keywords reset
	assert_success
	run direct_sql "SELECT count(*) FROM convo.keywords"
	assert_output 25
}

@test "keyword history names each operator" {
	convo-keywords -o ana add hours --action custom --reply '{brand}: 9-5' \
	    >/dev/null
	# A change on a pooled connection without an operator of its own.
	psql -X -qAt "$CONVO_DB" \
	    -c "UPDATE convo.keywords SET reply = 'Open 9-5' WHERE word = 'hours'"
	run convo-keywords history
	assert_success
	run jq -r 'select(.word == "hours") | [.action, .operator] | join(" ")' \
	    <<<"$output"
	assert_output "$(printf 'add ana\nchange %s' "$(direct_sql 'SELECT current_user')")"
}

@test "migrate leaves no advisory lock" {
	local db="${TEST_DB}_direct" files latest i

	files=$(ls "$BATS_TEST_DIRNAME"/../share/convo/migrations/[0-9]*.sql)
	latest=$(basename "$(tail -1 <<<"$files")")
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "CREATE DATABASE $db" >/dev/null
	fill_pool "$db"
	for i in 1 2 3; do
		CONVO_DB="$POOLER dbname=$db" convo-db -q migrate 2>err$i &
	done
	wait
	for i in 1 2 3; do
		assert_equal "$(cat err$i)" ""
	done
	run psql -X -qAt "$CONVO_TEST_SERVER dbname=$db" \
	    -c 'SELECT count(*), max(version) FROM convo.schema_version'
	assert_output "$(wc -l <<<"$files")|$((10#${latest%%_*}))"
	run psql -X -qAt "$CONVO_TEST_SERVER dbname=$db" \
	    -c "SELECT count(*) FROM pg_locks l JOIN pg_database d
	    ON d.oid = l.database
	    WHERE l.locktype = 'advisory' AND d.datname = '$db'"
	assert_output 0
}
