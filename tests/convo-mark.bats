#!/usr/bin/env bats
# convo-mark: each operator action, its audit event, how ingest treats
# snoozed, closed and blocked conversations, and how targets are named.
#
# Times that must stay in the future, such as snooze times, are computed
# from CONVO_NOW in 2090, because convo-list compares snooze times with
# the database clock.

load helper

bats_require_minimum_version 1.5.0

ADA=+15005550181
BEN=+15005550182
NOW=2090-06-01T10:00:00Z

ingest() {
	convo-ingest -q "$@" >/dev/null
}

# Print an inbound message record: inbound PHONE SENT_AT PMID BODY.
inbound() {
	printf '{"type":"message","direction":"inbound","from":"%s",' "$1"
	printf '"to":"+15005550199","body":"%s","provider_message_id":"%s",' \
	    "$4" "$3"
	printf '"sent_at":"%s"}\n' "$2"
}

# Record one text from Ada and one from Ben, both unread.
two_customers() {
	inbound $ADA 2026-11-12T09:00:00Z SMada001 "Where is my order?" |
	    ingest -
	inbound $BEN 2026-11-12T09:05:00Z SMben001 "Do you ship to Canada?" |
	    ingest -
}

# Record time zone ZONE in the profile of the customer at PHONE.
set_zone() {
	printf '{"type":"profile","phone":"%s","timezone":"%s"}\n' "$1" "$2" |
	    ingest -
}

# Print the id of the conversation with the customer at PHONE.
conversation_of() {
	convo-list --status all --limit 0 |
	    jq -r --arg phone "$1" 'select(.profile.phone == $phone) | .id'
}

# Print the jq FILTER of the conversation record of the customer at PHONE.
field_of() {
	convo-list --status all --limit 0 |
	    jq -r --arg phone "$1" "select(.profile.phone == \$phone) | $2"
}

# Print the audit events as action|detail|operator|at, oldest first.
events() {
	sql "SELECT action, detail, operator, convo.rfc3339(at)
	    FROM convo.conversation_events ORDER BY event_id"
}

mark() {
	CONVO_NOW=$NOW convo-mark --operator ana "$@"
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

@test "block records event with operator" {
	two_customers
	id=$(conversation_of $ADA)
	run --separate-stderr mark --block "$id"
	assert_success
	assert_equal "$stderr" ""
	run jq -r '[.type, .id, .blocked] | join(" ")' <<<"$output"
	assert_output "conversation $id true"
	run events
	assert_output "block|{}|ana|$NOW"
	run field_of $BEN .blocked
	assert_output false
}

@test "unblock ends the block" {
	two_customers
	id=$(conversation_of $ADA)
	mark --block "$id" >/dev/null
	run mark --unblock "$id"
	assert_success
	run jq -r .blocked <<<"$output"
	assert_output false
	run sql "SELECT action FROM convo.conversation_events
	    ORDER BY event_id"
	assert_output - <<'EOF'
block
unblock
EOF
}

# Print an inbound WhatsApp message record: whatsapp PHONE SENT_AT PMID
# BODY.
whatsapp() {
	printf '{"type":"message","direction":"inbound",'
	printf '"from":"whatsapp:%s","to":"whatsapp:+15005550199",' "$1"
	printf '"body":"%s","provider_message_id":"%s",' "$4" "$3"
	printf '"sent_at":"%s"}\n' "$2"
}

@test "block by phone covers every channel" {
	two_customers
	whatsapp $ADA 2026-11-12T09:10:00Z SMada101 "Hola" | ingest -
	sms=$(sql "SELECT conversation_id FROM convo.conversations
	    WHERE channel = 'sms' AND profile_id = (SELECT profile_id
	    FROM convo.profiles WHERE phone = '$ADA')")
	wa=$(sql "SELECT conversation_id FROM convo.conversations
	    WHERE channel = 'whatsapp'")
	run --separate-stderr mark --block '(500) 555-0181'
	assert_success
	run jq -r '"\(.id) \(.channel) \(.blocked)"' <<<"$output"
	assert_output - <<EOF
c_$sms sms true
c_$wa whatsapp true
EOF
	run sql "SELECT conversation_id, action, detail
	    FROM convo.conversation_events ORDER BY event_id"
	assert_output - <<EOF
$sms|block|{}
$wa|block|{"conversation_id": $sms}
EOF
	run field_of $BEN .blocked
	assert_output false
}

@test "block by id covers the customer" {
	two_customers
	whatsapp $ADA 2026-11-12T09:10:00Z SMada101 "Hola" | ingest -
	run mark --block whatsapp:$ADA
	assert_success
	run jq -r '"\(.channel) \(.blocked)"' <<<"$output"
	assert_output - <<'EOF'
whatsapp true
sms true
EOF
	id=$(sql "SELECT 'c_' || conversation_id FROM convo.conversations
	    WHERE channel = 'sms' AND profile_id = (SELECT profile_id
	    FROM convo.profiles WHERE phone = '$ADA')")
	run mark --unblock "$id"
	assert_success
	run jq -r '"\(.channel) \(.blocked)"' <<<"$output"
	assert_output - <<'EOF'
sms false
whatsapp false
EOF
	run sql "SELECT count(*) FROM convo.conversations WHERE blocked"
	assert_output 0
}

@test "new channel of blocked customer starts blocked" {
	two_customers
	mark --block $ADA >/dev/null
	whatsapp $ADA 2026-11-12T11:00:00Z SMada101 "Hola" | ingest -
	run sql "SELECT blocked, status, unread_count
	    FROM convo.conversations WHERE channel = 'whatsapp'"
	assert_output "t|open|0"
	run sql "SELECT counts_unread FROM convo.messages
	    WHERE provider_message_id = 'SMada101'"
	assert_output f
	wa=$(sql "SELECT 'c_' || conversation_id FROM convo.conversations
	    WHERE channel = 'whatsapp'")
	mark --close "$wa" >/dev/null
	whatsapp $ADA 2026-11-12T12:00:00Z SMada102 "Hola??" | ingest -
	run sql "SELECT blocked, status, unread_count
	    FROM convo.conversations WHERE channel = 'whatsapp'"
	assert_output "t|closed|0"
	run convo-db -q verify
	assert_success
	assert_output ""
}

@test "new channel after unblock starts unblocked" {
	two_customers
	mark --block $ADA >/dev/null
	mark --unblock $ADA >/dev/null
	whatsapp $ADA 2026-11-12T11:00:00Z SMada101 "Hola" | ingest -
	run sql "SELECT blocked, unread_count
	    FROM convo.conversations WHERE channel = 'whatsapp'"
	assert_output "f|1"
}

@test "snooze duration sets the time" {
	two_customers
	id=$(conversation_of $ADA)
	run mark --snooze 3h "$id"
	assert_success
	run jq -r '[.status, .snoozed_until] | join(" ")' <<<"$output"
	assert_output "snoozed 2090-06-01T13:00:00Z"
	run events
	assert_output "snooze|{\"until\": \"2090-06-01T13:00:00Z\"}|ana|$NOW"
}

@test "snooze durations take each unit" {
	two_customers
	id=$(conversation_of $ADA)
	for case in 90s:10:01:30 30m:10:30:00 2d:2090-06-03T10:00:00 \
	    1w:2090-06-08T10:00:00; do
		run mark --snooze "${case%%:*}" "$id"
		assert_success
		want=${case#*:}
		[[ $want == 2090* ]] || want="2090-06-01T$want"
		run jq -r .snoozed_until <<<"$output"
		assert_output "${want}Z"
	done
}

@test "snooze until RFC 3339 time" {
	two_customers
	id=$(conversation_of $ADA)
	run mark --snooze-until 2090-06-02T08:30:00+02:00 "$id"
	assert_success
	run jq -r '[.status, .snoozed_until] | join(" ")' <<<"$output"
	assert_output "snoozed 2090-06-02T06:30:00Z"
}

@test "snooze until tomorrow in profile zone" {
	two_customers
	set_zone $ADA America/Chicago
	id=$(conversation_of $ADA)
	# 10:00 UTC is 05:00 in Chicago, on daylight saving time (UTC-5).
	run --separate-stderr mark --snooze-until 'tomorrow 09:00' "$id"
	assert_success
	assert_equal "$stderr" ""
	run jq -r .snoozed_until <<<"$output"
	assert_output "2090-06-02T14:00:00Z"
	run mark --snooze-until 'today 09:00' "$id"
	assert_success
	run jq -r .snoozed_until <<<"$output"
	assert_output "2090-06-01T14:00:00Z"
}

@test "clock time means the next one" {
	two_customers
	set_zone $ADA America/Chicago
	id=$(conversation_of $ADA)
	run mark --snooze-until 06:00 "$id"
	assert_success
	run jq -r .snoozed_until <<<"$output"
	assert_output "2090-06-01T11:00:00Z"
	run mark --snooze-until 4:30 "$id"
	assert_success
	run jq -r .snoozed_until <<<"$output"
	assert_output "2090-06-02T09:30:00Z"
}

@test "unknown time zone reads UTC" {
	two_customers
	id=$(conversation_of $ADA)
	run --separate-stderr mark --snooze-until 'tomorrow 09:00' "$id"
	assert_success
	assert_equal "$stderr" "convo-mark: $id: the customer's time zone is not known, so \"tomorrow 09:00\" is read in UTC"
	run jq -r .snoozed_until <<<"$output"
	assert_output "2090-06-02T09:00:00Z"
}

@test "North American area code gives the time zone" {
	inbound +12125550183 2026-11-12T09:00:00Z SMcy001 "Hello" | ingest -
	id=$(conversation_of +12125550183)
	# 10:00 UTC is 06:00 in New York, on daylight saving time (UTC-4).
	run --separate-stderr mark --snooze-until 'today 09:00' "$id"
	assert_success
	assert_equal "$stderr" ""
	run jq -r .snoozed_until <<<"$output"
	assert_output "2090-06-01T13:00:00Z"
}

@test "invalid time zone reads UTC" {
	two_customers
	sql "UPDATE convo.profiles SET timezone = 'Mars/Olympus'"
	id=$(conversation_of $ADA)
	run --separate-stderr mark --snooze-until 'today 12:00' "$id"
	assert_success
	assert_equal "$stderr" "convo-mark: $id: the customer's time zone \"Mars/Olympus\" is invalid, so \"today 12:00\" is read in UTC"
	run jq -r .snoozed_until <<<"$output"
	assert_output "2090-06-01T12:00:00Z"
}

@test "past snooze time changes nothing" {
	two_customers
	id=$(conversation_of $ADA)
	set_zone $BEN America/Chicago
	run --separate-stderr mark --snooze-until 'today 09:00' --assign bo \
	    "$id" $BEN
	assert_failure 65
	assert_equal "$stderr" "convo-mark: $id: the customer's time zone is not known, so \"today 09:00\" is read in UTC
convo-mark: $id: snooze time 2090-06-01T09:00:00Z has passed; the conversation is unchanged"
	run jq -r .profile.phone <<<"$output"
	assert_output $BEN
	run field_of $ADA '"\(.status) \(.assignee)"'
	assert_output "open null"
	run sql "SELECT count(*) FROM convo.conversation_events
	    WHERE conversation_id = ${id#c_}"
	assert_output 0
}

@test "snooze past 100 years changes nothing" {
	two_customers
	run --separate-stderr mark --snooze-until 9999-12-31T23:59:59Z $ADA
	assert_failure 65
	[[ $stderr == *'snooze time 9999-12-31T23:59:59Z is more than 100 years away; the conversation is unchanged' ]] ||
	    fail "$stderr"
	run field_of $ADA .status
	assert_output open
}

@test "snooze expiry shows as open" {
	two_customers
	id=$(conversation_of $ADA)
	mark --snooze 2h "$id" >/dev/null
	run convo-list --status open
	assert_success
	run jq -r .profile.phone <<<"$output"
	assert_output $BEN
	run convo-list --status snoozed
	run jq -r .id <<<"$output"
	assert_output "$id"
	sql "UPDATE convo.conversations
	    SET snoozed_until = now() - interval '1 minute'
	    WHERE conversation_id = ${id#c_}"
	run convo-list --status open
	run jq -r .profile.phone <<<"$output"
	assert_output - <<EOF
$BEN
$ADA
EOF
	run convo-list --status snoozed
	assert_output ""
}

@test "close and reopen record events" {
	two_customers
	id=$(conversation_of $ADA)
	run mark --close "$id"
	assert_success
	run jq -r '[.status, .snoozed_until] | tostring' <<<"$output"
	assert_output '["closed",null]'
	mark --snooze 1h "$id" >/dev/null
	run mark --reopen "$id"
	assert_success
	run jq -r '[.status, .snoozed_until] | tostring' <<<"$output"
	assert_output '["open",null]'
	run events
	assert_output - <<EOF
close|{}|ana|$NOW
snooze|{"until": "2090-06-01T11:00:00Z"}|ana|$NOW
reopen|{}|ana|$NOW
EOF
}

@test "customer writing reopens snoozed conversation" {
	two_customers
	id=$(conversation_of $ADA)
	mark --snooze 1w "$id" >/dev/null
	inbound $ADA 2026-11-12T11:00:00Z SMada002 "Any news?" | ingest -
	run field_of $ADA '"\(.status) \(.snoozed_until) \(.unread_count)"'
	assert_output "open null 2"
}

@test "customer writing reopens closed conversation" {
	two_customers
	id=$(conversation_of $ADA)
	mark --close --read "$id" >/dev/null
	inbound $ADA 2026-11-12T11:00:00Z SMada002 "Any news?" | ingest -
	run field_of $ADA '"\(.status) \(.unread_count)"'
	assert_output "open 1"
}

@test "outbound message keeps unread and status" {
	two_customers
	id=$(conversation_of $ADA)
	mark --close "$id" >/dev/null
	ingest - <<EOF
{"type":"message","direction":"outbound","from":"+15005550199","to":"$ADA","body":"On its way","provider_message_id":"SMada900","sent_at":"2026-11-12T10:00:00Z","origin":"conversation"}
EOF
	run field_of $ADA '"\(.status) \(.unread_count) \(.last_message.body)"'
	assert_output "closed 1 On its way"
}

@test "blocked conversation stores without unread" {
	two_customers
	id=$(conversation_of $ADA)
	mark --block --close "$id" >/dev/null
	inbound $ADA 2026-11-12T11:00:00Z SMada002 "Hello??" | ingest -
	run convo-read --no-mark-read "$id"
	assert_success
	run jq -r .provider_message_id <<<"$output"
	assert_output - <<'EOF'
SMada001
SMada002
EOF
	run field_of $ADA '"\(.status) \(.unread_count) \(.last_message.body)"'
	assert_output "closed 1 Hello??"
	run sql "SELECT provider_message_id, counts_unread FROM convo.messages
	    ORDER BY message_id"
	assert_output - <<'EOF'
SMada001|t
SMben001|t
SMada002|f
EOF
}

@test "blocked snoozed conversation stays snoozed" {
	two_customers
	id=$(conversation_of $ADA)
	mark --block --snooze 1d "$id" >/dev/null
	inbound $ADA 2026-11-12T11:00:00Z SMada002 "Hello??" | ingest -
	run field_of $ADA '"\(.status) \(.snoozed_until) \(.unread_count)"'
	assert_output "snoozed 2090-06-02T10:00:00Z 1"
}

@test "blocked message stays read after unblock" {
	two_customers
	id=$(conversation_of $ADA)
	mark --block "$id" >/dev/null
	inbound $ADA 2026-11-12T11:00:00Z SMada002 "Hello??" | ingest -
	mark --unblock "$id" >/dev/null
	inbound $ADA 2026-11-12T12:00:00Z SMada003 "Still there?" | ingest -
	run field_of $ADA .unread_count
	assert_output 2
	mark --read "$id" >/dev/null
	inbound $ADA 2026-11-12T13:00:00Z SMada004 "Hello again" | ingest -
	run field_of $ADA .unread_count
	assert_output 1
}

@test "convo-send rejects blocked conversation" {
	rm -f port log.ndjson
	: >script
	"$FAKE_TWILIO" --port-file port --log log.ndjson \
	    --script script >fake.out 2>fake.err 3>&- &
	FAKE_PID=$!
	for _ in $(seq 50); do
		[ -s port ] && break
		sleep 0.1
	done
	[ -s port ] || fail "fake-twilio did not start: $(cat fake.err)"
	export TWILIO_API_BASE="http://127.0.0.1:$(cat port)"
	# The fake speaks plain http on loopback, which needs this setting.
	export CONVO_INSECURE_TLS_FOR_TESTING=1
	export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
	export TWILIO_AUTH_TOKEN=test-token
	ingest - <<EOF
{"type":"consent","phone":"$ADA","status":"subscribed","at":"2026-11-01T00:00:00Z"}
EOF
	two_customers
	mark --block $ADA >/dev/null
	run --separate-stderr convo-send -q --to $ADA --body "Hello"
	assert_failure 65
	run jq -r .reason <<<"$output"
	assert_output "blocked"
	[ ! -s log.ndjson ] ||
	    fail "convo-send made a request: $(cat log.ndjson)"
}

@test "unread shows in convo-list unread" {
	two_customers
	id=$(conversation_of $ADA)
	convo-read "$id" >/dev/null
	run convo-list --unread
	run jq -r .id <<<"$output"
	refute_line "$id"
	run mark --unread "$id"
	assert_success
	run jq -r .unread_count <<<"$output"
	assert_output 1
	run convo-list --unread
	run jq -r .id <<<"$output"
	assert_line "$id"
	message=$(sql "SELECT message_id FROM convo.messages
	    WHERE provider_message_id = 'SMada001'")
	run sql "SELECT action, detail->'message_id', operator
	    FROM convo.conversation_events"
	assert_output "unread|$message|ana"
}

@test "unread marks only the latest message" {
	two_customers
	inbound $ADA 2026-11-12T10:00:00Z SMada002 "Hello?" | ingest -
	inbound $ADA 2026-11-12T11:00:00Z SMada003 "STOP" | ingest -
	id=$(conversation_of $ADA)
	run field_of $ADA .unread_count
	assert_output 2
	run mark --read "$id"
	run jq -r .unread_count <<<"$output"
	assert_output 0
	run mark --unread "$id"
	run jq -r .unread_count <<<"$output"
	assert_output 1
	run mark --unread "$id"
	run jq -r .unread_count <<<"$output"
	assert_output 1
}

@test "unread counts a blocked message" {
	two_customers
	id=$(conversation_of $ADA)
	mark --read --block "$id" >/dev/null
	inbound $ADA 2026-11-12T11:00:00Z SMada002 "Hello??" | ingest -
	run field_of $ADA .unread_count
	assert_output 0
	run mark --unread "$id"
	run jq -r .unread_count <<<"$output"
	assert_output 1
}

@test "never read thread stays unread" {
	two_customers
	id=$(conversation_of $ADA)
	run mark --unread "$id"
	assert_success
	run jq -r '"\(.unread_count) \(.last_read_at)"' <<<"$output"
	assert_output "1 null"
}

@test "read marks the thread read" {
	two_customers
	id=$(conversation_of $ADA)
	run mark --read "$id"
	assert_success
	record=$output
	run jq -r .unread_count <<<"$record"
	assert_output 0
	recorded=$(sql "SELECT convo.rfc3339(recorded_at) FROM convo.messages
	    WHERE provider_message_id = 'SMada001'")
	run jq -r .last_read_at <<<"$record"
	assert_output "$recorded"
	run sql "SELECT action, detail->>'last_read_at', operator
	    FROM convo.conversation_events"
	assert_output "read|$recorded|ana"
	run field_of $BEN .unread_count
	assert_output 1
}

@test "assign and unassign record assignee" {
	two_customers
	id=$(conversation_of $ADA)
	run mark --assign bo "$id"
	assert_success
	run jq -r .assignee <<<"$output"
	assert_output bo
	run mark --assign cy "$id"
	run jq -r .assignee <<<"$output"
	assert_output cy
	run mark --unassign "$id"
	run jq -r .assignee <<<"$output"
	assert_output null
	run events
	assert_output - <<EOF
assign|{"assignee": "bo", "previous": null}|ana|$NOW
assign|{"assignee": "cy", "previous": "bo"}|ana|$NOW
unassign|{"previous": "cy"}|ana|$NOW
EOF
}

@test "confirm opt-out unsubscribes and clears flag" {
	inbound $ADA 2026-11-12T09:00:00Z SMada001 "ok, stop" | ingest -
	id=$(conversation_of $ADA)
	flagged=$(field_of $ADA .possible_opt_out.message_id)
	[[ $flagged == m_* ]] || fail "no flag: $flagged"
	run mark --confirm-opt-out "$id"
	assert_success
	run jq -r '"\(.possible_opt_out) \(.profile.consent)"' <<<"$output"
	assert_output "null unsubscribed"
	run convo-read --no-mark-read "$id"
	run jq -c 'select(.type == "consent_change")
	    | [.status, .method, .at, .message_id]' <<<"$output"
	assert_output "[\"unsubscribed\",\"operator\",\"$NOW\",\"$flagged\"]"
	run sql "SELECT action, detail->'message_id', operator
	    FROM convo.conversation_events"
	assert_output "confirm_opt_out|${flagged#m_}|ana"
}

@test "confirm opt-out wins over subscription" {
	ingest - <<EOF
{"type":"consent","phone":"$ADA","status":"subscribed","at":"2026-11-01T00:00:00Z"}
EOF
	inbound $ADA 2026-11-12T09:00:00Z SMada001 "please remove me" | ingest -
	run mark --confirm-opt-out $ADA
	assert_success
	run jq -r .profile.consent <<<"$output"
	assert_output unsubscribed
	run sql "SELECT status, method FROM convo.consent_changes
	    ORDER BY at"
	assert_output - <<'EOF'
subscribed|import
unsubscribed|operator
EOF
}

@test "START older than a confirmed opt-out gets no reply" {
	ingest - <<EOF
{"type":"consent","phone":"$ADA","status":"subscribed","at":"2026-11-01T00:00:00Z"}
EOF
	inbound $ADA 2026-11-12T09:00:00Z SMada001 "please remove me" | ingest -
	CONVO_NOW=2026-11-12T12:00:00Z convo-mark -q --operator ana \
	    --confirm-opt-out $ADA >/dev/null
	# The START was sent before the operator's opt-out, which stays in
	# force, so "you are subscribed" would be untrue.
	inbound $ADA 2026-11-12T11:00:00Z SMada002 "START" |
	    convo-ingest -q >out.ndjson
	run jq -r 'select(.type == "ingest_result") | .keyword.action' \
	    out.ndjson
	assert_output "opt_in"
	run jq -s 'map(select(.type == "send")) | length' out.ndjson
	assert_output "0"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
	run sql "SELECT status FROM convo.consent"
	assert_output "unsubscribed"
}

@test "confirm opt-out without a flag" {
	two_customers
	run mark --confirm-opt-out $ADA
	assert_success
	run jq -r .profile.consent <<<"$output"
	assert_output unsubscribed
	run sql "SELECT status, method, message_id IS NULL
	    FROM convo.consent_changes"
	assert_output "unsubscribed|operator|t"
	run sql "SELECT action, detail->'message_id'
	    FROM convo.conversation_events"
	assert_output "confirm_opt_out|null"
}

@test "dismiss flag clears it" {
	inbound $ADA 2026-11-12T09:00:00Z SMada001 "ok, stop" | ingest -
	id=$(conversation_of $ADA)
	flagged=$(field_of $ADA .possible_opt_out.message_id)
	run mark --dismiss-flag "$id"
	assert_success
	run jq -r '"\(.possible_opt_out) \(.profile.consent)"' <<<"$output"
	assert_output "null never_subscribed"
	run sql "SELECT count(*) FROM convo.consent_changes"
	assert_output 0
	run sql "SELECT action, detail->'message_id', operator
	    FROM convo.conversation_events"
	assert_output "dismiss_flag|${flagged#m_}|ana"
	run convo-list --flagged --status all
	assert_output ""
}

@test "stdin records from convo-list" {
	inbound $ADA 2026-11-12T09:00:00Z SMada001 "ok, stop" | ingest -
	inbound $BEN 2026-11-12T09:05:00Z SMben001 "remove me please" | ingest -
	inbound +15005550183 2026-11-12T09:10:00Z SMcy001 "Thanks" | ingest -
	run --separate-stderr bash -c \
	    'convo-list --flagged | convo-mark -o ana --dismiss-flag'
	assert_success
	assert_equal "$stderr" ""
	run jq -r .profile.phone <<<"$output"
	assert_output - <<EOF
$BEN
$ADA
EOF
	run convo-list --flagged
	assert_output ""
	run sql "SELECT count(*) FROM convo.conversation_events"
	assert_output 2
}

@test "dismissing from an old record leaves a newer flag" {
	inbound $ADA 2026-11-12T09:00:00Z SMada001 "ok, stop" | ingest -
	convo-list --flagged >old.ndjson
	first=$(jq -r .possible_opt_out.message_id old.ndjson)
	inbound $ADA 2026-11-12T09:30:00Z SMada002 "please stop texting me" |
	    ingest -
	newer=$(field_of $ADA .possible_opt_out.message_id)
	[ "$newer" != "$first" ]
	run --separate-stderr mark --dismiss-flag <old.ndjson
	assert_failure 65
	id=$(conversation_of $ADA)
	assert_equal "$stderr" "convo-mark: line 1: $id: the possible opt-out is now message $newer, not $first as in the record; read the thread and settle it again"
	run field_of $ADA .possible_opt_out.message_id
	assert_output "$newer"
	run sql "SELECT count(*) FROM convo.conversation_events"
	assert_output 0
	# A record that shows the flag in force settles it.
	convo-list --flagged | mark --dismiss-flag >/dev/null
	run field_of $ADA .possible_opt_out
	assert_output null
}

@test "conversation record after its thread is checked" {
	inbound $ADA 2026-11-12T09:00:00Z SMada001 "ok, stop" | ingest -
	convo-list --flagged >old.ndjson
	inbound $ADA 2026-11-12T09:10:00Z SMada002 "remove me please" | ingest -
	# The thread's newest record settles the flag; the stale conversation
	# record after it names the same conversation, and is checked.
	run --separate-stderr bash -c \
	    '{ convo-read -N -n 1 "$1"; cat old.ndjson; } |
	    convo-mark -o ana --dismiss-flag' _ $ADA
	assert_failure 65
	assert_equal "$stderr" 'convo-mark: line 2: c_1: the possible opt-out is now none, not m_1 as in the record; read the thread and settle it again'
}

@test "stdin records name phones" {
	two_customers
	run --separate-stderr convo-mark -o ana --close <<EOF
{"phone":"(500) 555-0182"}
{"type":"ingest_result","kind":"consent","result":"inserted"}
{"type":"message","direction":"inbound","from":"$ADA","to":"+15005550199"}
EOF
	assert_success
	assert_equal "$stderr" ""
	run jq -r .profile.phone <<<"$output"
	assert_output - <<EOF
$BEN
$ADA
EOF
}

@test "invalid stdin line names its number" {
	two_customers
	run --separate-stderr convo-mark -o ana --close <<EOF
not JSON
{"note":"nothing"}
{"id":"c_1"}
[1,2]
{"phone":"$BEN"}
EOF
	assert_failure 65
	assert_equal "$stderr" 'convo-mark: line 1: invalid JSON at column 4: Invalid numeric literal
convo-mark: line 2: expected a JSON record with "conversation_id" or "phone"
convo-mark: line 3: field "id" names a conversation only in a record of "type":"conversation"; give "conversation_id" or "phone"
convo-mark: line 4: expected a JSON record, not array'

	run jq -r .profile.phone <<<"$output"
	assert_output $BEN
}

@test "phone argument names the conversation" {
	two_customers
	run mark --close "(500) 555-0181"
	assert_success
	run jq -r '[.profile.phone, .status] | join(" ")' <<<"$output"
	assert_output "$ADA closed"
}

@test "unknown id exits 65" {
	two_customers
	run --separate-stderr mark --close c_999999 $ADA +15005550177 pizza
	assert_failure 65
	assert_equal "$stderr" 'convo-mark: conversation "c_999999" not found; list conversations with convo-list
convo-mark: conversation "+15005550177" not found; list conversations with convo-list
convo-mark: invalid phone number or conversation id "pizza"'
	run jq -r '[.profile.phone, .status] | join(" ")' <<<"$output"
	assert_output "$ADA closed"
	run sql "SELECT count(*) FROM convo.conversation_events"
	assert_output 1
}

@test "other account's conversation is not found" {
	sql "SELECT convo.account_create('acme')" >/dev/null
	inbound $ADA 2026-11-12T09:00:00Z SMacme001 "Hello Acme" |
	    convo-ingest -q --account acme >/dev/null
	id=$(convo-list --account acme | jq -r .id)
	run mark --close "$id"
	assert_failure 65
	run mark --account acme --close "$id"
	assert_success
	run jq -r '"\(.account) \(.status)"' <<<"$output"
	assert_output "acme closed"
}

@test "several actions in one run" {
	two_customers
	id=$(conversation_of $ADA)
	run mark --assign bo --close --block --read "$id"
	assert_success
	run jq -r '"\(.assignee) \(.status) \(.blocked) \(.unread_count)"' \
	    <<<"$output"
	assert_output "bo closed true 0"
	run sql "SELECT action FROM convo.conversation_events
	    ORDER BY event_id"
	assert_output - <<'EOF'
block
close
read
assign
EOF
}

@test "write error exits 74 after the change" {
	two_customers
	run bash -c 'convo-mark -o ana --close "$1" >/dev/full' _ $ADA
	assert_failure 74
	run field_of $ADA .status
	assert_output closed
}

@test "write error stops the later changes" {
	two_customers
	run --separate-stderr bash -c \
	    'convo-mark -o ana --close "$1" "$2" >/dev/full' _ $ADA $BEN
	assert_failure 74
	assert_equal "$stderr" "convo-mark: cannot write to standard output: No space left on device"
	run field_of $ADA .status
	assert_output closed
	run field_of $BEN .status
	assert_output open
}

@test "thread from convo-read changes it once" {
	two_customers
	inbound $ADA 2026-11-12T09:20:00Z SMada002 "Any news?" | ingest -
	inbound $ADA 2026-11-12T09:30:00Z SMada003 "Hello?" | ingest -
	run --separate-stderr bash -c \
	    'convo-read -N "$1" | convo-mark -o ana --assign bob' _ $ADA
	assert_success
	run jq -r .profile.phone <<<"$output"
	assert_output $ADA
	run sql "SELECT action, detail->>'assignee', detail->>'previous'
	    FROM convo.conversation_events"
	assert_output "assign|bob|"
}

@test "default operator is the login name" {
	two_customers
	want=$(logname 2>/dev/null || echo tester)
	USER=tester convo-mark --close $ADA >/dev/null
	run sql "SELECT operator FROM convo.conversation_events"
	assert_output "$want"
}

@test "event time defaults to now" {
	two_customers
	convo-mark -o ana --close $ADA >/dev/null
	run sql "SELECT at > now() - interval '1 hour' AND at <= now()
	    FROM convo.conversation_events"
	assert_output t
}

@test "conflicting actions exit 64" {
	for pair in "--block --unblock" "--close --reopen" \
	    "--snooze 1h --close" "--snooze 1h --snooze-until 10:00" \
	    "--read --unread" "--assign bo --unassign" \
	    "--dismiss-flag --confirm-opt-out"; do
		run convo-mark $pair c_1
		assert_failure 64
		assert_output --partial "conflicts with"
	done
	run convo-mark --close --close c_1
	assert_failure 64
	assert_output --partial "convo-mark: --close is given twice"
}

@test "no action exits 64" {
	run convo-mark c_1
	assert_failure 64
	assert_line --index 0 "convo-mark: no action given"
}

@test "invalid snooze argument exits 64" {
	run convo-mark --snooze 0m c_1
	assert_failure 64
	assert_output 'convo-mark: invalid duration "0m": a snooze must last more than 0'
	run convo-mark --snooze 5300w c_1
	assert_failure 64
	assert_output 'convo-mark: invalid duration "5300w": a snooze lasts at most 100 years'
	run convo-mark --snooze 3x c_1
	assert_failure 64
	assert_output --partial 'invalid duration "3x": expected a whole number'
	run convo-mark --snooze-until 'next week' c_1
	assert_failure 64
	assert_output --partial 'invalid time "next week"'
	run convo-mark --snooze-until 24:00 c_1
	assert_failure 64
	assert_output --partial 'invalid time "24:00"'
	run convo-mark --snooze 36526d c_1
	assert_failure 64
	assert_output 'convo-mark: invalid duration "36526d": a snooze lasts at most 100 years'
	run convo-mark --assign '' c_1
	assert_failure 64
	assert_output --partial 'invalid assignee'
}

@test "names with control characters exit 64" {
	run convo-mark --assign '   ' c_1
	assert_failure 64
	assert_output 'convo-mark: invalid assignee "   ": expected a name'
	run convo-mark --assign $'ann\nbob' c_1
	assert_failure 64
	assert_output 'convo-mark: invalid assignee "ann?bob": expected a name without control characters'
	run convo-mark -o $'ev\eil' --close c_1
	assert_failure 64
	assert_output 'convo-mark: invalid operator "ev?il": expected a name without control characters'
	run sql "SELECT count(*) FROM convo.conversation_events"
	assert_output 0
}

@test "invalid CONVO_NOW exits 64" {
	CONVO_NOW=yesterday run convo-mark --close c_1
	assert_failure 64
	assert_output --partial 'invalid CONVO_NOW "yesterday"'
}
