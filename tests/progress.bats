#!/usr/bin/env bats
# The progress line of convo-ingest and convo-send: drawn only when
# standard error is a terminal, which script(1) provides here, with a
# bar when the input is a regular file, and cleared at the end.

load helper

FAKE="$BATS_TEST_DIRNAME/fake-twilio"
BRAND=+12025550140
CLEAR=$'\r\e[K'

teardown() {
	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" >/dev/null
}

# Write COUNT inbound messages to FILE.
messages() {
	local i
	for ((i = 1; i <= $1; i++)); do
		printf '{"type":"message","direction":"inbound","from":"+1201555%04d","to":"%s","body":"hello %d","provider_message_id":"SMpg%d","sent_at":"2026-11-02T10:00:00Z"}\n' \
		    "$i" "$BRAND" "$i" "$i"
	done >"$2"
}

# Run the shell command CMD on a pseudo-terminal. Its output lands in
# $output without the typescript's header and footer, and without the
# carriage return that the terminal adds before each newline.
on_terminal() {
	run script -qefc "$1" typescript
	output=$(sed -e '/^Script started on /d' -e '/^Script done on /d' \
	    -e 's/\r$//' typescript)
}

# Hold a lock on convo.profiles for SECONDS, so that the first batch of
# an ingest started now waits and the run outlasts the first redraw
# (a quarter of a second) on a machine of any speed.
hold_first_batch() {
	local i

	psql -X -q "$CONVO_DB" >hold.out 2>&1 <<EOF &
BEGIN;
LOCK TABLE convo.profiles IN SHARE MODE;
\\! touch locked
SELECT pg_sleep($1);
COMMIT;
EOF
	for i in $(seq 100); do
		[ -e locked ] && return 0
		sleep 0.05
	done
	fail "the lock was not taken: $(cat hold.out)"
}

start_fake() {
	local i

	"$FAKE" --port-file port --log requests.ndjson \
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

@test "ingest draws a bar on a terminal" {
	messages 600 in.ndjson
	hold_first_batch 0.6
	on_terminal "convo-ingest -b 20 in.ndjson >/dev/null"
	assert_success
	assert_output --regexp '\[#*\.*\] +[0-9]+%  [0-9]+ records  [0-9.]+/s  0:[0-9]{2}'
	[[ $output == *"${CLEAR}convo-ingest: 600 records in "* ]]
	run sql "SELECT count(*) FROM convo.messages"
	assert_output 600
}

@test "ingest bar reaches the file's end" {
	messages 600 in.ndjson
	hold_first_batch 0.6
	on_terminal "convo-ingest -b 20 in.ndjson >/dev/null"
	run grep -o '[0-9]*%' <<<"$(tr '\r' '\n' <<<"$output")"
	assert_success
	# Percentages never go down.
	run sort -c -n <<<"$output"
	assert_success
}

@test "ingest from a pipe counts without a bar" {
	messages 600 in.ndjson
	hold_first_batch 0.6
	on_terminal "cat in.ndjson | convo-ingest -b 20 >/dev/null"
	assert_success
	assert_output --regexp '[0-9]+ records  [0-9.]+/s  0:[0-9]{2}'
	refute_output --partial '%'
}

@test "ingest shows nothing when stderr is a pipe" {
	messages 600 in.ndjson
	on_terminal "convo-ingest -b 20 in.ndjson 2>&1 >/dev/null | cat"
	assert_success
	refute_output --partial $'\r'
	refute_output --partial $'\e'
	assert_output --regexp '^convo-ingest: 600 records in [0-9.]+ s: 600 inserted'
}

@test "ingest shows nothing with -q" {
	messages 600 in.ndjson
	on_terminal "convo-ingest -q -b 20 in.ndjson >/dev/null"
	assert_success
	assert_output ""
}

@test "warnings clear the progress line" {
	local i
	for ((i = 1; i <= 6; i++)); do
		messages 100 part.ndjson
		sed -i "s/SMpg/SMw${i}x/" part.ndjson
		cat part.ndjson
		echo '{"type":"message"}'
	done >in.ndjson
	hold_first_batch 0.6
	on_terminal "convo-ingest -b 20 in.ndjson >/dev/null"
	assert_failure 65
	assert_output --partial "convo-ingest: in.ndjson: line 101: "
	# The bar is drawn while the first batch waits, so later warnings
	# meet it.
	assert_output --partial "${CLEAR}convo-ingest: in.ndjson: line "
	# A warning starts on a cleared line, never after the bar's text.
	refute_output --regexp '(/s  [0-9:]+|%)convo-ingest: in\.ndjson'
}

@test "send draws a bar on a terminal" {
	local i
	start_fake
	for ((i = 1; i <= 6; i++)); do
		printf '{"type":"consent","phone":"+120155501%02d","status":"subscribed","at":"2026-11-01T00:00:00Z"}\n' "$i"
		printf '{"type":"message","direction":"inbound","from":"+120155501%02d","to":"%s","body":"hi","provider_message_id":"SMs%d","sent_at":"2026-11-02T10:00:00Z"}\n' \
		    "$i" "$BRAND" "$i"
	done | convo-ingest -q >/dev/null
	convo-list --limit 0 >threads.ndjson
	on_terminal "convo-send --rate 4 --body 'On its way' <threads.ndjson >results.ndjson"
	assert_success
	assert_output --regexp '\[#*\.*\] +[0-9]+%  [0-9]+ records  [0-9.]+/s  0:[0-9]{2}'
	[[ $output == *"${CLEAR}convo-send: 6 sent, "* ]]
	run jq -r .status results.ndjson
	assert_output "$(printf 'sent\n%.0s' 1 2 3 4 5 6)"
}

@test "send shows nothing when stderr is a pipe" {
	local i
	start_fake
	for ((i = 1; i <= 6; i++)); do
		printf '{"type":"consent","phone":"+120155501%02d","status":"subscribed","at":"2026-11-01T00:00:00Z"}\n' "$i"
		printf '{"type":"message","direction":"inbound","from":"+120155501%02d","to":"%s","body":"hi","provider_message_id":"SMs%d","sent_at":"2026-11-02T10:00:00Z"}\n' \
		    "$i" "$BRAND" "$i"
	done | convo-ingest -q >/dev/null
	convo-list --limit 0 >threads.ndjson
	on_terminal "convo-send --rate 4 --body 'On its way' <threads.ndjson 2>&1 >/dev/null | cat"
	assert_success
	refute_output --partial $'\r\e'
	assert_line --regexp '^convo-send: 6 sent, 0 duplicate'
}
