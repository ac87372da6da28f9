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

@test "channel left unblocked is reported" {
	local a=+12015550185 brand=+12025550140
	message inbound $a $brand "hi" SMb1 2026-11-02T10:00:00Z |
	    convo-ingest -q >/dev/null
	message inbound whatsapp:$a whatsapp:$brand "hola" SMb2 \
	    2026-11-02T10:05:00Z | convo-ingest -q >/dev/null
	convo-mark -q --block $a >/dev/null
	assert_verified
	sql "UPDATE convo.conversations SET blocked = false
	    WHERE channel = 'whatsapp'"
	run mismatches
	assert_output "c_2 blocked false true"
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
# BODY, provider id ID, TIME and, when given, PROVIDER.
message() {
	local from=$2 to=$3

	if [ "$1" = outbound ]; then
		from=$3 to=$2
	fi
	printf '{"type":"message","direction":"%s","from":"%s","to":"%s",' \
	    "$1" "$from" "$to"
	printf '"body":"%s","provider_message_id":"%s","sent_at":"%s"' \
	    "$4" "$5" "$6"
	[ -n "${7:-}" ] && printf ',"provider":"%s"' "$7"
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

# Print a consent record: PHONE, STATUS and TIME.
consent() {
	printf '{"type":"consent","phone":"%s","status":"%s","at":"%s"}\n' \
	    "$1" "$2" "$3"
}

# Print a receipt: provider id ID, STATUS, ERROR code or null, TIME and,
# when given, the recipient TO.
receipt() {
	printf '{"type":"status","provider_message_id":"%s","status":"%s",' \
	    "$1" "$2"
	printf '"error_code":%s,"at":"%s"' "$3" "$4"
	[ -n "${5:-}" ] && printf ',"to":"%s"' "$5"
	printf '}\n'
}

# Fail with the mismatches when convo-db verify reports any.
assert_verified() {
	run convo-db -q verify
	assert_success
	assert_output ''
}

# Record FILE into ACCOUNT one line per run, and fail at the first line
# after which convo-db verify reports a mismatch.
ingest_line_by_line() {
	local file=$1 account=$2 line n=0

	while IFS= read -r line; do
		n=$((n + 1))
		printf '%s\n' "$line" | convo-ingest -q --account "$account" \
		    >/dev/null
		run convo-db -q verify --account "$account"
		[ "$status" -eq 0 ] ||
		    fail "line $n of $file in $account: $output"
	done <"$file"
}

@test "late records in any order equal one run" {
	local a=+12015550181 b=+12015550182 c=+12015550183
	{
		message inbound $a +12025550140 "hi" SMr1 2026-11-02T10:00:00Z
		# An older inbound text to another number arrives later.
		message inbound $a +12025550141 "older" SMr2 2026-11-02T09:00:00Z
		# Equal times: the larger provider id is the last message.
		message inbound $a +12025550142 "tie b" SMr4 2026-11-02T11:00:00Z
		message inbound $a +12025550143 "tie a" SMr3 2026-11-02T11:00:00Z
		# A conditional opt-in that a late import judges again, in a
		# conversation that has another text.
		message inbound $b +12025550140 "hello" SMr12 2026-11-02T07:30:00Z
		consent $b subscribed 2026-11-02T08:00:00Z
		message inbound $b +12025550140 "YES" SMr5 2026-11-02T10:00:00Z
		consent $b unsubscribed 2026-11-02T09:00:00Z
		message inbound $b +12025550140 "ok thanks" SMr6 2026-11-02T10:30:00Z
		message inbound $b +12025550140 "STOP" SMr7 2026-11-02T12:00:00Z
		# A campaign text before the first inbound, and its receipts
		# before and after it.
		receipt SMr8 delivered null 2026-11-02T07:00:05Z
		message outbound $c +12025550140 "Sale" SMr8 2026-11-02T07:00:00Z
		receipt SMr8 sent null 2026-11-02T07:00:01Z
		message inbound $c +12025550141 "please stop texting me" SMr9 \
		    2026-11-02T08:00:00Z
		receipt SMr10 undelivered 21610 2026-11-02T09:00:00Z $c
		message outbound $c +12025550140 "Sale 2" SMr10 \
		    2026-11-02T08:59:00Z
		message inbound $c +12025550140 "YES" SMr11 2026-11-02T09:30:00Z
		# Redelivered lines.
		message inbound $a +12025550140 "hi" SMr1 2026-11-02T10:00:00Z
		receipt SMr8 delivered null 2026-11-02T07:00:05Z
	} >records.ndjson
	convo-ingest -q records.ndjson >/dev/null
	assert_verified
	state >one-run.json

	convo-db -q account add lines >/dev/null
	ingest_line_by_line records.ndjson lines
	convo-db -q account add reversed >/dev/null
	tac records.ndjson >reversed.ndjson
	ingest_line_by_line reversed.ndjson reversed
	convo-db -q account add split >/dev/null
	shuf --random-source=<(yes 1) records.ndjson >shuffled.ndjson
	split -n l/3 shuffled.ndjson part.
	for part in part.ac part.aa part.ab; do
		convo-ingest -q --account split --batch-size 2 "$part" \
		    >/dev/null
		run convo-db -q verify --account split
		assert_success
	done
	for account in lines reversed split; do
		state $account >"$account.json"
		run jq -n --slurpfile a one-run.json \
		    --slurpfile b "$account.json" '$a == $b'
		assert_output "true"
	done
}

@test "summaries verify between operator actions" {
	local a=+12015550184 brand=+12025550140
	message inbound $a $brand "hi" SMp1 2026-11-02T10:00:00Z |
	    convo-ingest -q >/dev/null
	convo-read c_1 >/dev/null
	convo-mark -q --block c_1
	message inbound $a $brand "while blocked" SMp2 2026-11-02T11:00:00Z |
	    convo-ingest -q >/dev/null
	assert_verified
	convo-mark -q --unblock --unread c_1
	message inbound $a $brand "older" SMp3 2026-11-02T09:00:00Z |
	    convo-ingest -q >/dev/null
	assert_verified
	convo-mark -q --close c_1
	{
		consent $a subscribed 2026-11-02T08:00:00Z
		message inbound $a +12025550141 "YES" SMp4 2026-11-02T12:00:00Z
	} | convo-ingest -q >/dev/null
	assert_verified
	run sql "SELECT status, unread_count, brand_address
	    FROM convo.conversations"
	assert_output "open|3|+12025550141"
	convo-read c_1 >/dev/null
	# A late import makes the YES an opt-in keyword again.
	consent $a unsubscribed 2026-11-02T11:30:00Z | convo-ingest -q >/dev/null
	assert_verified
	CONVO_NOW=2026-11-02T08:30:00Z convo-mark -q --confirm-opt-out c_1
	assert_verified
	message inbound $a $brand "please stop texting me" SMp5 \
	    2026-11-02T07:00:00Z | convo-ingest -q >/dev/null
	assert_verified
}

@test "equal time and id from two providers verify in either order" {
	local a=+12015550185
	message inbound $a +12025550140 "hi" SMq0 2026-11-02T09:00:00Z \
	    >first.ndjson
	message inbound $a +12025550141 "see you then" SMq1 \
	    2026-11-02T10:00:00Z >twilio.ndjson
	message inbound $a +12025550142 "on my way" SMq1 \
	    2026-11-02T10:00:00Z other >other.ndjson
	convo-ingest -q first.ndjson >/dev/null
	cat twilio.ndjson other.ndjson | convo-ingest -q >/dev/null
	assert_verified
	convo-db -q account add reversed >/dev/null
	for file in other.ndjson first.ndjson twilio.ndjson; do
		convo-ingest -q --account reversed "$file" >/dev/null
		run convo-db -q verify --account reversed
		assert_success
		assert_output ''
	done
}
