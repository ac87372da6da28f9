#!/usr/bin/env bats
# convo-send against the local fake Twilio API: checks before sending,
# the outbox, retries and the provider's errors.

load helper

FAKE=$FAKE_TWILIO
BRAND=+12025550140

# Start the fake API with one script rule per argument.
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
	export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
	export TWILIO_AUTH_TOKEN=test-token
}

teardown() {
	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" >/dev/null
	check_sanitizers
}

# Record an inbound text from PHONE, and its consent when STATE is given.
customer() {
	local phone=$1 state=${2:-} id
	id="SMin$(tr -dc 0-9 <<<"$phone")"
	if [ -n "$state" ]; then
		printf '{"type":"consent","phone":"%s","status":"%s","at":"2026-11-01T00:00:00Z"}\n' \
		    "$phone" "$state"
	fi
	printf '{"type":"message","direction":"inbound","from":"%s","to":"%s","body":"Where is my order?","provider_message_id":"%s","sent_at":"2026-11-02T10:00:00Z"}\n' \
	    "$phone" "$BRAND" "$id"
}

requests() {
	[ -f log.ndjson ] || { echo 0; return; }
	wc -l <log.ndjson | tr -d ' '
}

@test "reply goes out and joins the thread" {
	start_fake
	customer +12015550901 subscribed | convo-ingest -q >/dev/null
	run convo-send -q --to +12015550901 --body "Shipped today"
	assert_success
	run jq -r '[.status, .to, (.provider_message_id | test("^SM")),
	    .encoding, .segments] | join(" ")' <<<"$output"
	assert_output "sent +12015550901 true GSM-7 1"
	run jq -r '[.form.To, .form.From, .form.Body, .authorized]
	    | join(" ")' log.ndjson
	assert_output "+12015550901 $BRAND Shipped today true"
	run sql "SELECT origin, status FROM convo.messages
	    WHERE direction = 'outbound'"
	assert_output "conversation|queued"
	run sql "SELECT last_body, last_direction, unread_count
	    FROM convo.conversations"
	assert_output "Shipped today|outbound|1"
}

@test "no conversation means no send" {
	start_fake
	echo '{"type":"consent","phone":"+12015550902","status":"subscribed","at":"2026-11-01T00:00:00Z"}' |
	    convo-ingest -q >/dev/null
	run convo-send -q --to +12015550902 --body "Hello"
	assert_failure 65
	run jq -r .reason <<<"$(convo-send -q --to +12015550902 --body Hello 2>/dev/null)"
	assert_output "no_conversation"
	run requests
	assert_output "0"
}

@test "unsubscribed customer gets nothing" {
	start_fake
	customer +12015550903 unsubscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --to +12015550903 --body "Hello"
	assert_failure 65
	run jq -r .reason <<<"$output"
	assert_output "not_subscribed"
	run requests
	assert_output "0"
}

@test "blocked conversation gets nothing" {
	start_fake
	customer +12015550904 subscribed | convo-ingest -q >/dev/null
	sql "UPDATE convo.conversations SET blocked = true"
	run --separate-stderr convo-send -q --to +12015550904 --body "Hello"
	assert_failure 65
	run jq -r .reason <<<"$output"
	assert_output "blocked"
	run requests
	assert_output "0"
}

@test "quiet hours defer the reply" {
	start_fake
	customer +12015550905 subscribed | convo-ingest -q >/dev/null
	sql "UPDATE convo.profiles SET timezone = 'America/Chicago'"
	run --separate-stderr convo-send -q --quiet-hours 00:00-23:59 \
	    --to +12015550905 --body "Hello"
	assert_success
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "deferred quiet_hours"
	run requests
	assert_output "0"
}

@test "error 21610 unsubscribes the customer" {
	start_fake 'to=+12015550906 error 400 21610 Attempt to send to unsubscribed recipient'
	customer +12015550906 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --to +12015550906 --body "Hello"
	assert_failure 65
	run jq -r '[.status, .reason, .error_code] | join(" ")' <<<"$output"
	assert_output "failed unsubscribed 21610"
	run sql "SELECT status FROM convo.consent"
	assert_output "unsubscribed"
	run sql "SELECT method, error_code FROM convo.consent_changes
	    ORDER BY at DESC LIMIT 1"
	assert_output "provider_error|21610"
}

@test "throttled request is retried once" {
	start_fake 'status 429 retry-after 1'
	customer +12015550907 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --to +12015550907 --body "Hello"
	assert_success
	run jq -r .status <<<"$output"
	assert_output "sent"
	run jq -r .response_status log.ndjson
	assert_output "$(printf '429\n201')"
	run sql "SELECT count(*) FROM convo.messages WHERE direction = 'outbound'"
	assert_output "1"
}

@test "server errors exhausted leave it queued" {
	start_fake 'error 500 20500 Internal Server Error' \
	    'error 500 20500 Internal Server Error'
	customer +12015550908 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --max-attempts 2 \
	    --to +12015550908 --body "Hello"
	assert_failure 75
	run jq -r .status <<<"$output"
	assert_output "queued"
	run sql "SELECT state, attempts FROM convo.outbox"
	assert_output "queued|2"
	run convo-send -q --to +12015550908 --body "Hello"
	assert_success
	run sql "SELECT state FROM convo.outbox"
	assert_output "sent"
}

@test "crash after the request reports unknown" {
	start_fake 'slow 5'
	customer +12015550909 subscribed | convo-ingest -q >/dev/null
	convo-send -q --to +12015550909 --body "Hello" >/dev/null 2>&1 &
	local pid=$!
	for i in $(seq 50); do
		[ "$(requests)" = 1 ] && break
		sleep 0.1
	done
	kill -9 "$pid"
	wait "$pid" || true
	run sql "SELECT state FROM convo.outbox"
	assert_output "sending"
	run --separate-stderr convo-send -q --to +12015550909 --body "Hello"
	assert_failure 75
	run jq -r .status <<<"$output"
	assert_output "unknown"
	sleep 5
	run requests
	assert_output "1"
}

@test "bulk re-run sends nothing twice" {
	start_fake
	{
		customer +12015550910 subscribed
		customer +12015550911 subscribed
		customer +12015550912 subscribed
	} | convo-ingest -q >/dev/null
	convo-list --limit 0 >threads.ndjson
	run convo-send -q --rate 0 --parallel 3 --body "Sale ends Friday" \
	    <threads.ndjson
	assert_success
	run requests
	assert_output "3"
	run convo-send -q --rate 0 --body "Sale ends Friday" <threads.ndjson
	assert_success
	run jq -r .status <<<"$output"
	assert_output "$(printf 'duplicate\nduplicate\nduplicate')"
	run requests
	assert_output "3"
}

@test "body-jq builds each body" {
	start_fake
	{
		echo '{"type":"profile","phone":"+12015550913","first_name":"Ada"}'
		customer +12015550913 subscribed
		customer +12015550914 subscribed
	} | convo-ingest -q >/dev/null
	convo-list --limit 0 |
	    convo-send -q --rate 0 --body-jq '"Hi \(.profile.first_name // "there"), your order shipped"' \
	    >/dev/null
	run jq -r .form.Body log.ndjson
	assert_line "Hi Ada, your order shipped"
	assert_line "Hi there, your order shipped"
}

@test "ingest keyword replies are sent" {
	start_fake
	customer +12015550915 subscribed | convo-ingest -q >/dev/null
	echo '{"type":"message","direction":"inbound","from":"+12015550915","to":"+12025550140","body":"STOP","provider_message_id":"SMstop1","sent_at":"2026-11-03T10:00:00Z"}' |
	    convo-ingest -q | convo-send --rate 0 >out.ndjson 2>err.txt
	run jq -r '[.status, .to] | join(" ")' out.ndjson
	assert_output "sent +12015550915"
	run jq -r .form.Body log.ndjson
	assert_output --partial "unsubscribed"
	run cat err.txt
	assert_output --partial "1 skipped"
}

@test "dry run stores and sends nothing" {
	start_fake
	customer +12015550916 subscribed | convo-ingest -q >/dev/null
	run convo-send -q --dry-run --to +12015550916 --body "Hi & bye"
	assert_success
	run jq -r '[.status, .request] | join(" ")' <<<"$output"
	assert_output "dry_run To=%2B12015550916&From=%2B12025550140&Body=Hi+%26+bye"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
	run requests
	assert_output "0"
}

@test "media must be absolute https" {
	start_fake
	customer +12015550917 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --to +12015550917 \
	    --media http://example.com/a.jpg
	assert_failure 65
	run jq -r .reason <<<"$output"
	assert_output "invalid_media_url"
}

@test "same idempotency key is sent once" {
	start_fake
	customer +12015550918 subscribed | convo-ingest -q >/dev/null
	convo-send -q -k order-77 --to +12015550918 --body "Shipped" >/dev/null
	run convo-send -q -k order-77 --to +12015550918 --body "Shipped!"
	assert_success
	run jq -r .status <<<"$output"
	assert_output "duplicate"
	run requests
	assert_output "1"
}

@test "parallel bulk send reaches everyone" {
	start_fake
	for i in $(seq 20); do
		customer "+120155510$(printf %02d "$i")" subscribed
	done | convo-ingest -q >/dev/null
	run convo-send -q --rate 0 --parallel 8 --body "Hello" \
	    < <(convo-list --limit 0)
	assert_success
	run jq -s 'map(select(.status == "sent")) | length' <<<"$output"
	assert_output "20"
	run jq -r .form.To log.ndjson
	[ "$(sort -u <<<"$output" | wc -l)" -eq 20 ]
}

@test "missing credentials are a configuration error" {
	unset TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN
	run convo-send -q --to +12015550999 --body "Hello"
	assert_failure 78
	assert_output --partial "TWILIO_ACCOUNT_SID is not set"
}

@test "whatsapp reply keeps the channel prefix" {
	start_fake
	echo '{"type":"consent","phone":"+12015550919","channel":"whatsapp","status":"subscribed","at":"2026-11-01T00:00:00Z"}' |
	    convo-ingest -q >/dev/null
	echo '{"type":"message","direction":"inbound","from":"whatsapp:+12015550919","to":"whatsapp:+12025550140","body":"hola","provider_message_id":"SMwa9","sent_at":"2026-11-02T10:00:00Z"}' |
	    convo-ingest -q >/dev/null
	run convo-send -q --conversation "$(convo-list | jq -r .id)" \
	    --body "Hola"
	assert_success
	run jq -r '[.form.To, .form.From] | join(" ")' log.ndjson
	assert_output "whatsapp:+12015550919 whatsapp:+12025550140"
}

@test "national sender number is normalised" {
	start_fake
	customer +12015550920 subscribed | convo-ingest -q >/dev/null
	run convo-send -q --from "(202) 555-0111" --to +12015550920 \
	    --body "Hello"
	assert_success
	run jq -r .form.From log.ndjson
	assert_output "+12025550111"
}
