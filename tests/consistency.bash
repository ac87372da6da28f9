# Helpers of the tests that kill, race or cut off the programs: generated
# input, a reference database, checks for duplicates, a psql session that
# holds locks, and a fake Twilio API with customers to send to.

GEN_INPUT="$BATS_TEST_DIRNAME/gen-input"
FAKE="$BATS_TEST_DIRNAME/fake-twilio"

# Drop the databases and stop the processes a test left behind.
teardown() {
	if [ -n "${HOLDER_PID:-}" ]; then
		exec 5>&- || true
		wait "$HOLDER_PID" || true
	fi
	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" >/dev/null
	if [ -n "${REF_DB:-}" ]; then
		psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
		    -c "DROP DATABASE IF EXISTS $REF_DB WITH (FORCE)" >/dev/null
	fi
}

# Record FILE in a database of its own, in one uninterrupted run, and
# print its state (tests/sql/state.sql).
reference_state() {
	REF_DB="${TEST_DB}_ref"
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "CREATE DATABASE $REF_DB TEMPLATE convo_template" >/dev/null
	CONVO_DB="$CONVO_TEST_SERVER dbname=$REF_DB" \
	    convo-ingest -q --batch-size 500 "$1" >/dev/null
	CONVO_DB="$CONVO_TEST_SERVER dbname=$REF_DB" state
}

# Print the number of rows that repeat a message, receipt or consent
# change; the unique constraints should keep it at 0.
duplicates() {
	sql "SELECT (SELECT count(*) - count(DISTINCT (provider,
	        provider_message_id)) FROM convo.messages)
	    + (SELECT count(*) - count(DISTINCT (provider,
	        provider_message_id, status, error_code))
	        FROM convo.status_events)
	    + (SELECT count(*) - count(DISTINCT (profile_id, channel, at,
	        status, method, message_id, provider_message_id))
	        FROM convo.consent_changes)"
}

# Print the number of distinct messages in the NDJSON file FILE.
input_messages() {
	jq -r 'select(.type == "message") | .provider_message_id' "$1" |
	    sort -u | wc -l
}

# Poll the SQL count until it reaches N, for up to SECONDS (default 10).
wait_until() {
	local i
	for i in $(seq $((${3:-10} * 10))); do
		[ "$(sql "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "timed out waiting for $2 from: $1"
}

# Wait until N convo programs wait for a lock.
wait_for_waiters() {
	wait_until "SELECT count(*) FROM pg_stat_activity
	    WHERE datname = current_database()
	    AND application_name LIKE 'convo-%'
	    AND wait_event_type = 'Lock'" "$1"
}

# Open a psql session, named holder, that reads SQL from file descriptor
# 5, and run SQL in a transaction there, which stays open until release.
hold() {
	rm -f holder.fifo
	mkfifo holder.fifo
	psql -X -q -v ON_ERROR_STOP=1 "$CONVO_DB application_name=holder" \
	    <holder.fifo >holder.out 2>&1 3>&- &
	HOLDER_PID=$!
	exec 5>holder.fifo
	echo "BEGIN; $1" >&5
	wait_until "SELECT count(*) FROM pg_stat_activity
	    WHERE datname = current_database() AND application_name = 'holder'
	    AND state = 'idle in transaction'" 1
}

release() {
	echo "COMMIT;" >&5
	exec 5>&-
	wait "$HOLDER_PID"
	HOLDER_PID=
}

# Start the fake Twilio API with one script rule per argument.
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

# Print the number of requests the fake API received.
requests() {
	[ -f log.ndjson ] || { echo 0; return; }
	wc -l <log.ndjson | tr -d ' '
}

# Record N subscribed customers who wrote in, +12015551001 and up, and
# write recipients.ndjson with one record naming each.
customers() {
	local n=$1 i phone
	for i in $(seq "$n"); do
		phone=+1201555$((1000 + i))
		printf '{"type":"consent","phone":"%s","status":"subscribed","at":"2026-11-01T00:00:00Z"}\n' "$phone"
		printf '{"type":"message","direction":"inbound","from":"%s","to":"+12025550140","body":"Any news on my order?","provider_message_id":"SMc%s","sent_at":"2026-11-02T10:00:00Z"}\n' "$phone" "$i"
	done | convo-ingest -q >/dev/null
	for i in $(seq "$n"); do
		printf '{"to":"+1201555%d"}\n' $((1000 + i))
	done >recipients.ndjson
}

# Send the reply of the crash tests to every customer of recipients.ndjson.
send_replies() {
	convo-send -q --rate 0 --parallel 4 --body "Your order has shipped" \
	    <recipients.ndjson
}

# Check what a killed or cut-off bulk send and its re-run, whose output
# is in rerun.out, did to N customers. No customer got two requests.
# Each customer got one request and has the reply recorded, or is
# reported unknown, and the unknown ones are exactly the replies still
# marked as sending. The database verifies clean.
assert_sent_once() {
	local n=$1
	run jq -r '.form.To' log.ndjson
	refute_output ""
	run bash -c "jq -r '.form.To' log.ndjson | sort | uniq -d"
	assert_output ""
	jq -r 'select(.status == "unknown") | .to' rerun.out | sort \
	    >unknown.txt
	jq -r '.form.To' log.ndjson | sort >requested.txt
	sql "SELECT to_address FROM convo.outbox WHERE state = 'sent'
	    ORDER BY 1" >sent.txt
	sql "SELECT to_address FROM convo.outbox WHERE state = 'sending'
	    ORDER BY 1" >sending.txt
	# Recorded as sent: requested once, stored in the thread.
	run comm -23 sent.txt requested.txt
	assert_output ""
	run sql "SELECT count(*) FROM convo.messages
	    WHERE direction = 'outbound'"
	assert_output "$(wc -l <sent.txt)"
	# Every other request is of a reply still marked as sending.
	run bash -c "comm -23 requested.txt sent.txt | comm -23 - sending.txt"
	assert_output ""
	# Those are exactly the replies reported unknown.
	run cmp sending.txt unknown.txt
	assert_success
	run bash -c "sort -m sent.txt sending.txt | uniq -d"
	assert_output ""
	assert_equal "$(($(wc -l <sent.txt) + $(wc -l <sending.txt)))" "$n"
	run convo-db verify
	assert_success
}
