# Shared setup of the bats suite. Each test gets a database of its own,
# copied from the migrated template on the server that tests/run starts.
# A file run on its own starts a server for itself.

bats_load_library bats-support
bats_load_library bats-assert
bats_require_minimum_version 1.5.0
load build

FIXTURES="$BATS_TEST_DIRNAME/fixtures"
SAMPLE="$BATS_TEST_DIRNAME/../share/convo/sample/sample.ndjson"

setup_file() {
	if [ -n "${CONVO_TEST_SERVER:-}" ]; then
		return
	fi
	OWN_SERVER=$(mktemp -d /tmp/convo-test.XXXXXX)
	chmod 711 "$OWN_SERVER"
	CONVO_TEST_SERVER=$("$BATS_TEST_DIRNAME/pg-server" start \
	    "$OWN_SERVER")
	CONVO_DB="$CONVO_TEST_SERVER dbname=convo_template" convo-db -q \
	    migrate
	export OWN_SERVER CONVO_TEST_SERVER
}

teardown_file() {
	if [ -n "${OWN_SERVER:-}" ]; then
		"$BATS_TEST_DIRNAME/pg-server" stop "$OWN_SERVER"
		rm -rf "$OWN_SERVER"
	fi
}

setup() {
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE
	unset CONVO_ACCOUNT CONVO_HOME
	TEST_DB="t_$$_${BATS_SUITE_TEST_NUMBER}"
	# FILE_COPY copies the template's files instead of writing each of
	# its pages to the WAL. A copy and a drop took 63 ms, against 87 ms.
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "CREATE DATABASE $TEST_DB TEMPLATE convo_template
	    STRATEGY FILE_COPY" >/dev/null
	export CONVO_DB="$CONVO_TEST_SERVER dbname=$TEST_DB"
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" >/dev/null
	check_sanitizers
}

# Run one SQL statement in the test's database; print rows as a|b.
sql() {
	psql -X -qAt -v ON_ERROR_STOP=1 "$CONVO_DB" -c "$1"
}

# The corpus of real texts is optional; tests that need it skip without.
need_corpus() {
	if [ -z "${CONVO_CORPUS:-}" ] || [ ! -d "$CONVO_CORPUS" ]; then
		skip "set CONVO_CORPUS to the corpus of real SMS texts"
	fi
}

# Print the account's state in the shape of the corpus's expected
# results (see tests/sql/state.sql).
state() {
	psql -X -qAt -v ON_ERROR_STOP=1 -v account="${1:-default}" \
	    "$CONVO_DB" -f "$BATS_TEST_DIRNAME/sql/state.sql"
}
