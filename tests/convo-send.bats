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
	# FAKE_OPTIONS adds options of the fake, such as --unordered-sids.
	"$FAKE" ${FAKE_OPTIONS:-} --port-file port --log log.ndjson \
	    --script script >fake.out 2>fake.err 3>&- &
	FAKE_PID=$!
	for i in $(seq 50); do
		[ -s port ] && break
		sleep 0.1
	done
	[ -s port ] || fail "fake-twilio did not start: $(cat fake.err)"
	export TWILIO_API_BASE="http://127.0.0.1:$(cat port)"
	# The fake speaks plain http on loopback, which needs this setting.
	export CONVO_INSECURE_TLS_FOR_TESTING=1
	export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
	export TWILIO_AUTH_TOKEN=test-token
}

teardown() {
	local pid
	for pid in ${FAKE_PID:-} ${TLS_PID:-}; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" >/dev/null
	check_sanitizers
}

# Start openssl s_server on 127.0.0.1 with a self-signed certificate,
# for one connection and at most 30 seconds; sets TLS_PORT. It answers
# no POST, so a request that passes the TLS handshake gets an empty
# reply.
start_tls_server() {
	local i
	command -v openssl >/dev/null || skip "openssl is not installed"
	[ -f cert.pem ] || openssl req -x509 -newkey ec \
	    -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem \
	    -out cert.pem -days 1 -subj /CN=127.0.0.1 \
	    -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	rm -f tls.out
	timeout 30 openssl s_server -accept 127.0.0.1:0 -cert cert.pem \
	    -key key.pem -www -naccept 1 >tls.out 2>&1 3>&- &
	TLS_PID=$!
	for i in $(seq 50); do
		grep -q '^ACCEPT' tls.out && break
		sleep 0.1
	done
	TLS_PORT=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' tls.out)
	[ -n "$TLS_PORT" ] || fail "openssl s_server did not start: $(cat tls.out)"
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

# Record COUNT subscribed customers, numbered from PREFIX01, with a text
# each, and write their threads to threads.ndjson.
subscribed_threads() {
	local i
	for ((i = 1; i <= $1; i++)); do
		customer "$2$(printf '%02d' "$i")" subscribed
	done | convo-ingest -q >/dev/null
	convo-list --limit 0 >threads.ndjson
}

# Print the time a minute ago: convo-ingest stores the replies of recent
# keyword messages only.
recent() {
	date -u -d '1 minute ago' +%Y-%m-%dT%H:%M:%SZ
}

# Print an inbound STOP from PHONE with provider message id ID, sent a
# minute ago.
stop_message() {
	printf '{"type":"message","direction":"inbound","from":"%s","to":"%s","body":"STOP","provider_message_id":"%s","sent_at":"%s"}\n' \
	    "$1" "$BRAND" "$2" "$(recent)"
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
	assert_equal "$stderr" "convo-send: not sent: +12015550903 is unsubscribed, not subscribed; the customer can text START to subscribe again"
	run requests
	assert_output "0"
}

@test "never subscribed customer gets nothing" {
	start_fake
	customer +12015550913 never_subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --to +12015550913 --body "Hello"
	assert_failure 65
	run jq -r .message <<<"$output"
	assert_output "+12015550913 is never_subscribed, not subscribed; record the consent they gave with a consent record through convo-ingest (see \"consent\" in convo(5))"
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

@test "bad input lines say why, and CRLF lines are read" {
	start_fake
	customer +12015550938 subscribed | convo-ingest -q >/dev/null
	printf '%s\r\n' '{"to":"+12015550938","body":"CRLF works"}' '' \
	    '{"to": }' '["to"]' >in.ndjson
	printf '\377\n \t \n' >>in.ndjson
	run --separate-stderr convo-send --rate 0 <in.ndjson
	assert_failure 65
	run jq -r .status <<<"$output"
	assert_output "sent"
	run grep ': line' <<<"$stderr"
	assert_output "convo-send: line 3: invalid JSON at column 8: Unmatched '}'
convo-send: line 4: expected a JSON record, not array
convo-send: line 5: invalid UTF-8 at column 1"
	run jq -r .form.Body log.ndjson
	assert_output "CRLF works"
}

# Print an inbound text from PHONE, with provider message id ID, that
# reads like a request to stop without being a keyword.
stop_in_words() {
	printf '{"type":"message","direction":"inbound","from":"%s","to":"%s","body":"Stop sending me these, I never get them anyway","provider_message_id":"%s","sent_at":"2026-11-02T11:00:00Z"}\n' \
	    "$1" "$BRAND" "$2"
}

@test "blocked customer's keywords get no reply, then or later" {
	start_fake
	customer +12015550963 subscribed | convo-ingest -q >/dev/null
	convo-mark -q --block +12015550963 >/dev/null
	printf '{"type":"message","direction":"inbound","from":"+12015550963","to":"%s","body":"HELP","provider_message_id":"SMhelp63","sent_at":"%s"}\n' \
	    "$BRAND" "$(recent)" | convo-ingest -q >out.ndjson
	run jq -r '[.type, .keyword.action] | join(" ")' out.ndjson
	assert_output "ingest_result help"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
	convo-mark -q --unblock +12015550963 >/dev/null
	run convo-send -q --rate 0 --queued
	assert_success
	assert_output ""
	run requests
	assert_output "0"
}

@test "possible opt-out holds the bulk reply" {
	start_fake
	customer +12015550941 subscribed | convo-ingest -q >/dev/null
	stop_in_words +12015550941 SMwords1 | convo-ingest -q >/dev/null
	run convo-list --unread
	run jq -r .possible_opt_out.message_id <<<"$output"
	assert_output "m_2"
	convo-list --unread | convo-send --body "Sale ends Friday" \
	    >out.ndjson 2>err.txt && status=0 || status=$?
	assert_equal "$status" 65
	run jq -r '[.status, .reason, .conversation_id,
	    .possible_opt_out.message_id] | join(" ")' out.ndjson
	assert_output "rejected possible_opt_out c_1 m_2"
	run jq -r '.possible_opt_out.at
	    | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")' out.ndjson
	assert_output "true"
	run jq -r .message out.ndjson
	assert_output "conversation c_1: message m_2 may ask to stop (possible opt-out); read it, then run convo-mark --dismiss-flag c_1 to allow replies or convo-mark --confirm-opt-out c_1 to unsubscribe"
	run cat err.txt
	assert_line "convo-send: line 1: not sent: conversation c_1: message m_2 may ask to stop (possible opt-out); read it, then run convo-mark --dismiss-flag c_1 to allow replies or convo-mark --confirm-opt-out c_1 to unsubscribe"
	run tail -n 1 err.txt
	assert_output "convo-send: 0 sent, 0 duplicate, 0 deferred, 1 rejected, 0 failed, 0 unknown, 0 queued, 0 skipped, 0 dry run"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
	run requests
	assert_output "0"
}

@test "--new to blocked customer is rejected" {
	start_fake
	{
		customer +12015550905 subscribed
		echo '{"type":"consent","phone":"+12015550905","channel":"whatsapp","status":"subscribed","at":"2026-11-01T00:00:00Z"}'
	} | convo-ingest -q >/dev/null
	convo-mark -q --operator ana --block +12015550905 >/dev/null
	run --separate-stderr convo-send -q --new --from $BRAND \
	    -t whatsapp:+12015550905 -b "hello on whatsapp"
	assert_failure 65
	run jq -r '"\(.status) \(.reason)"' <<<"$output"
	assert_output "rejected blocked"
	assert_equal "$stderr" "convo-send: not sent: customer +12015550905 is blocked on every channel"
	run requests
	assert_output "0"
}

@test "possible opt-out fails the dry run too" {
	start_fake
	customer +12015550942 subscribed | convo-ingest -q >/dev/null
	stop_in_words +12015550942 SMwords2 | convo-ingest -q >/dev/null
	run --separate-stderr convo-send --dry-run -c c_1 --body "Hello"
	assert_failure 65
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "rejected possible_opt_out"
	assert_equal "${stderr_lines[-1]}" "convo-send: 0 sent, 0 duplicate, 0 deferred, 1 rejected, 0 failed, 0 unknown, 0 queued, 0 skipped, 0 dry run"
	run requests
	assert_output "0"
}

@test "possible opt-out holds only its own conversation" {
	start_fake
	customer +12015550943 subscribed | convo-ingest -q >/dev/null
	customer +12015550944 subscribed | convo-ingest -q >/dev/null
	stop_in_words +12015550944 SMwords3 | convo-ingest -q >/dev/null
	customer +12015550945 subscribed | convo-ingest -q >/dev/null
	printf '{"to":"%s"}\n' +12015550943 +12015550944 +12015550945 |
	    convo-send -q --rate 0 --body "Hello" >out.ndjson &&
	    status=0 || status=$?
	assert_equal "$status" 65
	run jq -sr 'sort_by(.to)[] | [.to, .status, .reason // "-"]
	    | join(" ")' out.ndjson
	assert_line --index 0 "+12015550943 sent -"
	assert_line --index 1 "+12015550944 rejected possible_opt_out"
	assert_line --index 2 "+12015550945 sent -"
	run jq -r .form.To log.ndjson
	refute_output --partial "+12015550944"
}

@test "dismissed possible opt-out lets the reply go" {
	start_fake
	customer +12015550946 subscribed | convo-ingest -q >/dev/null
	stop_in_words +12015550946 SMwords4 | convo-ingest -q >/dev/null
	convo-mark -q --dismiss-flag c_1
	run --separate-stderr convo-send -q --to +12015550946 --body "Hello"
	assert_success
	run jq -r .status <<<"$output"
	assert_output "sent"
	run requests
	assert_output "1"
}

@test "confirmed possible opt-out leaves the customer unsubscribed" {
	start_fake
	customer +12015550947 subscribed | convo-ingest -q >/dev/null
	stop_in_words +12015550947 SMwords5 | convo-ingest -q >/dev/null
	convo-mark -q --confirm-opt-out c_1
	run --separate-stderr convo-send -q --to +12015550947 --body "Hello"
	assert_failure 65
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "rejected not_subscribed"
	run requests
	assert_output "0"
}

@test "possible opt-out does not hold HELP and STOP replies" {
	start_fake
	customer +12015550948 subscribed | convo-ingest -q >/dev/null
	stop_in_words +12015550948 SMwords6 | convo-ingest -q >/dev/null
	printf '{"type":"message","direction":"inbound","from":"+12015550948","to":"%s","body":"HELP","provider_message_id":"SMhelp48","sent_at":"%s"}\n' \
	    "$BRAND" "$(recent)" | convo-ingest -q >help.ndjson
	stop_message +12015550948 SMstop48 | convo-ingest -q >stop.ndjson
	run sql "SELECT flagged_message_id FROM convo.conversations"
	assert_output "2"
	run --separate-stderr convo-send -q --rate 0 <help.ndjson
	assert_success
	run jq -r '[.status, .to] | join(" ")' <<<"$output"
	assert_output "sent +12015550948"
	run --separate-stderr convo-send -q --rate 0 <stop.ndjson
	assert_success
	run jq -r '[.status, .to] | join(" ")' <<<"$output"
	assert_output "sent +12015550948"
	run jq -r .form.Body log.ndjson
	assert_line --index 1 --partial "unsubscribed"
	run requests
	assert_output "2"
}

@test "possible opt-out holds a custom keyword reply" {
	start_fake
	customer +12015550949 subscribed | convo-ingest -q >/dev/null
	stop_in_words +12015550949 SMwords7 | convo-ingest -q >/dev/null
	convo-keywords add HOURS --action custom --reply 'Open 9-5' >/dev/null
	printf '{"type":"message","direction":"inbound","from":"+12015550949","to":"%s","body":"HOURS","provider_message_id":"SMhours49","sent_at":"%s"}\n' \
	    "$BRAND" "$(recent)" | convo-ingest -q >replies.ndjson
	run --separate-stderr convo-send -q --rate 0 <replies.ndjson
	assert_failure 65
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "rejected possible_opt_out"
	run requests
	assert_output "0"
}

@test "--queued row of a flagged conversation is not sent" {
	start_fake 'error 503 20503 Service Unavailable'
	customer +12015550950 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --max-attempts 1 \
	    --to +12015550950 --body "Your table is ready"
	assert_failure 75
	stop_in_words +12015550950 SMwords8 | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --rate 0 --queued --dry-run
	assert_failure 65
	run jq -r '[.status, .reason, .outbox_id] | join(" ")' <<<"$output"
	assert_output "rejected possible_opt_out o_1"
	run sql "SELECT state FROM convo.outbox"
	assert_output "queued"
	run --separate-stderr convo-send -q --rate 0 --queued
	assert_failure 65
	run jq -r '[.status, .reason, .outbox_id] | join(" ")' <<<"$output"
	assert_output "rejected possible_opt_out o_1"
	assert_equal "$stderr" "convo-send: outbox row o_1: not sent: conversation c_1: message m_2 may ask to stop (possible opt-out); read it, then run convo-mark --dismiss-flag c_1 to allow replies or convo-mark --confirm-opt-out c_1 to unsubscribe"
	run sql "SELECT state, error_message LIKE '%possible opt-out%'
	    FROM convo.outbox"
	assert_output "failed|t"
	run requests
	assert_output "1"
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

# Send "Hello" to each PHONE at the instant NOW (RFC 3339) with quiet
# hours 21:00-08:00 and print one line per result, sorted:
# "phone status time_zone time_zone_source".
send_at() {
	local now=$1
	shift
	printf '{"to":"%s"}\n' "$@" >recipients.ndjson
	CONVO_NOW=$now convo-send -q --quiet-hours 21:00-08:00 \
	    --body "Hello" <recipients.ndjson >results.ndjson || return
	jq -r '[.to, .status, (.time_zone // "null"), .time_zone_source] |
	    join(" ")' results.ndjson | sort
}

@test "area code 212 defers at 22:00 New York" {
	start_fake
	customer +12125550301 subscribed | convo-ingest -q >/dev/null
	# 03:00 UTC on 4 December is 22:00 EST on 3 December.
	run send_at 2026-12-04T03:00:00Z +12125550301
	assert_success
	assert_output "+12125550301 deferred America/New_York area_code"
	run requests
	assert_output "0"
}

@test "area code 213 sends at 19:00 Los Angeles" {
	start_fake
	customer +12135550302 subscribed | convo-ingest -q >/dev/null
	run send_at 2026-12-04T03:00:00Z +12135550302
	assert_success
	assert_output "+12135550302 sent America/Los_Angeles area_code"
	run requests
	assert_output "1"
}

@test "profile time zone overrides the area code" {
	start_fake
	customer +12125550303 subscribed | convo-ingest -q >/dev/null
	customer +12135550304 subscribed | convo-ingest -q >/dev/null
	sql "UPDATE convo.profiles SET timezone = 'America/Los_Angeles'
	    WHERE phone = '+12125550303'"
	sql "UPDATE convo.profiles SET timezone = 'America/New_York'
	    WHERE phone = '+12135550304'"
	run send_at 2026-12-04T03:00:00Z +12125550303 +12135550304
	assert_success
	assert_line --index 0 "+12125550303 sent America/Los_Angeles profile"
	assert_line --index 1 "+12135550304 deferred America/New_York profile"
}

@test "invalid profile time zone falls back to the area code" {
	start_fake
	customer +12125550305 subscribed | convo-ingest -q >/dev/null
	sql "UPDATE convo.profiles SET timezone = 'Mars/Olympus_Mons'"
	run send_at 2026-12-04T03:00:00Z +12125550305
	assert_success
	assert_output "+12125550305 deferred America/New_York area_code"
}

@test "stored UTC offset counts as unknown zone" {
	start_fake
	customer +923001234567 subscribed | convo-ingest -q >/dev/null
	# Stored before convo-ingest rejected offsets. PostgreSQL reads
	# "+05:00" as five hours west of UTC: 13:00, not 23:00 in Karachi.
	sql "UPDATE convo.profiles SET timezone = '+05:00'"
	run send_at 2026-12-04T18:00:00Z +923001234567
	assert_success
	assert_output "+923001234567 deferred null unknown"
	sql "UPDATE convo.profiles SET timezone = 'Asia/Karachi'"
	run send_at 2026-12-04T18:00:00Z +923001234567
	assert_success
	assert_output "+923001234567 deferred Asia/Karachi profile"
	run send_at 2026-12-04T08:00:00Z +923001234567
	assert_success
	assert_output "+923001234567 sent Asia/Karachi profile"
}

@test "Arizona area code keeps standard time in summer" {
	start_fake
	customer +16025550306 subscribed | convo-ingest -q >/dev/null
	customer +13035550307 subscribed | convo-ingest -q >/dev/null
	# 03:30 UTC on 15 July: 20:30 in Phoenix (MST all year), 21:30 in
	# Denver (MDT).
	run send_at 2026-07-15T03:30:00Z +16025550306 +13035550307
	assert_success
	assert_line --index 0 "+13035550307 deferred America/Denver area_code"
	assert_line --index 1 "+16025550306 sent America/Phoenix area_code"
}

@test "Arizona area code defers at 21:30 in winter" {
	start_fake
	customer +16025550308 subscribed | convo-ingest -q >/dev/null
	run send_at 2026-01-15T04:30:00Z +16025550308
	assert_success
	assert_output "+16025550308 deferred America/Phoenix area_code"
}

@test "toll-free number follows the account's zones" {
	start_fake
	customer +18005550309 subscribed | convo-ingest -q >/dev/null
	customer +12125550310 subscribed | convo-ingest -q >/dev/null
	customer +12135550311 subscribed | convo-ingest -q >/dev/null
	# 23:30 in New York, 20:30 in Los Angeles.
	run send_at 2026-12-05T04:30:00Z +18005550309
	assert_success
	assert_output "+18005550309 deferred America/New_York unknown"
	# 09:00 in New York, 06:00 in Los Angeles.
	run send_at 2026-12-04T14:00:00Z +18005550309
	assert_success
	assert_output "+18005550309 deferred America/Los_Angeles unknown"
	# 15:00 in New York, 12:00 in Los Angeles.
	run send_at 2026-12-04T20:00:00Z +18005550309
	assert_success
	assert_output "+18005550309 sent null unknown"
	run requests
	assert_output "1"
}

@test "non-NANP number follows the account's zones" {
	start_fake
	customer +447700900312 subscribed | convo-ingest -q >/dev/null
	customer +13125550313 subscribed | convo-ingest -q >/dev/null
	# 21:00 in Chicago.
	run send_at 2026-12-05T03:00:00Z +447700900312
	assert_success
	assert_output "+447700900312 deferred America/Chicago unknown"
	# 12:00 in Chicago.
	run send_at 2026-12-04T18:00:00Z +447700900312
	assert_success
	assert_output "+447700900312 sent null unknown"
}

@test "unknown zone without known account zones defers" {
	start_fake
	customer +447700900314 subscribed | convo-ingest -q >/dev/null
	customer +18885550315 subscribed | convo-ingest -q >/dev/null
	run send_at 2026-12-04T12:00:00Z +447700900314 +18885550315
	assert_success
	assert_line --index 0 "+18885550315 deferred null unknown"
	assert_line --index 1 "+447700900314 deferred null unknown"
	run requests
	assert_output "0"
}

@test "invalid CONVO_NOW exits 64" {
	CONVO_NOW=tonight run convo-send -q --to +12125550316 --body "Hello"
	assert_failure 64
	assert_output --partial 'invalid CONVO_NOW "tonight"'
}

@test "malformed recipients get their reason codes" {
	printf '%s\n' '{"conversation_id":"c_x"}' '{"conversation_id":"C_1"}' \
	    '{"to":"555"}' '{}' '{"type":"send","body":"hi"}' >records
	run --separate-stderr convo-send -q --dry-run --body "Hello" <records
	assert_failure 65
	run jq -sr 'sort_by(.input_line)[] | [.input_line, .reason] | join(" ")' \
	    <<<"$output"
	assert_line --index 0 "1 invalid_recipient"
	assert_line --index 1 "2 invalid_recipient"
	assert_line --index 2 "3 invalid_recipient"
	assert_line --index 3 "4 no_recipient"
	assert_line --index 4 "5 no_recipient"
	assert_regex "$stderr" 'line 1: not sent: invalid conversation id "c_x": expected c_ and digits, such as c_42'
}

@test "unknown conversation id is not found" {
	run --separate-stderr convo-send -q --dry-run --conversation c_999999 \
	    --body "Hello"
	assert_failure 65
	[ "$(jq -r .reason <<<"$output")" = no_conversation ]
	assert_equal "$stderr" 'convo-send: not sent: conversation "c_999999" not found; list conversations with convo-list'
}

@test "channels that convo-ingest would refuse are rejected" {
	local results
	printf '%s\n' '{"to":"+12125550318","channel":"FAX!"}' \
	    '{"to":"whatsapp:+12125550318","channel":"sms"}' \
	    '{"to":"+12125550318","channel":""}' \
	    '{"to":"+12125550318","channel":5}' \
	    '{"to":"+12125550318","channel":"sms\u0000x"}' \
	    '{"to":"sms:+12125550318","channel":"whatsapp"}' \
	    '{"conversation_id":"c_1","channel":"sms\n"}' >records
	run --separate-stderr convo-send -q --dry-run --body "Hello" <records
	assert_failure 65
	results=$output
	run jq -r .reason <<<"$results"
	assert_output "$(printf 'invalid_recipient\n%.0s' $(seq 7))"
	run jq -r .input_line <<<"$results"
	assert_output "$(seq 7)"
	run printf '%s\n' "$stderr"
	assert_line --index 0 'convo-send: line 1: not sent: invalid channel "FAX!": expected 1 to 32 lower-case letters, digits, '\''_'\'' or '\''-'\'''
	assert_regex "$stderr" \
	    'line 2: not sent: channel "sms" does not match address "whatsapp:'
	assert_regex "$stderr" 'line 3: not sent: invalid channel ""'
	assert_regex "$stderr" \
	    'line 4: not sent: field "channel" must be a string'
	assert_regex "$stderr" 'line 5: not sent: NUL byte in field "channel"'
	assert_regex "$stderr" 'line 6: not sent: channel "whatsapp" does not match address "sms:'
	assert_regex "$stderr" 'line 7: not sent: invalid channel "sms\?"'
	run requests
	assert_output "0"
}

@test "a conversation's channel is checked" {
	start_fake
	customer +12125550319 subscribed | convo-ingest -q >/dev/null
	printf '%s\n' '{"type":"consent","phone":"whatsapp:+12125550319","status":"subscribed","at":"2026-11-01T00:00:00Z"}' \
	    '{"type":"message","direction":"inbound","channel":"whatsapp","from":"whatsapp:+12125550319","to":"whatsapp:+12025550140","body":"hola","provider_message_id":"SMw319","sent_at":"2026-11-02T10:00:00Z"}' |
	    convo-ingest -q >/dev/null
	convo-list --limit 0 | jq -c 'select(.channel == "whatsapp")' >wa
	[ "$(wc -l <wa)" -eq 1 ]
	jq -c '.channel = "sms"' wa >records
	cat wa >>records
	run --separate-stderr convo-send -q --rate 0 --body "Hello" <records
	assert_failure 65
	run jq -r '[.input_line, .status, .reason // ""] | join(" ")' <<<"$output"
	assert_output "$(printf '1 rejected invalid_recipient\n2 sent ')"
	assert_regex "$stderr" \
	    'line 1: not sent: channel "sms" does not match conversation c_[0-9]+ on whatsapp'
	run bash -c "jq -r .form.To log.ndjson"
	assert_output "whatsapp:+12125550319"
}

@test "rate that is not a number exits 64" {
	local rate
	for rate in nan NaN -nan inf "" 1, -1 1001 0x10 1e2 " 5" +5 1.2.3; do
		run --separate-stderr convo-send -q --dry-run --rate "$rate" \
		    --to +12125550317 --body "Hello"
		[ "$status" -eq 64 ] || fail "--rate '$rate' exits $status"
		[[ $stderr == *"invalid rate \"$rate\""* ]] ||
		    fail "--rate '$rate' wrote: $stderr"
	done
}

@test "quiet hours in another form exit 64" {
	local hours
	for hours in " 21:00-08:00" "+9:00-08:00" "21:00-08:00 " 2100-0800 \
	    21:0-08:00 24:00-08:00 21:00-08:60 21:00; do
		run --separate-stderr convo-send -q --dry-run \
		    --quiet-hours "$hours" --to +12125550317 --body "Hello"
		[ "$status" -eq 64 ] ||
		    fail "--quiet-hours '$hours' exits $status"
		[[ $stderr == *"invalid quiet hours \"$hours\""* ]] ||
		    fail "--quiet-hours '$hours' wrote: $stderr"
	done
}

@test "area code zones are valid IANA names" {
	run sql "SELECT area_code || ' ' || zone FROM convo.area_code_zones
	    WHERE zone NOT IN (SELECT name FROM pg_timezone_names)
	    ORDER BY area_code"
	assert_success
	assert_output ""
}

@test "area code table lists each code once" {
	local migration
	migration=$(ls "$BATS_TEST_DIRNAME"/../share/convo/migrations/*_area_code_zones.sql)
	run bash -c "grep -oE \"^ +\\('[0-9]+'\" '$migration' | sort | uniq -d"
	assert_success
	assert_output ""
	run bash -c "grep -cE \"^ +\\('[0-9]+'\" '$migration'"
	assert_output "$(sql 'SELECT count(*) FROM convo.area_code_zones')"
}

@test "area code table covers every state and province" {
	run sql "SELECT count(DISTINCT r) FROM convo.area_code_zones,
	    regexp_split_to_table(region, ',') r WHERE r LIKE 'US-%'"
	assert_output "51"
	run sql "SELECT count(DISTINCT r) FROM convo.area_code_zones,
	    regexp_split_to_table(region, ',') r WHERE r LIKE 'CA-%'"
	assert_output "13"
	run sql "SELECT string_agg(area_code || ' ' || zone, ', '
	    ORDER BY area_code) FROM convo.area_code_zones
	    WHERE area_code IN ('212', '306', '602', '787', '808', '876', '915')"
	assert_output "212 America/New_York, 306 America/Regina, 602 America/Phoenix, 787 America/Puerto_Rico, 808 Pacific/Honolulu, 876 America/Jamaica, 915 America/Denver"
}

@test "non-geographic area codes have no zone" {
	run sql "SELECT string_agg(area_code, ' ') FROM convo.area_code_zones
	    WHERE area_code IN ('500', '521', '533', '544', '566', '577',
	    '588', '600', '622', '700', '710', '800', '833', '844', '855',
	    '866', '877', '888', '900')"
	assert_success
	assert_output ""
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

@test "refused credentials leave messages queued for a later run" {
	start_fake 'error 401 20003 Authenticate'
	customer +12015550932 subscribed | convo-ingest -q >/dev/null
	customer +12015550933 subscribed | convo-ingest -q >/dev/null
	printf '{"to":"+1201555093%s","body":"Your order shipped"}\n' 2 3 \
	    >replies.ndjson
	run --separate-stderr convo-send -q --rate 0 -P 1 <replies.ndjson
	assert_failure 78
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output - <<'END'
queued credentials_refused
queued credentials_refused
END
	[[ $stderr == *"Twilio refused the credentials (HTTP 401, error 20003"* ]]
	run requests
	assert_output "1"
	run sql "SELECT state FROM convo.outbox ORDER BY outbox_id"
	assert_output "$(printf 'queued\nqueued')"
	# With the credentials accepted, the same input sends both.
	run --separate-stderr convo-send -q --rate 0 <replies.ndjson
	assert_success
	run jq -r .status <<<"$output"
	assert_output "$(printf 'sent\nsent')"
	run requests
	assert_output "3"
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

@test "provider outage stops the requests" {
	local results
	start_fake 'always status 503'
	subscribed_threads 30 +120155520
	run --separate-stderr convo-send -q --max-attempts 2 --parallel 4 \
	    --rate 0 --body "Back soon" <threads.ndjson
	assert_failure 75
	results=$output
	run jq -r '[.status, .reason] | join(" ")' <<<"$results"
	assert_output "$(printf 'queued provider_unavailable\n%.0s' $(seq 30))"
	# The messages held without a request come in the input's order.
	jq -r .form.To log.ndjson | sort -u >requested
	run bash -c 'jq -r "[.to, .input_line] | @tsv" |
	    grep -v -F -f requested | cut -f 2' <<<"$results"
	[ "${#lines[@]}" -ge 18 ] || fail "held: $output"
	run sort -n -c <<<"$output"
	assert_success
	# The first attempts of the 2 x --parallel messages read ahead, one
	# or two retries, and the requests still in flight when the second
	# message runs out: no more than 16 of the 60 that two attempts
	# each would make.
	[ "$(requests)" -le 16 ] || fail "$(requests) requests were made"
	[ "$(grep -c 'Twilio failed the last' <<<"$stderr")" -eq 1 ]
	[ "$(grep -c 'still queued after' <<<"$stderr")" -le 1 ]
	run sql "SELECT state, count(*) FROM convo.outbox GROUP BY state"
	assert_output "queued|30"
	# Once the provider is back, a run of the queue sends them all.
	kill "$FAKE_PID"
	wait "$FAKE_PID" || true
	start_fake
	run --separate-stderr convo-send -q --queued --rate 0
	assert_success
	[ "$(jq -r .status <<<"$output" | grep -c '^sent$')" -eq 30 ]
	run sql "SELECT state, count(*) FROM convo.outbox GROUP BY state"
	assert_output "sent|30"
}

@test "unanswered requests stop the sending" {
	local results
	start_fake 'always drop'
	subscribed_threads 30 +120155525
	run --separate-stderr convo-send -q --parallel 4 --rate 0 \
	    --body "Back soon" <threads.ndjson
	assert_failure 75
	results=$output
	# Ten requests with no answer, and those in flight beside them.
	[ "$(requests)" -le 16 ] || fail "$(requests) requests were made"
	run jq -r 'select(.status == "unknown") | .reason' <<<"$results"
	[ "${#lines[@]}" -eq "$(requests)" ]
	run jq -r 'select(.status == "queued") | .reason' <<<"$results"
	[ "${#lines[@]}" -eq $((30 - $(requests))) ]
	assert_line --index 0 provider_unavailable
	[ "$(grep -c 'Twilio failed the last' <<<"$stderr")" -eq 1 ]
	run sql "SELECT state, count(*) FROM convo.outbox GROUP BY state
	    ORDER BY state"
	assert_output "$(printf 'queued|%d\nsending|%d' \
	    $((30 - $(requests))) "$(requests)")"
}

@test "timed-out requests stop the sending" {
	local unknown
	start_fake 'always slow 10'
	subscribed_threads 20 +120155526
	run --separate-stderr convo-send -q --parallel 4 --rate 0 \
	    --timeout 1 --body "Back soon" <threads.ndjson
	assert_failure 75
	# The tenth timeout ends the requests; up to three more were in
	# flight beside it, and the warning counts them all.
	unknown=$(jq -r .status <<<"$output" | grep -c '^unknown$')
	[ "$unknown" -ge 10 ] && [ "$unknown" -le 13 ]
	[ "$(jq -r .status <<<"$output" | grep -c '^queued$')" -eq \
	    $((20 - unknown)) ]
	[ "$(grep -c 'Twilio failed the last' <<<"$stderr")" -eq 1 ]
	assert_regex "$stderr" \
	    "Twilio failed the last $unknown requests.*Timeout"
	# The tenth timeout ends a request that started after two others
	# timed out in turn.
	assert_regex "$stderr" 'requests, for [2-9] s,'
}

@test "a late success undoes an outage" {
	local i rules=('slow 2')
	for ((i = 1; i <= 10; i++)); do
		rules+=(drop)
	done
	start_fake "${rules[@]}" 'always ok'
	subscribed_threads 20 +120155527
	# The first request is answered after the ten dropped ones.
	run --separate-stderr convo-send -q --parallel 4 --rate 0 \
	    --body "Back soon" <threads.ndjson
	assert_failure 75
	[[ $stderr != *'Twilio failed the last'* ]]
	run jq -r .status <<<"$output"
	[ "$(grep -c '^unknown$' <<<"$output")" -eq 10 ]
	[ "$(grep -c '^sent$' <<<"$output")" -eq 10 ]
	run requests
	assert_output 20
}

@test "waiting out an outage uses no processor" {
	local user system cpu
	start_fake 'slow 5' 'always status 503'
	subscribed_threads 30 +120155529
	# The first request is answered after the outage is found: the run
	# waits for it.
	run --separate-stderr bash -c 'convo-send -q --max-attempts 2 \
	    --parallel 4 --rate 0 --body "Back soon" <threads.ndjson \
	    >results; echo "status $?"; times'
	assert_line 'status 75'
	[ "$(jq -r .status results | grep -c '^sent$')" -eq 1 ]
	# The second line of times: the processor time of the children.
	read -r user system < <(grep -E '^[0-9]+m' <<<"$output" | tail -n 1)
	cpu=$(awk -v u="$user" -v s="$system" 'function sec(t) {
	    split(t, p, "m"); return p[1] * 60 + p[2] } BEGIN {
	    print sec(u) + sec(s) }')
	awk -v c="$cpu" 'BEGIN { exit !(c < 1.5) }' ||
	    fail "convo-send used $cpu s of processor time"
}

@test "refused credentials hold queued rows at once" {
	start_fake 'always status 401'
	subscribed_threads 60 +120155528
	run convo-send -q --parallel 1 --rate 0 --body "Back soon" \
	    <threads.ndjson
	assert_failure 78
	# Each batch of rows held used to wait a second for the next.
	run --separate-stderr timeout 20 convo-send -q --queued --parallel 1 \
	    --rate 0
	assert_failure 78
	[ "$(jq -r .reason <<<"$output" | grep -c credentials_refused)" -eq 60 ]
	run requests
	assert_output 2
}

@test "a success keeps the requests going" {
	# Every other request fails: no outage, so each message is sent.
	start_fake 'status 503' ok 'status 503' ok 'status 503' ok \
	    'status 503' ok 'status 503' ok 'status 503' ok 'status 503' ok \
	    'status 503' ok 'status 503' ok 'status 503' ok 'status 503' ok \
	    'status 503' ok
	subscribed_threads 12 +120155521
	# Twelve failures in all: no message can use up thirteen attempts.
	run --separate-stderr convo-send -q --max-attempts 13 --parallel 1 \
	    --rate 0 --body "Back soon" <threads.ndjson
	assert_success
	[ "$(jq -r .status <<<"$output" | grep -c '^sent$')" -eq 12 ]
	[[ $stderr != *'Twilio failed the last'* ]]
}

@test "throttled requests are not an outage" {
	start_fake 'always status 429 retry-after 0'
	subscribed_threads 20 +120155526
	# The provider answers each request: it is up, only busy, so every
	# message gets its attempts.
	run --separate-stderr convo-send -q --max-attempts 2 --parallel 4 \
	    --rate 0 --body "Back soon" <threads.ndjson
	assert_failure 75
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "$(printf 'queued provider_unavailable\n%.0s' $(seq 20))"
	run requests
	assert_output 40
	[[ $stderr != *'Twilio failed the last'* ]]
	[ "$(grep -c 'still queued after 2 attempts: .*; convo-send --queued tries it again$' <<<"$stderr")" -eq 20 ]
}

@test "single attempts never stop requests" {
	local i rules=()
	for ((i = 1; i <= 12; i++)); do
		rules+=('status 429 retry-after 1')
	done
	start_fake "${rules[@]}" 'always ok'
	subscribed_threads 20 +120155523
	# Requests that started beside the failed ones may still succeed.
	run --separate-stderr convo-send -q --max-attempts 1 --parallel 16 \
	    --rate 0 --body "Back soon" <threads.ndjson
	assert_failure 75
	[ "$(jq -r .status <<<"$output" | grep -c '^sent$')" -eq 8 ]
	[ "$(jq -r .status <<<"$output" | grep -c '^queued$')" -eq 12 ]
	[[ $stderr != *'Twilio failed the last'* ]]
}

@test "slow input holds up no response" {
	start_fake ok 'slow 2' 'always ok'
	subscribed_threads 5 +120155522
	# The second request takes 2 seconds, and the fifth line comes 4
	# seconds after the first four: its response must not wait for it.
	run --separate-stderr convo-send -q --timeout 3 --parallel 2 \
	    --rate 0 --body "On its way" < <(
		head -n 4 threads.ndjson
		sleep 4
		tail -n 1 threads.ndjson)
	assert_success
	run jq -r .status <<<"$output"
	assert_output "$(printf 'sent\n%.0s' 1 2 3 4 5)"
	run sql "SELECT state, count(*) FROM convo.outbox GROUP BY state"
	assert_output "sent|5"
}

@test "part lines hold up no response" {
	local second
	start_fake 'always slow 1'
	subscribed_threads 2 +120155524
	second=$(sed -n 2p threads.ndjson)
	# The producer writes the first half of the second line, and the
	# rest after the first request has waited out its timeout.
	run --separate-stderr convo-send -q --timeout 2 --rate 0 \
	    --body "On its way" < <(
		sed -n 1p threads.ndjson
		sleep 0.3
		printf '%s' "${second:0:20}"
		sleep 3.5
		printf '%s\n' "${second:20}")
	assert_success
	run jq -r .status <<<"$output"
	assert_output "$(printf 'sent\nsent')"
}

@test "stop signal while waiting for input" {
	local i pid rc=0
	start_fake
	subscribed_threads 2 +120155525
	(
		sed -n 1p threads.ndjson
		sleep 8
		sed -n 2p threads.ndjson
	) | convo-send -q --rate 0 --body "On its way" >results.ndjson \
	    2>err.txt &
	pid=$!
	# The first result comes while the producer waits.
	for i in $(seq 50); do
		[ -s results.ndjson ] && break
		sleep 0.1
	done
	[ -s results.ndjson ] || fail "no result while the input waits"
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	# The run ends at once: the second line, written later, is not sent.
	[ "$(requests)" -eq 1 ]
	run jq -r .status results.ndjson
	assert_output sent
	# The run ends by the signal itself.
	[ "$rc" -eq 143 ]
	grep -q 'stopping on signal 15' err.txt
}

@test "stop signal during a retry wait ends the wait" {
	local i pid rc=0 start
	start_fake 'status 503 retry-after 30'
	customer +12015550948 subscribed | convo-ingest -q >/dev/null
	echo '{"to":"+12015550948","body":"Hello"}' >in.ndjson
	convo-send -q <in.ndjson >results.ndjson 2>err.txt &
	pid=$!
	for i in $(seq 50); do
		[ "$(requests)" = 1 ] && break
		sleep 0.1
	done
	[ "$(requests)" = 1 ] || fail "no first request"
	sleep 0.3
	start=$SECONDS
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	# The answer asked for 30 seconds; the run does not wait them out.
	[ $((SECONDS - start)) -le 5 ] ||
	    fail "the run took $((SECONDS - start)) s to stop"
	assert_equal "$rc" 143
	run jq -r '[.status, .reason] | join(" ")' results.ndjson
	assert_output "queued interrupted"
	run sql "SELECT state FROM convo.outbox"
	assert_output "queued"
	[ "$(requests)" = 1 ]
}

@test "unreadable input is an error" {
	start_fake
	mkdir input.d
	run --separate-stderr convo-send -q --body "Hello" <input.d
	assert_failure 74
	assert_equal "$stderr" 'convo-send: cannot read the input at line 1: Is a directory'
	run requests
	assert_output 0
}

@test "a full disk is reported once" {
	start_fake
	subscribed_threads 3 +120155526
	run --separate-stderr bash -c \
	    'convo-send -q --rate 0 --body "Hello" <threads.ndjson >/dev/full'
	assert_failure 74
	[ "$(grep -c 'cannot write to standard output' <<<"$stderr")" -eq 1 ]
	[[ $stderr == *'No space left on device'* ]]
	# The messages are still sent.
	run requests
	assert_output 3
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

@test "stop signal finishes the request in flight and queues the rest" {
	local i pid rc=0
	start_fake 'slow 2'
	for i in 1 2 3; do
		customer "+1201555094$i" subscribed
	done | convo-ingest -q >/dev/null
	for i in 1 2 3; do
		printf '{"to":"+1201555094%s","body":"Hello"}\n' "$i"
	done >in.ndjson
	convo-send --parallel 1 --rate 0 <in.ndjson >first.ndjson \
	    2>first.err &
	pid=$!
	for i in $(seq 50); do
		[ "$(requests)" = 1 ] && break
		sleep 0.1
	done
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	assert_equal "$rc" 143
	run jq -r '[.input_line, .status, .reason // "-"] | join(" ")' \
	    first.ndjson
	assert_output "$(printf '2 queued interrupted\n1 sent -')"
	run grep -c 'stopping on signal 15: input after line 2 is not read; finishing 1 request in flight' first.err
	assert_output "1"
	run grep -c '1 sent, .* 1 queued' first.err
	assert_output "1"
	run sql "SELECT state, count(*) FROM convo.outbox GROUP BY 1 ORDER BY 1"
	assert_output "$(printf 'queued|1\nsent|1')"
	# The same input again sends what the stopped run did not.
	run --separate-stderr convo-send -q --rate 0 <in.ndjson
	assert_success
	run jq -r '[.input_line, .status] | join(" ")' <<<"$output"
	assert_output "$(printf '1 duplicate\n2 sent\n3 sent')"
	run requests
	assert_output "3"
}

@test "message in flight in a live run is left to it" {
	start_fake 'slow 3'
	customer +12015550908 subscribed | convo-ingest -q >/dev/null
	convo-send -q --to +12015550908 --body "Hello" >first.ndjson 2>&1 &
	local pid=$!
	for i in $(seq 50); do
		[ "$(requests)" = 1 ] && break
		sleep 0.1
	done
	run --separate-stderr convo-send -q --to +12015550908 --body "Hello"
	assert_success
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "duplicate in_progress"
	run --separate-stderr convo-send -q --retry-unknown \
	    --to +12015550908 --body "Hello"
	assert_success
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "duplicate in_progress"
	wait "$pid"
	run jq -r .status first.ndjson
	assert_output "sent"
	run requests
	assert_output "1"
}

@test "message a live run gave up on is left to others" {
	local i pid
	# The first run times out on the first message and then spends 4
	# seconds more on two others, still connected.
	start_fake 'to=+12015550921 slow 3' 'to=+12015550922 slow 3' \
	    'to=+12015550923 slow 3'
	for i in 1 2 3; do
		customer "+1201555092$i" subscribed
	done | convo-ingest -q >/dev/null
	for i in 1 2 3; do
		printf '{"to":"+1201555092%s","body":"Hello"}\n' "$i"
	done >in.ndjson
	convo-send -q --parallel 1 --timeout 2 <in.ndjson >first.ndjson \
	    2>/dev/null &
	pid=$!
	# One request at a time: the second starts once the first timed out.
	for i in $(seq 50); do
		[ "$(requests)" = 2 ] && break
		sleep 0.1
	done
	run requests
	assert_output "2"

	run --separate-stderr convo-send -q --to +12015550921 --body "Hello"
	assert_failure 75
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "unknown outcome_unknown"
	run --separate-stderr convo-send -q --retry-unknown \
	    --to +12015550921 --body "Hello"
	assert_success
	run jq -r .status <<<"$output"
	assert_output "sent"
	# The first run was still connected while the others ran.
	run kill -0 "$pid"
	assert_success
	wait "$pid" || true
	run jq -r '[.input_line, .status] | join(" ")' first.ndjson
	assert_line "1 unknown"
	run jq -r 'select(.form.To == "+12015550921") | .response_status' \
	    log.ndjson
	assert_output "$(printf '201\n201')"
}

@test "unknown row a live run skipped is left to others" {
	local i pid
	# A killed run leaves the first message sending. A later run, still
	# connected, reports it unknown and does not stand in for it.
	start_fake 'to=+12015550924 slow 5' 'to=+12015550925 slow 5'
	customer +12015550924 subscribed | convo-ingest -q >/dev/null
	customer +12015550925 subscribed | convo-ingest -q >/dev/null
	convo-send -q --to +12015550924 --body "Hello" >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 50); do
		[ "$(requests)" = 1 ] && break
		sleep 0.1
	done
	kill -9 "$pid"
	wait "$pid" || true
	printf '%s\n' '{"to":"+12015550924","body":"Hello"}' \
	    '{"to":"+12015550925","body":"Hello"}' >in.ndjson
	convo-send -q --parallel 1 <in.ndjson >second.ndjson 2>/dev/null &
	pid=$!
	# The second run claimed both rows once it requests the second.
	for i in $(seq 50); do
		[ "$(requests)" = 2 ] && break
		sleep 0.1
	done
	run requests
	assert_output "2"

	run --separate-stderr convo-send -q --retry-unknown \
	    --to +12015550924 --body "Hello"
	assert_success
	run jq -r .status <<<"$output"
	assert_output "sent"
	run kill -0 "$pid"
	assert_success
	wait "$pid" || true
	run jq -r '[.to, .status] | join(" ")' second.ndjson
	assert_line "+12015550924 unknown"
}

@test "killed run keeps the results it wrote" {
	local i pid
	start_fake 'slow 1' 'slow 5'
	customer +12015550926 subscribed | convo-ingest -q >/dev/null
	customer +12015550927 subscribed | convo-ingest -q >/dev/null
	printf '%s\n' '{"to":"+12015550926","body":"Hello"}' \
	    '{"to":"+12015550927","body":"Hello"}' >in.ndjson
	convo-send -q --parallel 1 <in.ndjson >results.ndjson 2>/dev/null &
	pid=$!
	# The second request starts once the first answer is recorded.
	for i in $(seq 50); do
		[ "$(requests)" = 2 ] && break
		sleep 0.1
	done
	run requests
	assert_output "2"
	# The first signal lets the request in flight finish; the second
	# ends the run at once.
	kill -TERM "$pid"
	sleep 0.3
	kill -TERM "$pid"
	wait "$pid" || true
	run sql "SELECT to_address, state FROM convo.outbox ORDER BY 1"
	assert_output "$(printf '+12015550926|sent\n+12015550927|sending')"
	run jq -r '[.to, .status] | join(" ")' results.ndjson
	assert_output "+12015550926 sent"
}

@test "timed-out request is not sent again" {
	start_fake 'slow 5'
	customer +12015550913 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --timeout 1 \
	    --to +12015550913 --body "Hello"
	assert_failure 75
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "unknown outcome_unknown"
	run sql "SELECT state, attempts FROM convo.outbox"
	assert_output "sending|1"
	run --separate-stderr convo-send -q --to +12015550913 --body "Hello"
	assert_failure 75
	run jq -r .status <<<"$output"
	assert_output "unknown"
	run requests
	assert_output "1"
	run --separate-stderr convo-send -q --retry-unknown \
	    --to +12015550913 --body "Hello"
	assert_success
	run requests
	assert_output "2"
	run sql "SELECT state FROM convo.outbox"
	assert_output "sent"
}

@test "success without a message SID is an unknown outcome" {
	start_fake 'no-sid'
	customer +12015550935 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --to +12015550935 --body "Hello"
	assert_failure 75
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "unknown outcome_unknown"
	assert_equal "$stderr" "convo-send: +12015550935: HTTP 201 answer names no message SID; not sent again (see --retry-unknown)"
	run sql "SELECT state FROM convo.outbox"
	assert_output "sending"
}

@test "warnings about a sent line name it" {
	start_fake 'no-sid'
	customer +12015550936 subscribed | convo-ingest -q >/dev/null
	printf '%s\n' '{"to":"555"}' '{"to":"+12015550936"}' >records
	run --separate-stderr convo-send -q --body "Hello" <records
	assert_failure 75
	assert_line --partial '"reason":"outcome_unknown"'
	assert_equal "$(tail -n 1 <<<"$stderr")" "convo-send: line 2: +12015550936: HTTP 201 answer names no message SID; not sent again (see --retry-unknown)"
}

@test "dropped connection is not sent again" {
	start_fake 'drop'
	customer +12015550914 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --to +12015550914 --body "Hello"
	assert_failure 75
	run jq -r .status <<<"$output"
	assert_output "unknown"
	run requests
	assert_output "1"
	run sql "SELECT state FROM convo.outbox"
	assert_output "sending"
}

@test "queued run retries unknown outcomes when asked" {
	start_fake 'drop' 'always ok'
	customer +12015550915 subscribed | convo-ingest -q >/dev/null
	run convo-send -q --to +12015550915 --body "Hello"
	assert_failure 75
	# Without --retry-unknown the row is left alone.
	run --separate-stderr convo-send -q --queued
	assert_success
	assert_output ""
	run --separate-stderr convo-send -q --queued --retry-unknown
	assert_success
	run jq -r '[.status, .outbox_id] | join(" ")' <<<"$output"
	assert_output --regexp '^sent o_[0-9]+$'
	run sql "SELECT state FROM convo.outbox"
	assert_output "sent"
	run requests
	assert_output "2"
}

# Start a send to PHONE that the slow fake holds, and kill it once the
# fake has the request, so that its outbox row stays sending.
kill_during_request() {
	local phone=$1 pid i
	convo-send -q --to "$phone" --body "Hello" >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 50); do
		[ "$(requests)" = 1 ] && break
		sleep 0.1
	done
	kill -9 "$pid"
	wait "$pid" || true
}

# Print a status record for the message SID to PHONE naming OUTBOX.
receipt() {
	printf '{"type":"status","provider_message_id":"%s","to":"%s","status":"%s","error_code":%s,"at":"%s","outbox_id":"%s"}\n' \
	    "$1" "$2" "${4:-delivered}" "${5:-null}" "${6:-2026-11-03T10:00:05Z}" "$3"
}

@test "StatusCallback URL names outbox row" {
	start_fake
	customer +12015550920 subscribed | convo-ingest -q >/dev/null
	customer +12015550921 subscribed | convo-ingest -q >/dev/null
	CONVO_STATUS_CALLBACK=https://hooks.example.com/status \
	    convo-send -q --to +12015550920 --body "Hello" >/dev/null
	CONVO_STATUS_CALLBACK='https://hooks.example.com/status?site=2#top' \
	    convo-send -q --to +12015550921 --body "Hello" >/dev/null
	run jq -r .form.StatusCallback log.ndjson
	assert_output "$(sql "SELECT 'https://hooks.example.com/status?convo_outbox=o_' || min(outbox_id)
	    || E'\nhttps://hooks.example.com/status?site=2&convo_outbox=o_' || max(outbox_id)
	    || '#top' FROM convo.outbox")"
}

@test "error 21610 receipt of a killed send unsubscribes" {
	start_fake 'slow 5'
	export CONVO_STATUS_CALLBACK=https://hooks.example.com/status
	customer +12015550929 subscribed | convo-ingest -q >/dev/null
	kill_during_request +12015550929
	local sid outbox
	sid=$(jq -r .sid log.ndjson)
	outbox=o_$(sql "SELECT outbox_id FROM convo.outbox")
	# Twilio's receipt names the message and the row, not the recipient.
	printf '{"type":"status","provider_message_id":"%s","status":"failed","error_code":21610,"at":"2026-11-03T10:00:05Z","outbox_id":"%s"}\n' \
	    "$sid" "$outbox" | convo-ingest -q >/dev/null
	run sql "SELECT state FROM convo.outbox"
	assert_output "sent"
	run sql "SELECT status, changed_at FROM convo.consent"
	assert_output "unsubscribed|2026-11-03 10:00:05+00"
	run sql "SELECT method, error_code, provider_message_id
	    FROM convo.consent_changes WHERE status = 'unsubscribed'"
	assert_output "provider_error|21610|$sid"
	run --separate-stderr convo-send -q --to +12015550929 --body "Hello again"
	assert_failure 65
	run jq -r .reason <<<"$output"
	assert_output "not_subscribed"
}

@test "receipt resolves a killed send" {
	start_fake 'slow 5'
	export CONVO_STATUS_CALLBACK=https://hooks.example.com/status
	customer +12015550922 subscribed | convo-ingest -q >/dev/null
	kill_during_request +12015550922
	local sid outbox
	sid=$(jq -r .sid log.ndjson)
	outbox=o_$(sql "SELECT outbox_id FROM convo.outbox")
	run jq -r .form.StatusCallback log.ndjson
	assert_output "https://hooks.example.com/status?convo_outbox=$outbox"
	run sql "SELECT state FROM convo.outbox"
	assert_output "sending"
	run --separate-stderr convo-ingest < <(receipt "$sid" +12015550922 "$outbox")
	assert_success
	run jq -r '[.result, .note] | join(" ")' <<<"$output"
	assert_output "updated sent outbox row $outbox"
	run sql "SELECT state, provider_message_id FROM convo.outbox"
	assert_output "sent|$sid"
	run --separate-stderr convo-send -q --to +12015550922 --body "Hello"
	assert_success
	run jq -r '[.status, .provider_message_id] | join(" ")' <<<"$output"
	assert_output "duplicate $sid"
	run sql "SELECT provider_message_id, status, origin_id
	    FROM convo.messages WHERE direction = 'outbound'"
	assert_output "$sid|delivered|$outbox"
	# The message moved back to the receipt's time, its key with it, and
	# the conversation's last message time follows.
	run sql "SELECT k.sent_at, c.last_at FROM convo.message_keys k
	    JOIN convo.conversations c ON c.last_provider_message_id =
	        k.provider_message_id"
	assert_output "2026-11-03 10:00:05+00|2026-11-03 10:00:05+00"
	run convo-db -q verify
	assert_success
	run convo-read --json +12015550922
	run jq -r 'select(.direction == "outbound") | .body' <<<"$output"
	assert_output "Hello"
	run requests
	assert_output "1"
}

@test "resolved message keeps its send time" {
	start_fake 'slow 5'
	export CONVO_STATUS_CALLBACK=https://hooks.example.com/status
	customer +12015550923 subscribed | convo-ingest -q >/dev/null
	kill_during_request +12015550923
	local sid outbox
	sid=$(jq -r .sid log.ndjson)
	outbox=o_$(sql "SELECT outbox_id FROM convo.outbox")
	# The customer writes again before the receipt is recorded.
	printf '{"type":"message","direction":"inbound","from":"+12015550923","to":"%s","body":"Thanks","provider_message_id":"SMlater","sent_at":"%s"}\n' \
	    "$BRAND" "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" |
	    convo-ingest -q >/dev/null
	receipt "$sid" +12015550923 "$outbox" sent null \
	    "$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)" | convo-ingest -q
	run sql "SELECT m.sent_at <= o.updated_at FROM convo.messages m
	    JOIN convo.outbox o ON m.provider_message_id = o.provider_message_id"
	assert_output "t"
	run sql "SELECT last_body FROM convo.conversations"
	assert_output "Thanks"
}

@test "failed receipt still marks row sent" {
	start_fake 'slow 5'
	customer +12015550924 subscribed | convo-ingest -q >/dev/null
	kill_during_request +12015550924
	local sid outbox
	sid=$(jq -r .sid log.ndjson)
	outbox=o_$(sql "SELECT outbox_id FROM convo.outbox")
	receipt "$sid" +12015550924 "$outbox" undelivered 30003 |
	    convo-ingest -q
	run sql "SELECT state, provider_message_id, error_code IS NULL
	    FROM convo.outbox"
	assert_output "sent|$sid|t"
	run sql "SELECT status, error_code FROM convo.messages
	    WHERE direction = 'outbound'"
	assert_output "undelivered|30003"
}

@test "receipt for sent row changes nothing" {
	start_fake
	customer +12015550925 subscribed | convo-ingest -q >/dev/null
	convo-send -q --to +12015550925 --body "Hello" >/dev/null
	local sid outbox
	sid=$(jq -r .sid log.ndjson)
	outbox=o_$(sql "SELECT outbox_id FROM convo.outbox")
	run --separate-stderr convo-ingest < <(receipt "$sid" +12015550925 "$outbox")
	assert_success
	run jq -r '[.result, .note // "none"] | join(" ")' <<<"$output"
	assert_output "updated none"
	run --separate-stderr convo-ingest < <(receipt SMother +12015550925 "$outbox")
	assert_success
	run jq -r '[.result, .note] | join(" ")' <<<"$output"
	assert_output "pending outbox row $outbox was sent as $sid; receipt not linked to it"
	run sql "SELECT state, provider_message_id FROM convo.outbox"
	assert_output "sent|$sid"
	run sql "SELECT count(*) FROM convo.messages WHERE direction = 'outbound'"
	assert_output "1"
}

@test "receipt for another account's row ignored" {
	start_fake 'slow 5'
	customer +12015550926 subscribed | convo-ingest -q >/dev/null
	kill_during_request +12015550926
	convo-db -q account add other >/dev/null
	local sid outbox
	sid=$(jq -r .sid log.ndjson)
	outbox=o_$(sql "SELECT outbox_id FROM convo.outbox")
	run --separate-stderr convo-ingest --account other < <(receipt "$sid" +12015550926 "$outbox")
	assert_success
	run jq -r '[.result, .note] | join(" ")' <<<"$output"
	assert_output "pending outbox row $outbox not found in this account; receipt not linked to it"
	run sql "SELECT state, provider_message_id IS NULL FROM convo.outbox"
	assert_output "sending|t"
	run sql "SELECT count(*) FROM convo.messages WHERE direction = 'outbound'"
	assert_output "0"
	run --separate-stderr convo-send -q --to +12015550926 --body "Hello"
	assert_failure 75
	run jq -r .status <<<"$output"
	assert_output "unknown"
}

@test "receipt for other recipient ignored" {
	start_fake 'slow 5'
	customer +12015550927 subscribed | convo-ingest -q >/dev/null
	kill_during_request +12015550927
	local sid outbox
	sid=$(jq -r .sid log.ndjson)
	outbox=o_$(sql "SELECT outbox_id FROM convo.outbox")
	run --separate-stderr convo-ingest < <(receipt "$sid" +12015550999 "$outbox")
	assert_success
	run jq -r .note <<<"$output"
	assert_output "outbox row $outbox is a message to another recipient; receipt not linked to it"
	run sql "SELECT state FROM convo.outbox"
	assert_output "sending"
}

@test "dropped second request is not sent again" {
	start_fake 'to=+12015550942 drop'
	customer +12015550941 subscribed | convo-ingest -q >/dev/null
	customer +12015550942 subscribed | convo-ingest -q >/dev/null
	printf '{"to":"+12015550941"}\n{"to":"+12015550942"}\n' >to.ndjson
	run --separate-stderr convo-send -q --parallel 1 --rate 0 \
	    --body "Hello" <to.ndjson
	assert_failure 75
	run jq -r '[.to, .status] | join(" ")' <<<"$output"
	assert_output "$(printf '+12015550941 sent\n+12015550942 unknown')"
	run jq -r .form.To log.ndjson
	assert_output "$(printf '+12015550941\n+12015550942')"
}

@test "concurrent runs send each message once" {
	local i first second
	start_fake 'always slow 1'
	for i in 1 2 3 4 5 6; do
		customer +1201555095$i subscribed
	done | convo-ingest -q >/dev/null
	for i in 1 2 3 4 5 6; do
		printf '{"to":"+1201555095%d"}\n' "$i"
	done >to.ndjson
	convo-send -q --rate 0 --parallel 2 --body "Hello" <to.ndjson \
	    >first.out 2>/dev/null 3>&- &
	first=$!
	convo-send -q --rate 0 --parallel 2 --body "Hello" <to.ndjson \
	    >second.out 2>/dev/null 3>&- &
	second=$!
	wait "$first" "$second" || true
	run bash -c "jq -r .form.To log.ndjson | sort | uniq -d"
	assert_output ""
	run bash -c "jq -r .form.To log.ndjson | sort -u | wc -l"
	assert_output "6"
}

@test "dry run reports what the outbox holds" {
	start_fake
	customer +12015550961 subscribed | convo-ingest -q >/dev/null
	customer +12015550962 subscribed | convo-ingest -q >/dev/null
	run convo-send -q --to +12015550961 --body "Hello"
	assert_success
	printf '{"to":"+12015550961"}\n{"to":"+12015550962"}\n' >to.ndjson
	run --separate-stderr convo-send -q --dry-run --body "Hello" <to.ndjson
	assert_success
	run jq -r '[.to, .status] | join(" ")' <<<"$output"
	assert_output "$(printf '+12015550961 duplicate\n+12015550962 dry_run')"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "1"
	run requests
	assert_output "1"
}

@test "message left queued by server errors goes out with --queued" {
	start_fake 'error 503 20503 Service Unavailable'
	customer +12015550927 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --max-attempts 1 \
	    --to +12015550927 --body "Your table is ready"
	assert_failure 75
	assert_regex "$stderr" "still queued after 1 attempt: "
	run --separate-stderr convo-send -q --rate 0 --queued
	assert_success
	run jq -r '[.status, .to, .outbox_id] | join(" ")' <<<"$output"
	assert_output "sent +12015550927 o_1"
	run jq -r .form.Body log.ndjson
	assert_line --index 1 "Your table is ready"
	run sql "SELECT state, attempts FROM convo.outbox"
	assert_output "sent|2"
}

@test "--queued sends a row from its own sender" {
	start_fake 'error 503 20503 Service Unavailable'
	customer +12015550936 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --max-attempts 1 \
	    --to +12015550936 --from +12025550199 --body "Your table is ready"
	assert_failure 75
	run sql "SELECT state, from_address FROM convo.outbox"
	assert_output "queued|+12025550199"
	run --separate-stderr convo-send -q --rate 0 --queued
	assert_success
	run jq -r '[.status, .outbox_id] | join(" ")' <<<"$output"
	assert_output "sent o_1"
	run jq -r .form.From log.ndjson
	assert_output "$(printf '+12025550199\n+12025550199')"
}

@test "--queued sends a row stored with --new" {
	start_fake 'error 503 20503 Service Unavailable'
	echo '{"type":"consent","phone":"+12015550937","status":"subscribed","at":"2026-11-01T00:00:00Z"}' |
	    convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --max-attempts 1 --new \
	    --to +12015550937 --from "$BRAND" --body "Welcome aboard"
	assert_failure 75
	run --separate-stderr convo-send -q --rate 0 --queued
	assert_success
	run jq -r '[.status, .outbox_id] | join(" ")' <<<"$output"
	assert_output "sent o_1"
	run sql "SELECT state FROM convo.outbox"
	assert_output "sent"
	run requests
	assert_output "2"
}

@test "row taken over by --queued is not sent twice" {
	start_fake
	customer +12015550938 subscribed | convo-ingest -q >/dev/null
	customer +12015550939 subscribed | convo-ingest -q >/dev/null
	printf '{"to":"%s","body":"Table ready"}\n' +12015550938 \
	    +12015550939 >input.ndjson
	# At 0.1 messages per second, the second message waits 10 seconds
	# for its turn, claimed by the run.
	convo-send -q --rate 0.1 <input.ndjson >slow.ndjson 2>slow.err &
	local pid=$! i
	for i in $(seq 50); do
		[ "$(requests)" = 1 ] && break
		sleep 0.1
	done
	run sql "SELECT state FROM convo.outbox WHERE outbox_id = 2"
	assert_output "queued"
	# A claim older than an hour counts as abandoned: --queued takes
	# the row over and sends it.
	sql "UPDATE convo.outbox SET updated_at = now() - interval '61 minutes'
	    WHERE outbox_id = 2" >/dev/null
	run --separate-stderr convo-send -q --rate 0 --queued
	assert_success
	run jq -r '[.status, .outbox_id] | join(" ")' <<<"$output"
	assert_output "sent o_2"
	wait "$pid"
	run jq -r '[.status, .reason // "-", .outbox_id] | join(" ")' \
	    slow.ndjson
	assert_line --index 1 "duplicate in_progress o_2"
	run jq -r .form.To log.ndjson
	assert_output "$(printf '+12015550938\n+12015550939')"
}

@test "refused connection stays queued" {
	start_fake
	customer +12015550915 subscribed | convo-ingest -q >/dev/null
	kill "$FAKE_PID"
	wait "$FAKE_PID" 2>/dev/null || true
	FAKE_PID=
	run --separate-stderr convo-send -q --max-attempts 1 \
	    --to +12015550915 --body "Hello"
	assert_failure 75
	run jq -r .status <<<"$output"
	assert_output "queued"
	run sql "SELECT state FROM convo.outbox"
	assert_output "queued"
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

@test "body-jq halt_error rejects only its record" {
	start_fake
	customer +12015550931 subscribed | convo-ingest -q >/dev/null
	# libjq 1.6 frees the message of a filter that halted again at each
	# later start, here the input record, so the state must not run on.
	run --separate-stderr convo-send -q --rate 0 \
	    --body-jq 'if .name == "Ann" then halt_error else "Hi \(.name)" end' \
	    <<-'END'
	{"to":"+12015550931","name":"Ann"}
	{"to":"+12015550931","name":"Bob"}
	{"to":"+12015550931","name":"Cy"}
	{"to":"+12015550931","name":"Di"}
	END
	assert_failure 65
	run jq -sr 'sort_by(.input_line)[]
	    | [.input_line, .status, .reason // "-", .message // "-"]
	    | join("|")' <<<"$output"
	assert_line --index 0 "1|rejected|body_jq_error|--body-jq failed:\
 halted: {\"to\":\"+12015550931\",\"name\":\"Ann\"}"
	assert_line --index 1 "2|sent|-|-"
	assert_line --index 2 "3|sent|-|-"
	assert_line --index 3 "4|sent|-|-"
	run jq -r .form.Body log.ndjson
	assert_output "$(printf 'Hi Bob\nHi Cy\nHi Di')"
}

@test "body-jq error after an output rejects the record" {
	start_fake
	customer +12015550932 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q \
	    --body-jq '"Hi", error("no name")' <<<'{"to":"+12015550932"}'
	assert_failure 65
	run jq -r '[.status, .reason, .message] | join("|")' <<<"$output"
	assert_output "rejected|body_jq_error|--body-jq failed: no name"
	run requests
	assert_output "0"
}

@test "body-jq input says no more inputs" {
	start_fake
	customer +12015550933 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --body-jq 'input' \
	    <<<'{"to":"+12015550933"}'
	assert_failure 65
	run jq -r '[.status, .reason, .message] | join("|")' <<<"$output"
	assert_output "rejected|body_jq_error|--body-jq failed: No more inputs"
	run requests
	assert_output "0"
}

@test "body-jq inputs is empty" {
	start_fake
	customer +12015550934 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --dry-run \
	    --body-jq '[inputs] | length | tostring' <<<'{"to":"+12015550934"}'
	assert_success
	run jq -r '[.status, .request] | join("|")' <<<"$output"
	assert_output --partial "dry_run|"
	assert_output --partial "&Body=0"
	run --separate-stderr convo-send -q --dry-run \
	    --body-jq 'first(inputs) // "none"' <<<'{"to":"+12015550934"}'
	assert_success
	run jq -r '.request' <<<"$output"
	assert_output --partial "&Body=none"
}

@test "ingest keyword replies are sent" {
	start_fake
	customer +12015550915 subscribed | convo-ingest -q >/dev/null
	stop_message +12015550915 SMstop1 |
	    convo-ingest -q | convo-send --rate 0 >out.ndjson 2>err.txt
	run jq -r '[.status, .to] | join(" ")' out.ndjson
	assert_output "sent +12015550915"
	run jq -r .form.Body log.ndjson
	assert_output --partial "unsubscribed"
	run cat err.txt
	assert_output --partial "1 skipped"
}

@test "piped keyword reply sends its stored row" {
	start_fake
	customer +12015550922 subscribed | convo-ingest -q >/dev/null
	stop_message +12015550922 SMstop2 | convo-ingest -q >replies.ndjson
	run sql "SELECT idempotency_key, state, origin FROM convo.outbox"
	assert_output "r:SMstop2|queued|keyword_reply"
	run convo-send -q --rate 0 <replies.ndjson
	assert_success
	run jq -r '[.status, .outbox_id] | join(" ")' <<<"$output"
	assert_output "sent o_1"
	run sql "SELECT count(*), min(state) FROM convo.outbox"
	assert_output "1|sent"
	run convo-send -q --rate 0 --queued
	assert_success
	assert_output ""
	run convo-send -q --rate 0 <replies.ndjson
	run jq -r '[.status, .previous_state] | join(" ")' <<<"$output"
	assert_output "duplicate sent"
	run requests
	assert_output "1"
}

@test "piped custom keyword reply sends its stored row" {
	start_fake
	customer +12015550935 subscribed | convo-ingest -q >/dev/null
	convo-keywords add HOURS --action custom --reply 'Open 9-5' >/dev/null
	printf '{"type":"message","direction":"inbound","from":"+12015550935","to":"%s","body":"HOURS","provider_message_id":"SMhours1","sent_at":"%s"}\n' \
	    "$BRAND" "$(recent)" | convo-ingest -q >replies.ndjson
	run convo-send -q --rate 0 <replies.ndjson
	assert_success
	run jq -r '[.status, .outbox_id] | join(" ")' <<<"$output"
	assert_output "sent o_1"
	run sql "SELECT idempotency_key, state FROM convo.outbox"
	assert_output "r:SMhours1|sent"
	run convo-send -q --rate 0 --queued
	assert_success
	assert_output ""
	run requests
	assert_output "1"
}

@test "keyword reply gets one message, and consent after the window" {
	start_fake
	customer +12015550934 subscribed | convo-ingest -q >/dev/null
	stop_message +12015550934 SMstop9 | convo-ingest -q >replies.ndjson
	convo-send -q --rate 0 <replies.ndjson >/dev/null
	# Another text as a reply to the same STOP needs consent.
	jq -c '.body = "Big sale today"' replies.ndjson >promo.ndjson
	run --separate-stderr convo-send -q --rate 0 <promo.ndjson
	assert_failure 65
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "rejected not_subscribed"
	sql "UPDATE convo.messages SET recorded_at = recorded_at
	    - interval '25 hours' WHERE provider_message_id = 'SMstop9'" \
	    >/dev/null
	sql "UPDATE convo.outbox SET created_at = created_at
	    - interval '25 hours'" >/dev/null
	run --separate-stderr convo-send -q --rate 0 <replies.ndjson
	assert_failure 65
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "rejected not_subscribed"
	run requests
	assert_output "1"
}

@test "keyword reply with another text needs consent" {
	start_fake
	customer +12015550937 subscribed | convo-ingest -q >/dev/null
	stop_message +12015550937 SMstop10 | convo-ingest -q >replies.ndjson
	jq -c '.body = "Flash promo: 70% off today only"' replies.ndjson \
	    >promo.ndjson
	run --separate-stderr convo-send -q --rate 0 <promo.ndjson
	assert_failure 65
	run jq -r '[.status, .reason, .message] | join("|")' <<<"$output"
	assert_output "rejected|not_subscribed|+12015550937 is unsubscribed, not subscribed (only the stored text of a keyword reply is sent without consent); the customer can text START to subscribe again"
	run requests
	assert_output "0"
	run convo-send -q --rate 0 <replies.ndjson
	assert_success
	run jq -r .status <<<"$output"
	assert_output "sent"
	run jq -r .form.Body log.ndjson
	assert_output --partial "unsubscribed"
	refute_output --partial "promo"
}

# Print an inbound STOP from PHONE with provider message id ID, sent
# MINUTES minutes ago.
stop_minutes_ago() {
	printf '{"type":"message","direction":"inbound","from":"%s","to":"%s","body":"STOP","provider_message_id":"%s","sent_at":"%s"}\n' \
	    "$1" "$BRAND" "$2" "$(date -u -d "$3 minutes ago" +%Y-%m-%dT%H:%M:%SZ)"
}

@test "late older STOP gets no second confirmation" {
	start_fake
	customer +12015550432 subscribed | convo-ingest -q >/dev/null
	stop_minutes_ago +12015550432 SMlate5 5 |
	    convo-ingest -q | convo-send -q --rate 0 >/dev/null
	# An older STOP of the same customer arrives after the newer one.
	stop_minutes_ago +12015550432 SMlate10 10 |
	    convo-ingest -q | convo-send -q --rate 0 >/dev/null
	run sql "SELECT idempotency_key FROM convo.outbox"
	assert_output "r:SMlate5"
	run requests
	assert_output "1"
	run jq -r .form.Body log.ndjson
	assert_output --partial "unsubscribed"
	run convo-send -q --rate 0 --queued
	assert_success
	assert_output ""
}

@test "recorded history queues no old keyword replies" {
	start_fake
	customer +12015550936 subscribed | convo-ingest -q >/dev/null
	# A STOP from last month, recorded today with the account's history.
	printf '{"type":"message","direction":"inbound","from":"+12015550936","to":"%s","body":"STOP","provider_message_id":"SMold1","sent_at":"%s"}\n' \
	    "$BRAND" "$(date -u -d '30 days ago' +%Y-%m-%dT%H:%M:%SZ)" |
	    convo-ingest -q >replies.ndjson
	run jq -r 'select(.type == "send") | .in_reply_to' replies.ndjson
	assert_output "SMold1"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
	run convo-send -q --rate 0 --queued
	assert_success
	assert_output ""
	run requests
	assert_output "0"
}

@test "piped history sends no old keyword replies" {
	start_fake
	{
		echo '{"type":"consent","phone":"+12015550102","channel":"sms","status":"subscribed","method":"import","at":"2025-01-01T00:00:00Z"}'
		echo '{"type":"message","direction":"inbound","from":"+12015550102","to":"+12025550100","body":"Hello","provider_message_id":"SMb0000000000000000000000000000001","sent_at":"2025-02-01T10:00:00Z"}'
		echo '{"type":"message","direction":"inbound","from":"+12015550102","to":"+12025550100","body":"HELP","provider_message_id":"SMb0000000000000000000000000000002","sent_at":"2025-02-02T10:00:00Z"}'
		echo '{"type":"message","direction":"inbound","from":"+12015550102","to":"+12025550100","body":"STOP","provider_message_id":"SMb0000000000000000000000000000003","sent_at":"2025-03-01T10:00:00Z"}'
	} >history.ndjson
	convo-ingest -q history.ndjson >replies.ndjson
	run --separate-stderr convo-send --rate 0 <replies.ndjson
	assert_success
	run jq -r '[.status, .reason, .message] | join("|")' <<<"$output"
	assert_line --index 0 "skipped|old_keyword|keyword message SMb0000000000000000000000000000002 was sent more than 24 hours ago, so its reply is not sent"
	assert_line --index 1 "skipped|old_keyword|keyword message SMb0000000000000000000000000000003 was sent more than 24 hours ago, so its reply is not sent"
	# Four ingest results and the two old replies are skipped.
	assert_equal "${stderr##*$'\n'}" "convo-send: 0 sent, 0 duplicate, 0 deferred, 0 rejected, 0 failed, 0 unknown, 0 queued, 6 skipped, 0 dry run"
	run requests
	assert_output "0"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
}

@test "old keyword reply is skipped even when subscribed" {
	start_fake
	customer +12015550938 subscribed | convo-ingest -q >/dev/null
	printf '{"type":"message","direction":"inbound","from":"+12015550938","to":"%s","body":"HELP","provider_message_id":"SMold2","sent_at":"%s"}\n' \
	    "$BRAND" "$(date -u -d '25 hours ago' +%Y-%m-%dT%H:%M:%SZ)" |
	    convo-ingest -q >replies.ndjson
	run convo-send -q --rate 0 <replies.ndjson
	assert_success
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "skipped old_keyword"
	run requests
	assert_output "0"
}

@test "old keyword reply recorded yesterday is skipped" {
	start_fake
	customer +12015550939 subscribed | convo-ingest -q >/dev/null
	printf '{"type":"message","direction":"inbound","from":"+12015550939","to":"%s","body":"HELP","provider_message_id":"SMold3","sent_at":"%s"}\n' \
	    "$BRAND" "$(date -u -d '10 days ago' +%Y-%m-%dT%H:%M:%SZ)" |
	    convo-ingest -q >replies.ndjson
	# As if the history had been recorded the day before.
	sql "UPDATE convo.messages SET recorded_at = now() - interval '25 hours'
	    WHERE provider_message_id = 'SMold3'" >/dev/null
	run convo-send -q --rate 0 <replies.ndjson
	assert_success
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "skipped old_keyword"
	run requests
	assert_output "0"
}

@test "STOP stored just inside the day keeps its reply" {
	start_fake
	customer +12015550940 subscribed | convo-ingest -q >/dev/null
	printf '{"type":"message","direction":"inbound","from":"+12015550940","to":"%s","body":"STOP","provider_message_id":"SMedge1","sent_at":"%s"}\n' \
	    "$BRAND" "$(date -u -d '86397 seconds ago' +%Y-%m-%dT%H:%M:%SZ)" |
	    convo-ingest -q >replies.ndjson
	run sql "SELECT state FROM convo.outbox"
	assert_output "queued"
	# The keyword message is now more than 24 hours old.
	sleep 4
	run convo-send -q --rate 0 <replies.ndjson
	assert_success
	run jq -r .status <<<"$output"
	assert_output "sent"
	run requests
	assert_output "1"
}

@test "reply to a keyword without stored reply needs consent" {
	start_fake
	customer +12015550101 subscribed | convo-ingest -q >/dev/null
	printf '{"type":"message","direction":"inbound","from":"+12015550101","to":"%s","body":"STOP","provider_message_id":"SMa0000000000000000000000000000002","sent_at":"%s"}\n' \
	    "$BRAND" "$(date -u -d '2 minutes ago' +%Y-%m-%dT%H:%M:%SZ)" |
	    convo-ingest -q | convo-send -q --rate 0 >/dev/null
	# A second STOP gets no reply, so none is stored for it.
	printf '{"type":"message","direction":"inbound","from":"+12015550101","to":"%s","body":"stop","provider_message_id":"SMa0000000000000000000000000000003","sent_at":"%s"}\n' \
	    "$BRAND" "$(recent)" | convo-ingest -q >replies.ndjson
	run jq -r 'select(.type == "send") | .body' replies.ndjson
	assert_output ""
	run --separate-stderr convo-send -q --rate 0 <<<'{"type":"send","to":"+12015550101","origin":"keyword_reply","in_reply_to":"SMa0000000000000000000000000000003","body":"Flash sale! 50% off today only"}'
	assert_failure 65
	run jq -r '[.status, .reason, .message] | join("|")' <<<"$output"
	assert_output "rejected|not_subscribed|+12015550101 is unsubscribed, not subscribed (only the stored text of a keyword reply is sent without consent); the customer can text START to subscribe again"
	# The stored confirmation text as a reply to the second STOP is
	# not exempt either.
	run --separate-stderr convo-send -q --rate 0 < <(sql "SELECT
	    json_build_object('type', 'send', 'to', to_address, 'origin',
	    'keyword_reply', 'in_reply_to',
	    'SMa0000000000000000000000000000003', 'body', body)
	    FROM convo.outbox")
	assert_failure 65
	run jq -r '[.status, .reason] | join(" ")' <<<"$output"
	assert_output "rejected not_subscribed"
	run requests
	assert_output "1"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "1"
}

@test "queued opt-in reply needs consent when sent" {
	start_fake
	customer +12015550939 unsubscribed | convo-ingest -q >/dev/null
	printf '{"type":"message","direction":"inbound","from":"+12015550939","to":"%s","body":"START","provider_message_id":"SMstart39","sent_at":"%s"}\n' \
	    "$BRAND" "$(date -u -d '2 minutes ago' +%Y-%m-%dT%H:%M:%SZ)" |
	    convo-ingest -q >/dev/null
	stop_message +12015550939 SMstop39 | convo-ingest -q >/dev/null
	run sql "SELECT idempotency_key FROM convo.outbox ORDER BY outbox_id"
	assert_output "$(printf 'r:SMstart39\nr:SMstop39')"
	run --separate-stderr convo-send -q --rate 0 --queued
	assert_failure 65
	run jq -r '[.outbox_id, .status, .reason, .message] | join("|")' \
	    <<<"$output"
	assert_line --index 0 "o_1|rejected|not_subscribed|+12015550939 is unsubscribed, not subscribed (the confirmation of an opt-in is sent only to a subscribed customer); the customer can text START to subscribe again"
	assert_line --index 1 "o_2|sent||"
	run jq -r .form.Body log.ndjson
	assert_output --partial "unsubscribed"
	refute_output --partial "You are subscribed"
	run sql "SELECT idempotency_key, state FROM convo.outbox
	    ORDER BY outbox_id"
	assert_output "$(printf 'r:SMstart39|failed\nr:SMstop39|sent')"
}

@test "opt-in reply goes to a subscribed customer" {
	start_fake
	customer +12015550940 unsubscribed | convo-ingest -q >/dev/null
	printf '{"type":"message","direction":"inbound","from":"+12015550940","to":"%s","body":"START","provider_message_id":"SMstart40","sent_at":"%s"}\n' \
	    "$BRAND" "$(recent)" | convo-ingest -q >replies.ndjson
	run convo-send -q --rate 0 <replies.ndjson
	assert_success
	run jq -r '[.status, .outbox_id] | join(" ")' <<<"$output"
	assert_output "sent o_1"
	run jq -r .form.Body log.ndjson
	assert_output --partial "You are subscribed"
}

@test "keyword reply nobody sent goes out with --queued" {
	start_fake
	customer +12015550923 subscribed | convo-ingest -q >/dev/null
	# The replies that convo-ingest prints are lost, as when the
	# convo-send reading them fails.
	stop_message +12015550923 SMstop3 | convo-ingest -q >/dev/null
	run --separate-stderr convo-send --rate 0 --queued
	assert_success
	run jq -r '[.status, .to, .outbox_id] | join(" ")' <<<"$output"
	assert_output "sent +12015550923 o_1"
	run jq -r '[.form.To, .form.From] | join(" ")' log.ndjson
	assert_output "+12015550923 +12025550140"
	run jq -r .form.Body log.ndjson
	assert_output --partial "unsubscribed"
	run sql "SELECT state, encoding, segments FROM convo.outbox"
	assert_output "sent|GSM-7|1"
	run convo-send -q --rate 0 --queued
	assert_output ""
	run requests
	assert_output "1"
}

@test "--queued skips rows past the window" {
	start_fake
	customer +12015550924 subscribed | convo-ingest -q >/dev/null
	customer +12015550925 subscribed | convo-ingest -q >/dev/null
	stop_message +12015550924 SMstop4 | convo-ingest -q >/dev/null
	stop_message +12015550925 SMstop5 | convo-ingest -q >/dev/null
	sql "UPDATE convo.outbox SET created_at = now() - interval '25 hours'
	    WHERE idempotency_key = 'r:SMstop5'" >/dev/null
	run --separate-stderr convo-send -q --rate 0 --queued --dry-run
	assert_success
	run jq -r '[.status, .to] | join(" ")' <<<"$output"
	assert_output "dry_run +12015550924"
	run convo-send -q --queued --to +12015550924
	assert_failure 64
}

@test "--queued results name the outbox row, not a line" {
	start_fake
	customer +12015550927 subscribed | convo-ingest -q >/dev/null
	customer +12015550928 subscribed | convo-ingest -q >/dev/null
	stop_message +12015550927 SMstop7 | convo-ingest -q >/dev/null
	stop_message +12015550928 SMstop8 | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --rate 0 --queued --dry-run
	assert_success
	run jq -sr 'sort_by(.to)[]
	    | [.status, .to, .outbox_id, .input_line // "-"] | join(" ")' \
	    <<<"$output"
	assert_line --index 0 "dry_run +12015550927 o_1 -"
	assert_line --index 1 "dry_run +12015550928 o_2 -"
	run --separate-stderr convo-send -q --rate 0 --queued
	assert_success
	run jq -sr 'sort_by(.to)[]
	    | [.status, .to, .outbox_id, .input_line // "-"] | join(" ")' \
	    <<<"$output"
	assert_line --index 0 "sent +12015550927 o_1 -"
	assert_line --index 1 "sent +12015550928 o_2 -"
}

@test "--queued row that fails its checks is not tried again" {
	start_fake
	customer +12015550926 subscribed | convo-ingest -q >/dev/null
	printf '{"type":"message","direction":"inbound","from":"+12015550926","to":"%s","body":"HELP","provider_message_id":"SMhelp6","sent_at":"%s"}\n' \
	    "$BRAND" "$(recent)" | convo-ingest -q >/dev/null
	# Blocked after convo-ingest stored the reply.
	convo-mark -q --block +12015550926 >/dev/null
	run --separate-stderr convo-send -q --rate 0 --queued --dry-run
	assert_failure 65
	run sql "SELECT state FROM convo.outbox"
	assert_output "queued"
	run --separate-stderr convo-send -q --rate 0 --queued
	assert_failure 65
	assert_equal "$stderr" "convo-send: outbox row o_1: not sent: conversation c_1 is blocked"
	run jq -r '[.status, .reason, .outbox_id] | join(" ")' <<<"$output"
	assert_output "rejected blocked o_1"
	run sql "SELECT state, error_message FROM convo.outbox"
	assert_output "failed|conversation c_1 is blocked"
	run convo-send -q --rate 0 --queued
	assert_success
	assert_output ""
	run requests
	assert_output "0"
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

@test "segments as the manual counts them" {
	local emoji brace page
	start_fake
	customer +12015550964 subscribed | convo-ingest -q >/dev/null
	emoji=$(printf '\360\237\230\200%.0s' $(seq 800))
	brace="$(printf 'a%.0s' $(seq 152)){$(printf 'a%.0s' $(seq 152))"
	run --separate-stderr convo-send -q --dry-run --to +12015550964 \
	    --body "$emoji"
	run jq -r '[.encoding, .units, .segments] | join(" ")' <<<"$output"
	assert_output "UCS-2 1600 25"
	run --separate-stderr convo-send -q --dry-run --to +12015550964 \
	    --body "$brace"
	run jq -r '[.encoding, .units, .segments] | join(" ")' <<<"$output"
	assert_output "GSM-7 306 3"
	page=$(mandoc -Tascii "$BATS_TEST_DIRNAME/../man/convo-send.1" | col -b |
	    tr -s ' \n' '  ')
	assert_regex "$page" "800 emoji, 1600 code units, is therefore sent in 25 segments"
	assert_regex "$page" "306 septets, in 3 segments, not 2"
}

@test "body file loses a leading byte order mark" {
	start_fake
	customer +12015550960 subscribed | convo-ingest -q >/dev/null
	printf '\357\273\277Your order has shipped\n' >reply.txt
	run --separate-stderr convo-send -q --to +12015550960 \
	    --body-file reply.txt
	assert_success
	run jq -r '[.encoding, .units] | join(" ")' <<<"$output"
	assert_output "GSM-7 22"
	run sql "SELECT body FROM convo.outbox"
	assert_output "Your order has shipped"
	run jq -r .form.Body log.ndjson
	assert_output "Your order has shipped"
}

@test "body file errors name the offset" {
	printf 'Hello\000there\n' >nul.txt
	run --separate-stderr convo-send -q --to +12015550961 \
	    --body-file nul.txt
	assert_failure 65
	assert_equal "$stderr" "convo-send: body file \"nul.txt\" contains a\
 NUL byte at offset 5, so it is not text"
	printf '\357\273\277Caf\351\n' >latin1.txt
	run --separate-stderr convo-send -q --to +12015550961 \
	    --body-file latin1.txt
	assert_failure 65
	assert_equal "$stderr" "convo-send: body file \"latin1.txt\" is not\
 UTF-8 text: invalid byte at offset 6"
}

@test "body, media or key of the wrong type is rejected" {
	start_fake
	customer +12015550919 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --body "Default text" <<-'END'
	{"to":"+12015550919","body":42}
	{"to":"+12015550919","body":"Photo","media":"https://example.com/a.jpg"}
	{"to":"+12015550919","body":null}
	{"to":"+12015550919","body":"Hi","idempotency_key":42}
	END
	assert_failure 65
	run jq -sr 'sort_by(.input_line)[]
	    | [.input_line, .status, .reason, .message] | join("|")' \
	    <<<"$output"
	assert_line --index 0 \
	    "1|rejected|invalid_body|body 42 is a number, not a string"
	assert_line --index 1 "2|rejected|invalid_media_url|media\
 \"https://example.com/a.jpg\" is a string, not an array"
	assert_line --index 2 "3|sent||"
	assert_line --index 3 "4|rejected|invalid_idempotency_key|idempotency_key\
 42 is a number, not a string"
	run sql "SELECT body FROM convo.outbox"
	assert_output "Default text"
}

@test "recipient of the wrong type is rejected" {
	start_fake
	customer +12015550962 subscribed | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --body "Hi" <<-'END'
	{"to":12015550962}
	{"conversation_id":1}
	{"to":["+12015550962"]}
	END
	assert_failure 65
	run jq -sr 'sort_by(.input_line)[]
	    | [.input_line, .status, .reason, .message] | join("|")' \
	    <<<"$output"
	assert_line --index 0 "1|rejected|invalid_recipient|to 12015550962\
 is a number, not a string"
	assert_line --index 1 "2|rejected|invalid_recipient|conversation_id 1\
 is a number, not a string"
	assert_line --index 2 "3|rejected|invalid_recipient|to\
 [\"+12015550962\"] is an array, not a string"
	run requests
	assert_output "0"
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

@test "message given twice in one input is sent once" {
	start_fake
	{
		customer +12015550951 subscribed
		customer +12015550952 subscribed
	} | convo-ingest -q >/dev/null
	# The repeat comes in the same group and, after 40 other records,
	# in a later one.
	run convo-send -q --rate 0 < <(
		echo '{"to":"+12015550951","body":"Shipped"}'
		echo '{"to":"+12015550951","body":"Shipped"}'
		for i in $(seq 40); do
			printf '{"to":"+12015550952","body":"Note %s"}\n' "$i"
		done
		echo '{"to":"+12015550951","body":"Shipped"}')
	assert_success
	run jq -r 'select(.to == "+12015550951") | [.status, .reason // "-"]
	    | join(" ")' <<<"$output"
	run sort <<<"$output"
	assert_output "duplicate repeated
duplicate repeated
sent -"
	run jq -r 'select(.form.To == "+12015550951") | .form.Body' log.ndjson
	assert_output "Shipped"
	run requests
	assert_output "41"
}

@test "dry run counts a repeated message once" {
	local dry
	start_fake
	{
		customer +12015550953 subscribed
		customer +12015550954 subscribed
	} | convo-ingest -q >/dev/null
	# Repeats by content and by key, in the same group and after 20
	# other records in a later one.
	{
		echo '{"to":"+12015550953","body":"Shipped"}'
		echo '{"to":"+12015550953","body":"Shipped"}'
		echo '{"to":"+12015550954","body":"A","idempotency_key":"k1"}'
		echo '{"to":"+12015550954","body":"B","idempotency_key":"k1"}'
		for i in $(seq 20); do
			printf '{"to":"+12015550954","body":"Note %s"}\n' "$i"
		done
		echo '{"to":"+12015550953","body":"Shipped"}'
	} >in.ndjson
	run --separate-stderr convo-send --dry-run --rate 0 <in.ndjson
	assert_success
	assert_equal "${stderr_lines[-1]}" "convo-send: 0 sent, 3 duplicate, 0 deferred, 0 rejected, 0 failed, 0 unknown, 0 queued, 0 skipped, 22 dry run"
	dry=$(jq -r '[.input_line, .status, .reason // "-"] | join(" ")' \
	    <<<"$output" | sort -n)
	run grep -v ' dry_run -$' <<<"$dry"
	assert_output "$(printf '2 duplicate repeated\n4 duplicate repeated\n25 duplicate repeated')"

	# A real run with the same input sends what the dry run showed.
	run --separate-stderr convo-send -q --rate 0 <in.ndjson
	assert_success
	run jq -r '[.input_line, (if .status == "sent" then "dry_run"
	    else .status end), .reason // "-"] | join(" ")' <<<"$output"
	assert_equal "$(sort -n <<<"$output")" "$dry"
	run requests
	assert_output "22"
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

@test "waiting for slow answers takes little CPU" {
	local TIMEFORMAT='%U %S'
	start_fake 'always slow 1'
	for i in 1 2 3 4; do
		customer "+1201555096$i" subscribed
	done | convo-ingest -q >/dev/null
	# One request in flight and the next records waiting for its slot,
	# for about four seconds.
	{ time convo-send -q --rate 0 --parallel 1 --body "Hello" \
	    < <(convo-list --limit 0) >out.ndjson 2>err.txt; } 2>time.txt
	run jq -r .status out.ndjson
	assert_output "$(printf 'sent\nsent\nsent\nsent')"
	run awk '{ print ($1 + $2 < 1) ? "idle" : "busy: " $1 + $2 " s" }' \
	    time.txt
	assert_output "idle"
}

@test "records read together resolve each recipient in input order" {
	start_fake
	{
		customer +12015550931 subscribed
		customer +12015550932 subscribed
	} | convo-ingest -q >/dev/null
	conv=$(sql "SELECT 'c_' || c.conversation_id FROM convo.conversations c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '+12015550931'")
	rc=0
	convo-send -q --rate 0 >out 2>err < <(printf '%s\n' \
	    "{\"conversation_id\":\"$conv\",\"body\":\"A\"}" \
	    '{"to":"+12015550939","body":"B"}' \
	    '{"to":"+12015550932","body":"C"}' \
	    '{"conversation_id":"c_999999999","body":"D"}') || rc=$?
	[ "$rc" -eq 65 ] || fail "exit status $rc: $(cat err)"
	run jq -sr 'sort_by(.input_line)[] | [.input_line, .status, .reason // "-",
	    .to // "-"] | join(" ")' out
	assert_output "1 sent - +12015550931
2 rejected no_conversation +12015550939
3 sent - +12015550932
4 rejected no_conversation -"
	run jq -r '[.form.To, .form.Body] | join(" ")' log.ndjson
	assert_output --partial "+12015550931 A"
	assert_output --partial "+12015550932 C"
	run requests
	assert_output "2"
}

@test "replies recorded together keep every summary exact" {
	start_fake
	for i in $(seq 6); do
		customer "+1201555096$i" subscribed
	done | convo-ingest -q >/dev/null
	# Two replies to each customer, answered and recorded in groups.
	run convo-send -q --rate 0 --parallel 8 < <(for i in $(seq 6); do
		printf '{"to":"+1201555096%s","body":"first %s"}\n' "$i" "$i"
		printf '{"to":"+1201555096%s","body":"second %s"}\n' "$i" "$i"
	done)
	assert_success
	run jq -s 'map(select(.status == "sent")) | length' <<<"$output"
	assert_output "12"
	run sql "SELECT count(*) FROM convo.messages
	    WHERE direction = 'outbound' AND origin_id LIKE 'o\_%'"
	assert_output "12"
	run sql "SELECT count(*) FROM convo.conversations c
	    JOIN convo.messages m ON m.account_id = c.account_id
	        AND m.message_id = c.last_message_id
	    WHERE m.direction = 'outbound' AND c.last_body = m.body"
	assert_output "6"
	run convo-db -q verify
	assert_success
}

@test "replies to one customer keep the order of their answers" {
	# Twilio's message SIDs do not sort in the order it creates them.
	FAKE_OPTIONS=--unordered-sids start_fake
	customer +12015550972 subscribed | convo-ingest -q >/dev/null
	run convo-send -q --rate 0 --parallel 8 < <(for i in $(seq 8); do
		printf '{"to":"+12015550972","body":"part %s"}\n' "$i"
	done)
	assert_success
	answered=$(jq -r 'select(.status == "sent") | "part \(.input_line)"' \
	    <<<"$output")
	[ "$(wc -l <<<"$answered")" -eq 8 ]
	run convo-read --no-mark-read +12015550972
	assert_success
	run jq -r 'select(.direction == "outbound") | .body' <<<"$output"
	assert_output "$answered"
	run sql "SELECT last_body FROM convo.conversations"
	assert_output "$(tail -n 1 <<<"$answered")"
	run convo-db -q verify
	assert_success
}

@test "receipt stored before its reply applies when the reply is recorded" {
	FAKE_OPTIONS=--counted-sids start_fake
	customer +12015550971 subscribed | convo-ingest -q >/dev/null
	# The fake names its first message SM and 32 hex digits of 1.
	sid=SM$(printf '%032x' 1)
	printf '{"type":"status","provider_message_id":"%s","status":"delivered","at":"2026-11-02T10:05:00Z"}\n' \
	    "$sid" | convo-ingest -q >/dev/null
	run convo-send -q --to +12015550971 --body "Shipped today"
	assert_success
	run jq -r .provider_message_id <<<"$output"
	assert_output "$sid"
	run sql "SELECT initial_status, status, status_at
	    FROM convo.messages WHERE direction = 'outbound'"
	assert_output "queued|delivered|2026-11-02 10:05:00+00"
	run convo-db -q verify
	assert_success
}

@test "missing credentials are a configuration error" {
	unset TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN
	run convo-send -q --to +12015550999 --body "Hello"
	assert_failure 78
	assert_output --partial "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set"
	TWILIO_ACCOUNT_SID=AC0000 run convo-send -q --to +12015550999 \
	    --body "Hello"
	assert_failure 78
	assert_output "convo-send: TWILIO_AUTH_TOKEN is not set: set it, or name a file that contains it with CONVO_TWILIO_AUTH_TOKEN_FILE, or use an API key with TWILIO_API_KEY and TWILIO_API_SECRET; or use --dry-run"
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

@test "no option takes a credential" {
	run convo-send --help
	assert_success
	refute_output --regexp '(token|secret|password)'
	run convo-send --auth-token x --to +12015550929 --body "Hello"
	assert_failure 64
}

@test "token file must be private" {
	start_fake
	unset TWILIO_AUTH_TOKEN
	customer +12015550930 subscribed | convo-ingest -q >/dev/null
	printf 'test-token\n' >token
	export CONVO_TWILIO_AUTH_TOKEN_FILE=$PWD/token
	for mode in 644 640 604 620 602; do
		chmod "$mode" token
		run --separate-stderr convo-send -q --to +12015550930 \
		    --body "Hello"
		assert_failure 78
		[[ $stderr == *"\"$PWD/token\" has mode 0$mode"* ]] ||
		    fail "mode $mode: $stderr"
		[[ $stderr == *"chmod go-rw"* ]] || fail "no fix in: $stderr"
		[[ $stderr != *test-token* ]] || fail "token shown: $stderr"
	done
	run requests
	assert_output "0"
	chmod 600 token
	run --separate-stderr convo-send -q --to +12015550930 --body "Hello"
	assert_success
	run jq -r '[.form.To, .authorized] | join(" ")' log.ndjson
	assert_output "+12015550930 true"
}

@test "token file wins over the environment" {
	start_fake
	customer +12015550931 subscribed | convo-ingest -q >/dev/null
	export TWILIO_AUTH_TOKEN=not-the-token
	printf '  test-token \n' >token
	chmod 400 token
	export CONVO_TWILIO_AUTH_TOKEN_FILE=$PWD/token
	run --separate-stderr convo-send -q --to +12015550931 --body "Hello"
	assert_success
	run jq -r .authorized log.ndjson
	assert_output "true"
	: >token
	run --separate-stderr convo-send -q --to +12015550931 --body "Hi"
	assert_failure 78
	[[ $stderr == *"\"$PWD/token\" is empty"* ]]
	CONVO_TWILIO_AUTH_TOKEN_FILE=$PWD run --separate-stderr \
	    convo-send -q --to +12015550931 --body "Hi"
	assert_failure 78
	[[ $stderr == *"is not a regular file"* ]]
}

@test "secret is in no error or output" {
	start_fake
	customer +12015550932 subscribed | convo-ingest -q >/dev/null
	export TWILIO_AUTH_TOKEN=wrong-secret-3f9a
	run convo-send --to +12015550932 --body "Hello"
	assert_failure 78
	assert_output --partial '"reason":"credentials_refused"'
	refute_output --partial wrong-secret-3f9a
	run jq -r .authorized log.ndjson
	assert_output "false"
	# No server listens on port 1, so the request fails in transport.
	TWILIO_API_BASE=http://127.0.0.1:1 run convo-send --max-attempts 1 \
	    --to +12015550932 --body "Hello again"
	assert_failure 75
	refute_output --partial wrong-secret-3f9a
	TWILIO_API_BASE=https://AC0:wrong-secret-3f9a@127.0.0.1:1 run \
	    convo-send --to +12015550932 --body "Hello"
	assert_failure 78
	assert_output --partial "must not contain a user name or password"
	refute_output --partial wrong-secret-3f9a
}

@test "dry run masks the credentials" {
	customer +12015550933 subscribed | convo-ingest -q >/dev/null
	export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
	export TWILIO_AUTH_TOKEN=s3cret-token-71c2
	run --separate-stderr convo-send --dry-run --to +12015550933 \
	    --body "Hello"
	assert_success
	refute_output --partial s3cret-token-71c2
	[[ $stderr != *s3cret-token-71c2* ]]
	run jq -r '[.auth, .url] | join(" ")' <<<"$output"
	assert_output "AC00000000000000000000000000000000:******** https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json"
	export TWILIO_API_KEY=SK00000000000000000000000000000001
	printf 'api-secret-9d0e\n' >api-secret
	chmod 600 api-secret
	export CONVO_TWILIO_API_SECRET_FILE=$PWD/api-secret
	run convo-send --dry-run --to +12015550933 --body "Hello"
	assert_success
	refute_output --partial api-secret-9d0e
	run jq -R -r 'fromjson? | .auth' <<<"$output"
	assert_output "SK00000000000000000000000000000001:********"
	chmod 604 api-secret
	run convo-send --dry-run --to +12015550933 --body "Hello"
	assert_failure 78
	assert_output --partial "\"$PWD/api-secret\" has mode 0604"
	refute_output --partial api-secret-9d0e
	# Without credentials a dry run still works, and shows none.
	unset TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN TWILIO_API_KEY
	unset CONVO_TWILIO_API_SECRET_FILE
	run convo-send -q --dry-run --to +12015550933 --body "Hello"
	assert_success
	run jq -r '[.auth, .url] | map(tostring) | join(" ")' <<<"$output"
	assert_output "null null"
}

@test "dry run warns of missing credentials" {
	local hint="set it, or name a file that contains it with CONVO_TWILIO_AUTH_TOKEN_FILE, or use an API key with TWILIO_API_KEY and TWILIO_API_SECRET"
	local warning="convo-send: warning: a run without --dry-run would exit 78, because"
	local both="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set: set both, or set TWILIO_ACCOUNT_SID and name a file that contains the token with CONVO_TWILIO_AUTH_TOKEN_FILE, or use an API key with TWILIO_API_KEY and TWILIO_API_SECRET"

	customer +12015550936 subscribed | convo-ingest -q >/dev/null
	customer +12015550937 subscribed | convo-ingest -q >/dev/null
	unset TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN TWILIO_API_KEY
	unset TWILIO_API_SECRET CONVO_PROVIDER
	unset CONVO_TWILIO_AUTH_TOKEN_FILE CONVO_TWILIO_API_SECRET_FILE
	printf '{"to":"+12015550936"}\n{"to":"+12015550937"}\n' >to.ndjson
	run --separate-stderr convo-send --dry-run --body "Hello" <to.ndjson
	assert_success
	assert_equal "${stderr_lines[0]}" "$warning $both"
	# Warned once for two messages, then the summary line.
	assert_equal "${#stderr_lines[@]}" 2
	run jq -r .status <<<"$output"
	assert_output "$(printf 'dry_run\ndry_run')"

	# Only the setting that is missing is named, and no secret.
	TWILIO_AUTH_TOKEN=s3cret-token-5e1b run --separate-stderr \
	    convo-send --dry-run --to +12015550936 --body "Hello"
	assert_success
	assert_equal "${stderr_lines[0]}" "$warning TWILIO_ACCOUNT_SID is not set"
	[[ $stderr != *s3cret-token-5e1b* ]] || fail "$stderr"
	TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 run \
	    --separate-stderr convo-send --dry-run --to +12015550936 \
	    --body "Hello"
	assert_success
	assert_equal "${stderr_lines[0]}" "$warning TWILIO_AUTH_TOKEN is not set: $hint"
	TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 \
	    TWILIO_API_KEY=SK00000000000000000000000000000001 run \
	    --separate-stderr convo-send --dry-run --to +12015550936 \
	    --body "Hello"
	assert_success
	assert_equal "${stderr_lines[0]}" "$warning TWILIO_API_SECRET is not set: set it, or name a file that contains it with CONVO_TWILIO_API_SECRET_FILE"

	# A real run fails on the same settings, naming both.
	run --separate-stderr convo-send --to +12015550936 --body "Hello"
	assert_failure 78
	assert_equal "$stderr" "convo-send: $both; or use --dry-run"

	# Quiet runs and the dry-run provider print no warning.
	run --separate-stderr convo-send -q --dry-run --to +12015550936 \
	    --body "Hello"
	assert_success
	assert_equal "$stderr" ""
	CONVO_PROVIDER=dry-run run --separate-stderr convo-send \
	    --to +12015550936 --body "Hello"
	assert_success
	assert_equal "${#stderr_lines[@]}" 1
	assert_equal "${stderr_lines[0]}" "convo-send: 0 sent, 0 duplicate, 0 deferred, 0 rejected, 0 failed, 0 unknown, 0 queued, 0 skipped, 1 dry run"
}

@test "plain http needs the test setting" {
	start_fake
	unset CONVO_INSECURE_TLS_FOR_TESTING
	customer +12015550934 subscribed | convo-ingest -q >/dev/null
	run convo-send -q --to +12015550934 --body "Hello"
	assert_failure 78
	assert_output --partial "is not an https URL"
	assert_output --partial "CONVO_INSECURE_TLS_FOR_TESTING=1"
	run convo-send -q --dry-run --to +12015550934 --body "Hello"
	assert_failure 78
	TWILIO_API_BASE=ftp://127.0.0.1:21 CONVO_INSECURE_TLS_FOR_TESTING=1 \
	    run convo-send -q --to +12015550934 --body "Hello"
	assert_failure 78
	run requests
	assert_output "0"
}

@test "API base with an empty port is rejected" {
	customer +12015550963 subscribed | convo-ingest -q >/dev/null
	export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
	export TWILIO_AUTH_TOKEN=test-token CONVO_INSECURE_TLS_FOR_TESTING=1
	# The value, then as the message shows it without a final slash.
	for pair in 'http://127.0.0.1:|http://127.0.0.1:' \
	    'http://127.0.0.1:/|http://127.0.0.1:' \
	    'http://[::1]:/2010|http://[::1]:/2010'; do
		TWILIO_API_BASE=${pair%%|*} run --separate-stderr convo-send -q \
		    --to +12015550963 --body "Hello"
		assert_failure 78
		assert_equal "$stderr" "convo-send: TWILIO_API_BASE\
 \"${pair#*|}\" has no port number after the colon; give the port,\
 or remove the colon to use the default port of the scheme"
	done
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
}

@test "test setting is for loopback only" {
	customer +12015550935 subscribed | convo-ingest -q >/dev/null
	export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
	export TWILIO_AUTH_TOKEN=test-token CONVO_INSECURE_TLS_FOR_TESTING=1
	for base in https://api.twilio.com http://example.com \
	    http://127.0.0.1.example.com http://[::2]:80; do
		TWILIO_API_BASE=$base run convo-send -q --to +12015550935 \
		    --body "Hello"
		assert_failure 78
		assert_output --partial "applies only to a test server on a loopback address"
	done
	for value in true yes 0 2; do
		CONVO_INSECURE_TLS_FOR_TESTING=$value run convo-send -q \
		    --to +12015550935 --body "Hello"
		assert_failure 78
		assert_output --partial "must be 1 or unset, not \"$value\""
	done
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
}

@test "self-signed certificate is rejected" {
	customer +12015550936 subscribed | convo-ingest -q >/dev/null
	export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
	export TWILIO_AUTH_TOKEN=test-token
	start_tls_server
	TWILIO_API_BASE=https://127.0.0.1:$TLS_PORT run --separate-stderr \
	    convo-send --max-attempts 1 --to +12015550936 --body "Hello"
	assert_failure 75
	[[ $stderr == *"SSL peer certificate or SSH remote key was not OK"* ]] ||
	    fail "expected a certificate error: $stderr"
	wait "$TLS_PID" || true
	# The test setting turns the check off, says so, and the handshake
	# passes: the server then sends no HTTP response.
	start_tls_server
	TWILIO_API_BASE=https://localhost:$TLS_PORT \
	    CONVO_INSECURE_TLS_FOR_TESTING=1 run --separate-stderr \
	    convo-send --max-attempts 1 --to +12015550936 --body "Hello"
	assert_failure 75
	[[ $stderr == *"warning: CONVO_INSECURE_TLS_FOR_TESTING=1"* ]] ||
	    fail "expected a warning: $stderr"
	[[ $stderr != *"SSL peer certificate"* ]] ||
	    fail "certificate error: $stderr"
	[[ $stderr == *"Server returned nothing"* ]] ||
	    fail "expected an empty reply: $stderr"
	# The request was written before the empty reply, so it may have
	# been taken: the row stays sending, as after a timeout.
	run sql "SELECT state FROM convo.outbox"
	assert_output "sending"
}

@test "STOP during a run holds its later message" {
	start_fake "slow 2" "always ok"
	customer +12015550961 subscribed | convo-ingest -q >/dev/null
	{
		echo '{"type":"consent","phone":"whatsapp:+12015550961","status":"subscribed","at":"2026-11-01T00:00:00Z"}'
		printf '{"type":"message","direction":"inbound","from":"whatsapp:+12015550961","to":"whatsapp:%s","body":"hola","provider_message_id":"SMwa61","sent_at":"2026-11-02T10:00:00Z"}\n' \
		    "$BRAND"
	} | convo-ingest -q >/dev/null
	printf '%s\n' '{"to":"+12015550961","body":"first"}' \
	    '{"to":"whatsapp:+12015550961","body":"second"}' >input.ndjson
	# The first request takes two seconds, and the customer texts STOP
	# on WhatsApp while it is in flight, before the second is made.
	convo-send -q -P 1 --rate 0 <input.ndjson >results.ndjson 2>err.txt \
	    3>&- &
	local send_pid=$!
	sleep 0.7
	printf '{"type":"message","direction":"inbound","from":"whatsapp:+12015550961","to":"whatsapp:%s","body":"STOP","provider_message_id":"SMwa62","sent_at":"%s"}\n' \
	    "$BRAND" "$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)" | convo-ingest -q >/dev/null
	wait "$send_pid" || true
	run jq -r '.form.Body' log.ndjson
	assert_output "first"
	run sql "SELECT count(*) FROM convo.messages
	    WHERE direction = 'outbound' AND body = 'second'"
	assert_output "0"
	run jq -r '[.input_line, .status, .reason // "-"] | join(" ")' \
	    results.ndjson
	assert_output "$(printf '1 sent -\n2 rejected not_subscribed')"
	run jq -r 'select(.status == "rejected") | .message' results.ndjson
	assert_output "+12015550961 was no longer subscribed at the time of the request"
	run sql "SELECT count(*) FROM convo.outbox WHERE body = 'second'"
	assert_output "0"
	# Once the customer opts in again, the same input sends what was
	# held back, as for a record that the first check rejects.
	printf '{"type":"message","direction":"inbound","from":"whatsapp:+12015550961","to":"whatsapp:%s","body":"START","provider_message_id":"SMwa63","sent_at":"%s"}\n' \
	    "$BRAND" "$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)" | convo-ingest -q >/dev/null
	run --separate-stderr convo-send -q --rate 0 <input.ndjson
	assert_success
	run jq -r '[.input_line, .status] | join(" ")' <<<"$output"
	assert_output "$(printf '1 duplicate\n2 sent')"
}

@test "keyword reply stays on the keyword's channel" {
	start_fake
	stop_message +12015550962 SMstop62 | convo-ingest -q >replies.ndjson
	jq -c 'select(.type == "send") | .channel = "whatsapp"' \
	    replies.ndjson >moved.ndjson
	run --separate-stderr convo-send -q --rate 0 <moved.ndjson
	run jq -r .form.To log.ndjson
	refute_output --partial "whatsapp:"
	# The confirmation of STOP still reaches the customer by SMS.
	run --separate-stderr convo-send -q --rate 0 \
	    < <(jq -c 'select(.type == "send")' replies.ndjson)
	run jq -r .status <<<"$output"
	assert_output "sent"
}
