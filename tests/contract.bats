#!/usr/bin/env bats
# convo-send against Stoplight Prism's mock server for Twilio's published
# OpenAPI spec, $CONVO_CORPUS/twilio_api_v2010.yaml. Prism runs with
# --errors, so a request that breaks the spec gets 422 in place of the
# spec's example 201 response, and Prism's log names each violation.
# scripts/install-prism installs Prism. Without it or the spec, the tests
# skip.

load helper

PRISM="$BATS_TEST_DIRNAME/../.cache/prism/node_modules/.bin/prism"
BRAND=+12025550140
ACCOUNT_SID=AC0123456789abcdef0123456789abcdef
SERVICE_SID=MG0123456789abcdef0123456789abcdef
# Prism 5.14.2 on Node 20 took under 5 s to load Twilio's spec in local
# runs, so 60 s leaves room for slow machines.
PRISM_START_TIMEOUT=60

# Start Prism on a port the kernel picks and point convo-send at it.
start_prism() {
	local spec="${CONVO_CORPUS:-}/twilio_api_v2010.yaml" deadline i

	if [ -z "${CONVO_CORPUS:-}" ] || [ ! -f "$spec" ]; then
		skip "set CONVO_CORPUS to a directory containing twilio_api_v2010.yaml"
	fi
	if [ ! -x "$PRISM" ]; then
		skip "run scripts/install-prism to install Prism in .cache/prism"
	fi

	node "$BATS_TEST_DIRNAME/spec-encoding.js" "$spec" spec.json ||
	    fail "cannot convert $spec"
	"$PRISM" mock -h 127.0.0.1 -p 0 --errors spec.json >prism.log 2>&1 3>&- &
	PRISM_PID=$!
	PRISM_PORT=
	deadline=$((SECONDS + PRISM_START_TIMEOUT))
	for i in $(seq $((PRISM_START_TIMEOUT * 10))); do
		PRISM_PORT=$(sed -n 's|.*Prism is listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' prism.log)
		[ -n "$PRISM_PORT" ] && break
		kill -0 "$PRISM_PID" 2>/dev/null || break
		[ "$SECONDS" -lt "$deadline" ] || break
		sleep 0.1
	done
	if [ -z "$PRISM_PORT" ]; then
		fail "Prism did not listen within ${PRISM_START_TIMEOUT}s; last lines of its log:
$(tail -n 20 prism.log)"
	fi

	export TWILIO_API_BASE="http://127.0.0.1:$PRISM_PORT"
	# The fake speaks plain http on loopback, which needs this setting.
	export CONVO_INSECURE_TLS_FOR_TESTING=1
	export TWILIO_ACCOUNT_SID="$ACCOUNT_SID"
	export TWILIO_AUTH_TOKEN=contract-test-token
}

# Stop Prism with SIGTERM, and with SIGKILL if it is still running 5 s later.
stop_prism() {
	local i

	kill "$PRISM_PID" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$PRISM_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$PRISM_PID" 2>/dev/null || true
	wait "$PRISM_PID" 2>/dev/null || true
}

teardown() {
	if [ -n "${PRISM_PID:-}" ]; then
		stop_prism
	fi
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" >/dev/null
	check_sanitizers
}

# Print a subscribed customer's consent and an inbound text from PHONE,
# which opens the conversation that a reply needs.
customer() {
	local phone=$1

	printf '{"type":"consent","phone":"%s","status":"subscribed","at":"2026-11-01T00:00:00Z"}\n' \
	    "$phone"
	printf '{"type":"message","direction":"inbound","from":"%s","to":"%s","body":"Where is my order?","provider_message_id":"SMin%s","sent_at":"2026-11-02T10:00:00Z"}\n' \
	    "$phone" "$BRAND" "${phone#+}"
}

# Print Prism's log lines that report a request that broke the spec.
# With --errors Prism logs "Request did not pass the validation rules"
# and one "[VALIDATOR] ... error" line per violation. Violations that do
# not stop the request are logged as "Violation: ..." lines.
violations() {
	grep -E 'Violation|did not pass the validation|\[VALIDATOR\].*(error|warning)' prism.log || true
}

# Print the count of requests that passed Prism's validation.
valid_requests() {
	grep -c 'The request passed the validation rules' prism.log || true
}

# Run convo-send with ARGS and keep its send_result in $result and its
# exit status in $send_status. Bats
# shows the lines printed here only when the test fails.
send() {
	run --separate-stderr convo-send -q "$@"
	result=$output
	send_status=$status
	echo "convo-send exit status: $status"
	echo "convo-send standard output: $result"
	echo "convo-send standard error: $stderr"
	echo "Prism's validator log:"
	grep -F -e '[VALIDATOR]' -e '[HTTP SERVER]' prism.log || true
}

@test "plain text reply passes Prism" {
	start_prism
	customer +12015550921 | convo-ingest -q >/dev/null

	send --to +12015550921 --body "Your order shipped today"

	run violations
	assert_output ""
	run jq -r .status <<<"$result"
	assert_output "sent"
	assert_equal "$send_status" 0
	run jq -r .provider_message_id <<<"$result"
	assert_output --regexp '^SM[0-9a-zA-Z]{32}$'
	run valid_requests
	assert_output "1"
}

# Prism 5.14.2 reads a repeated form key as an array only when the spec
# gives the field an "encoding" entry, which Twilio's spec leaves to
# OpenAPI's default (splitUriParams in @stoplight/prism-http).
# spec-encoding.js writes that default out, so the repeated MediaUrl keys
# Twilio documents are checked as the array the spec declares.
@test "media reply passes Prism" {
	start_prism
	customer +12015550922 | convo-ingest -q >/dev/null

	send --to +12015550922 --body "Photos of your order" \
	    --media https://example.com/a.jpg --media https://example.com/b.jpg

	run violations
	assert_output ""
	run jq -r .status <<<"$result"
	assert_output "sent"
}

@test "messaging service sender passes Prism" {
	start_prism
	customer +12015550923 | convo-ingest -q >/dev/null

	send --to +12015550923 --from "$SERVICE_SID" --body "Your order shipped today"

	run violations
	assert_output ""
	run jq -r .status <<<"$result"
	assert_output "sent"
	assert_equal "$send_status" 0
	run jq -r .provider_message_id <<<"$result"
	assert_output --regexp '^SM[0-9a-zA-Z]{32}$'
	run valid_requests
	assert_output "1"
}
