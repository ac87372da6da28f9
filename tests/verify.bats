#!/usr/bin/env bats
# convo-db verify: the recount of conversation summaries, consent and
# message statuses finds each stored value that was changed behind
# convo's back, and nothing in a database that convo wrote.

load helper

# Record the sample, with a thread read, a snooze, a block, an
# assignment and a receipt, and leave the database as convo wrote it.
recorded_sample() {
	convo-ingest -q "$SAMPLE" >/dev/null
	convo-read c_1 >/dev/null
	convo-mark --snooze 1h c_2 >/dev/null
	convo-mark --block --assign ana c_3 >/dev/null
}

# Print the mismatches of verify as "field stored expected" lines.
mismatches() {
	convo-db -q verify | jq -r '[.conversation_id, .field,
	    (.stored | tojson), (.expected | tojson)] | join(" ")'
}

@test "recorded sample verifies clean" {
	recorded_sample
	run convo-db verify
	assert_success
	assert_output --regexp '^convo-db: verified [1-9][0-9]* conversations, [0-9]+ consent states and [1-9][0-9]* messages in 1 account: 0 mismatches$'
}

@test "changed unread count is reported" {
	recorded_sample
	sql "UPDATE convo.conversations SET unread_count = unread_count + 3
	    WHERE conversation_id = 2"
	run convo-db -q verify
	assert_failure 1
	run jq -c '[.type, .account, .conversation_id, .field,
	    .expected + 3 == .stored]' <<<"$output"
	assert_output '["mismatch","default","c_2","unread_count",true]'
}

@test "stale last message is reported" {
	recorded_sample
	sql "UPDATE convo.conversations SET last_body = 'old text'
	    WHERE conversation_id = 1"
	run mismatches
	assert_line --partial 'c_1 last_body "old text" '
	assert_equal "${#lines[@]}" 1
}

@test "missing conversation is reported" {
	recorded_sample
	phone=$(sql "SELECT p.phone FROM convo.conversations c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE c.conversation_id = 4")
	sql "DELETE FROM convo.conversations WHERE conversation_id = 4"
	run convo-db -q verify
	assert_failure 1
	run jq -c '[.conversation_id, .phone, .field, .stored, .expected]' \
	    <<<"$output"
	assert_output "[null,\"$phone\",\"exists\",false,true]"
}

@test "consent behind the changes is reported" {
	recorded_sample
	sql "UPDATE convo.consent SET status = 'subscribed'
	    WHERE status = 'unsubscribed'
	    AND profile_id = (SELECT min(profile_id) FROM convo.consent
	        WHERE status = 'unsubscribed')"
	run mismatches
	assert_line --regexp '^(c_[0-9]+|) consent "subscribed" "unsubscribed"$'
}

@test "status behind the receipts is reported" {
	{
		echo '{"type":"message","direction":"outbound","from":"+12025550140","to":"+12015550101","body":"Sale","origin":"campaign","provider_message_id":"SMv1","sent_at":"2026-11-01T09:00:00Z","status":"sent"}'
		echo '{"type":"status","provider_message_id":"SMv1","status":"delivered","at":"2026-11-01T09:00:05Z"}'
	} | convo-ingest -q >/dev/null
	sql "UPDATE convo.messages SET status = 'sent'"
	run convo-db -q verify
	assert_failure 1
	run jq -c '[.conversation_id, .message_id, .field, .stored,
	    .expected]' <<<"$output"
	assert_output '[null,"m_1","status","sent","delivered"]'
}

@test "block without its audit row is reported" {
	recorded_sample
	sql "UPDATE convo.conversations SET blocked = true
	    WHERE conversation_id = 1"
	run mismatches
	assert_output "c_1 blocked true false"
}

@test "account option limits the check" {
	recorded_sample
	convo-db -q account add acme
	sql "UPDATE convo.conversations SET unread_count = 99"
	run convo-db -q verify --account acme
	assert_success
	assert_output ""
	run convo-db verify --account default
	assert_failure 1
	run convo-db verify --account nobody
	assert_failure 78
	assert_output --partial 'account "nobody" not found'
}

@test "dropped opt-out flag is reported" {
	echo '{"type":"message","direction":"inbound","from":"+12015550901","to":"+12025550140","body":"Please stop texting me","provider_message_id":"SMf1","sent_at":"2026-11-01T09:00:00Z"}' |
	    convo-ingest -q >/dev/null
	run convo-db -q verify
	assert_success
	sql "UPDATE convo.conversations SET flagged_message_id = NULL"
	run mismatches
	assert_output 'c_1 flagged_message_id null "m_1"'
	# An operator's dismissal leaves the flag empty on purpose.
	convo-mark --dismiss-flag c_1 >/dev/null
	run convo-db -q verify
	assert_success
}

# Print a message record: DIRECTION, customer PHONE, brand number BRAND,
# BODY, provider id ID and TIME.
message() {
	local from=$2 to=$3

	if [ "$1" = outbound ]; then
		from=$3 to=$2
	fi
	printf '{"type":"message","direction":"%s","from":"%s","to":"%s",' \
	    "$1" "$from" "$to"
	printf '"body":"%s","provider_message_id":"%s","sent_at":"%s"' \
	    "$4" "$5" "$6"
	[ "$1" = outbound ] && printf ',"origin":"campaign"'
	printf '}\n'
}

@test "summaries kept batch by batch equal a recount" {
	local a=+12015550171 b=+12015550172
	{
		message inbound $a +12025550140 "first" SMo1 2026-11-02T10:00:00Z
		message inbound $b +12025550140 "hello" SMo2 2026-11-02T10:00:00Z
		# Later inbound to another number: the brand address moves.
		message inbound $a +12025550141 "later" SMo3 2026-11-02T12:00:00Z
		# An earlier inbound arriving late leaves the summary alone.
		message inbound $a +12025550142 "early" SMo4 2026-11-02T09:00:00Z
		message outbound $b +12025550140 "sale" SMo5 2026-11-02T11:00:00Z
	} >first
	convo-ingest -q --batch-size 2 first >/dev/null
	convo-read --no-mark-read c_1 >/dev/null
	convo-read c_2 >/dev/null
	{
		# Older than the last message but later than every inbound one.
		message inbound $b +12025550143 "between" SMo6 2026-11-02T10:30:00Z
		message inbound $a +12025550140 "again" SMo7 2026-11-02T11:00:00Z
		message outbound $a +12025550140 "reply" SMo8 2026-11-02T13:00:00Z
	} >second
	convo-ingest -q --batch-size 1 second >/dev/null
	run convo-db -q verify
	assert_success
	assert_output ''
	run sql "SELECT p.phone, c.brand_address, c.last_body, c.unread_count
	    FROM convo.conversations c JOIN convo.profiles p
	    USING (account_id, profile_id) ORDER BY p.phone"
	assert_output - <<-OUT
	$a|+12025550141|reply|4
	$b|+12025550143|sale|1
	OUT
}
