#!/usr/bin/env bats
# convo on a Citus cluster: a coordinator and two workers on unix
# sockets, the schema migrated and then distributed by
# share/convo/citus.sql, and the main pipeline run against the
# coordinator. Skipped when the citus extension is not installed for the
# PostgreSQL server the tests use.

load helper

FAKE="$BATS_TEST_DIRNAME/fake-twilio"
CITUS_SQL="$BATS_TEST_DIRNAME/../share/convo/citus.sql"
DB=convo_citus
PORT=5432

server_bindir() {
	echo "${CONVO_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin |
	    sort -V | tail -1)}"
}

# Run SQL on node CONNINFO and stop at the first error.
node_sql() {
	psql -X -qAt -v ON_ERROR_STOP=1 "$1" -c "$2"
}

# conninfo_value CONNINFO KEY: print the value of KEY in the libpq
# connection string CONNINFO.
conninfo_value() {
	sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"
}

# Start a server in a new directory for node NAME, with Citus loaded and
# the directory as the node's name, and print its connection string.
start_node() {
	local dir

	dir=$(mktemp -d "/tmp/convo-citus-$1.XXXXXX")
	chmod 711 "$dir"
	echo "$dir" >>"$CLUSTER_DIRS"
	CONVO_PG_OPTIONS="-c shared_preload_libraries=citus \
	    -c citus.local_hostname='$dir' -c max_prepared_transactions=100" \
	    "$BATS_TEST_DIRNAME/pg-server" start "$dir"
}

setup_file() {
	local bindir control library node

	bindir=$(server_bindir)
	control="$("$bindir/pg_config" --sharedir)/extension/citus.control"
	library="$("$bindir/pg_config" --pkglibdir)/citus.so"
	# bats 1.8 cannot skip from setup_file: setup() skips each test.
	if [ ! -f "$control" ] || [ ! -f "$library" ]; then
		export CITUS_MISSING="the citus extension is not installed: no $control (Citus 12.1 is not packaged for Debian 12)"
		return 0
	fi
	CLUSTER_DIRS=$(mktemp /tmp/convo-citus-dirs.XXXXXX)
	export CLUSTER_DIRS
	COORDINATOR=$(start_node coordinator)
	WORKER1=$(start_node worker1)
	WORKER2=$(start_node worker2)
	export COORDINATOR WORKER1 WORKER2

	# Citus 12.1 does not propagate CREATE DATABASE: every node needs
	# the database and the extension.
	for node in "$COORDINATOR" "$WORKER1" "$WORKER2"; do
		node_sql "$node dbname=postgres" "CREATE DATABASE $DB"
		node_sql "$node dbname=$DB" "CREATE EXTENSION citus"
	done
	node_sql "$COORDINATOR dbname=$DB" "SELECT citus_set_coordinator_host(
	    '$(conninfo_value "$COORDINATOR" host)', $PORT)" >/dev/null
	for node in "$WORKER1" "$WORKER2"; do
		node_sql "$COORDINATOR dbname=$DB" "SELECT citus_add_node(
		    '$(conninfo_value "$node" host)', $PORT)" >/dev/null
	done
	CONVO_DB="$COORDINATOR dbname=$DB" convo-db -q migrate
	psql -X -q "$COORDINATOR dbname=$DB" -f "$CITUS_SQL" >/dev/null
}

teardown_file() {
	local dir

	if [ -z "${CLUSTER_DIRS:-}" ]; then
		return 0
	fi
	while IFS= read -r dir; do
		"$BATS_TEST_DIRNAME/pg-server" stop "$dir"
		rm -rf "$dir"
	done <"$CLUSTER_DIRS"
	rm -f "$CLUSTER_DIRS"
}

# The tests share the cluster's database and run in file order.
setup() {
	[ -z "${CITUS_MISSING:-}" ] || skip "$CITUS_MISSING"
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE
	unset CONVO_ACCOUNT CONVO_HOME
	export CONVO_DB="$COORDINATOR dbname=$DB"
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
}

# Record the sample unless an earlier test did.
ingest_sample() {
	[ "$(sql 'SELECT count(*) FROM convo.messages')" -gt 0 ] ||
	    convo-ingest -q "$SAMPLE" >/dev/null
}

start_fake() {
	local i

	rm -f port log.ndjson
	: >script
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

@test "tables are distributed and co-located" {
	run sql "SELECT logicalrelid::regclass, partmethod
	    FROM pg_dist_partition
	    WHERE logicalrelid::regclass::text LIKE 'convo.%'
	    ORDER BY logicalrelid::regclass::text"
	assert_output - <<'EOF'
convo.accounts|n
convo.consent|h
convo.consent_changes|h
convo.conversation_events|h
convo.conversations|h
convo.keyword_packs|n
convo.keywords|h
convo.messages|h
convo.outbox|h
convo.profiles|h
convo.status_events|h
EOF
	run sql "SELECT count(DISTINCT colocationid) FROM pg_dist_partition
	    WHERE logicalrelid::regclass::text LIKE 'convo.%'
	        AND partmethod = 'h'"
	assert_output 1
	run sql "SELECT count(DISTINCT nodename) FROM citus_shards
	    WHERE table_name = 'convo.messages'::regclass"
	assert_output 2
}

@test "ingest records the sample" {
	run --separate-stderr convo-ingest "$SAMPLE"
	assert_success
	run jq -r .result <<<"$output"
	[ "$(grep -c inserted <<<"$output")" -eq 23 ]
	[ "$(grep -c updated <<<"$output")" -eq 5 ]
	run jq -c .counts <<<"$(state)"
	assert_output '{"inbound":9,"messages":14,"outbound":5,"profiles":5,"unread_total":7,"conversations":4,"keyword_messages":2}'
}

@test "page of one account is one task" {
	ingest_sample
	run convo-list --json
	assert_success
	[ "${#lines[@]}" -eq 4 ]
	run sql "EXPLAIN (COSTS OFF) SELECT c.conversation_id
	    FROM convo.conversations c WHERE c.account_id = 1
	    ORDER BY c.last_at DESC, c.conversation_id DESC LIMIT 50"
	assert_line --partial "Task Count: 1"
}

@test "read marks the thread read" {
	ingest_sample
	run convo-read c_1
	assert_success
	run jq -r 'select(.type == "message") | .body' <<<"$output"
	assert_line "Great, I'll pick them up tomorrow. Thanks!"
	run sql "SELECT unread_count FROM convo.conversations
	    WHERE account_id = 1 AND conversation_id = 1"
	assert_output 0
}

@test "reply reaches the provider" {
	ingest_sample
	start_fake
	run --separate-stderr convo-send -q --to +12015550123 \
	    --body "See you tomorrow"
	assert_success
	run jq -r .status <<<"$output"
	assert_output sent
	run jq -r .form.To log.ndjson
	assert_output +12015550123
	run sql "SELECT state FROM convo.outbox WHERE account_id = 1"
	assert_output sent
	run sql "SELECT last_body, last_direction FROM convo.conversations
	    WHERE account_id = 1 AND conversation_id = 1"
	assert_output "See you tomorrow|outbound"
}
