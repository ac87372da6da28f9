#!/usr/bin/env bats
# convo-read: threads by id, phone or standard input, message fields,
# paging, and when a thread is marked read.
#
# tests/fixtures/read-thread.ndjson holds Rae Moss's thread at
# +15005550131 on 2026-11-12 (UTC), oldest first:
#   SMra0001 09:00 outbound campaign, undelivered with error 30003
#   SMra0002 09:30 inbound text
#   MMra0003 09:31 inbound picture with an empty body
#   SMra0004 09:40 outbound reply, delivered
#   SMra0005 09:45 inbound STOP
# and one inbound text from +15005550132 at 10:00. Rae has 2 unread
# messages, because a keyword does not count.

load helper

bats_require_minimum_version 1.5.0

THREAD="$FIXTURES/read-thread.ndjson"
RAE=+15005550131

ingest() {
	convo-ingest -q "$@" >/dev/null
}

# Print the id of the conversation with the customer at PHONE.
conversation_of() {
	convo-list --status all --limit 0 |
	    jq -r --arg phone "$1" 'select(.profile.phone == $phone) | .id'
}

# Print the unread count of the conversation with the customer at PHONE.
unread_of() {
	convo-list --status all --limit 0 |
	    jq -r --arg phone "$1" 'select(.profile.phone == $phone)
	    | .unread_count'
}

# Print inbound messages from PHONE: 45 in June 2025 (SMjun10 to
# SMjun54), 4 in December (SMdec1 to SMdec4) and 3 in January 2026
# (SMjan1 to SMjan3).
months_thread() {
	local i

	for i in $(seq 10 54); do
		inbound "$1" "2025-06-01T10:00:${i}Z" "SMjun$i" "june $i"
	done
	for i in 1 2 3 4; do
		inbound "$1" "2025-12-0${i}T10:00:00Z" "SMdec$i" "december $i"
	done
	for i in 1 2 3; do
		inbound "$1" "2026-01-0${i}T10:00:00Z" "SMjan$i" "january $i"
	done
}

# Record three messages from PHONE, "question 3" to "question 1" with
# ids PREFIX3 to PREFIX1, sent in the last three minutes, then a START
# dated AT, a time ahead.
ahead_thread() {
	local i t

	for i in 3 2 1; do
		t=$(date -u -d "-$i minutes" +%Y-%m-%dT%H:%M:%SZ)
		inbound "$1" "$t" "$2$i" "question $i"
	done | ingest -
	{
		printf '{"type":"consent","phone":"%s",' "$1"
		printf '"status":"subscribed","at":"%s"}\n' "$3"
	} | ingest -
}

# Print the provider message ids of the records in $output.
# Run convo-read and keep only its message records.
read_messages() {
	convo-read "$@" | jq -c 'select(.type == "message")'
}

message_ids() {
	[ -z "$output" ] ||
	    jq -r 'select(.type == "message") | .provider_message_id' \
	    <<<"$output"
}

# Print the record of message PMID from the records in $output.
message() {
	jq -c --arg id "$1" 'select(.provider_message_id == $id)' <<<"$output"
}

# Print an inbound message record: inbound PHONE SENT_AT PMID BODY.
inbound() {
	printf '{"type":"message","direction":"inbound","from":"%s",' "$1"
	printf '"to":"+15005550199","body":"%s","provider_message_id":"%s",' \
	    "$4" "$3"
	printf '"sent_at":"%s"}\n' "$2"
}

# Print COUNT inbound messages from PHONE, SMlong00001 upwards, a second
# apart from 2026-11-01T00:00:01Z, each with a body of 97 bytes.
long_thread() {
	local phone=$1 count=$2 i at
	local text="Checking in about the order again, it still has not arrived"

	text="$text and I need it by Friday, thanks"
	for ((i = 1; i <= count; i++)); do
		printf -v at '2026-11-01T%02d:%02d:%02dZ' $((i / 3600)) \
		    $((i / 60 % 60)) $((i % 60))
		printf '{"type":"message","direction":"inbound","from":"%s",' \
		    "$phone"
		printf '"to":"+15005550199","body":"%05d %s",' "$i" "$text"
		printf '"provider_message_id":"SMlong%05d","sent_at":"%s"}\n' \
		    "$i" "$at"
	done
}

read_unread() {
	convo-list --unread --limit 0 | convo-read
}

@test "id argument prints thread oldest first" {
	ingest "$THREAD"
	run convo-read "$(conversation_of $RAE)"
	assert_success
	run message_ids
	assert_output - <<'EOF'
SMra0001
SMra0002
MMra0003
SMra0004
SMra0005
EOF
}

@test "messages carry their conversation id" {
	ingest "$THREAD"
	id=$(conversation_of $RAE)
	run read_messages "$id"
	assert_success
	run jq -r '"\(.type) \(.account) \(.conversation_id) \(.channel)"' \
	    <<<"$output"
	assert_output - <<EOF
message default $id sms
message default $id sms
message default $id sms
message default $id sms
message default $id sms
EOF
}

@test "messages carry direction and origin" {
	ingest "$THREAD"
	run read_messages "$(conversation_of $RAE)"
	assert_success
	run jq -c '[.direction, .origin, .origin_id, .from, .to]' <<<"$output"
	assert_output - <<'EOF'
["outbound","campaign","cmp-fall","+15005550199","+15005550131"]
["inbound",null,null,"+15005550131","+15005550199"]
["inbound",null,null,"+15005550131","+15005550199"]
["outbound","conversation",null,"+15005550199","+15005550131"]
["inbound",null,null,"+15005550131","+15005550199"]
EOF
}

@test "message carries body and time" {
	ingest "$THREAD"
	run convo-read "$(conversation_of $RAE)"
	assert_success
	run message SMra0002
	run jq -c '[.body, .sent_at, .provider, .media, .keyword]' <<<"$output"
	assert_output '["Can I return boots I bought online?","2026-11-12T09:30:00Z","twilio",[],null]'
}

@test "picture message carries its media" {
	ingest "$THREAD"
	run convo-read "$(conversation_of $RAE)"
	assert_success
	run message MMra0003
	run jq -c '[.body, .media]' <<<"$output"
	assert_output '["",[{"url":"https://media.example.com/r/boots.png","content_type":"image/png"}]]'
}

@test "failed delivery carries numeric error code" {
	ingest "$THREAD"
	run convo-read "$(conversation_of $RAE)"
	assert_success
	run message SMra0001
	record=$output
	run jq -c '[.status, .status_at, .error_code]' <<<"$record"
	assert_output '["undelivered","2026-11-12T09:00:05Z",30003]'
	run jq -r '.error_code | type' <<<"$record"
	assert_output "number"
}

@test "delivered reply has no error code" {
	ingest "$THREAD"
	run convo-read "$(conversation_of $RAE)"
	assert_success
	run message SMra0004
	run jq -c '[.status, .status_at, .error_code]' <<<"$output"
	assert_output '["delivered","2026-11-12T09:40:03Z",null]'
}

@test "STOP message carries its keyword" {
	ingest "$THREAD"
	run convo-read "$(conversation_of $RAE)"
	assert_success
	run message SMra0005
	run jq -c '[.body, .keyword]' <<<"$output"
	assert_output '["STOP",{"word":"stop","action":"opt_out"}]'
}

@test "message cursor is its id" {
	ingest "$THREAD"
	run read_messages "$(conversation_of $RAE)"
	assert_success
	run jq -r 'select(.cursor != .id or (.id | test("^m_[0-9]+$") | not))' \
	    <<<"$output"
	assert_output ""
}

@test "phone argument prints the thread" {
	ingest "$THREAD"
	id=$(conversation_of $RAE)
	run convo-read $RAE
	assert_success
	run message_ids
	assert_line --index 0 SMra0001
	assert_line --index 4 SMra0005
	assert_equal "${#lines[@]}" 5
	run convo-read --no-mark-read $RAE
	run jq -r .conversation_id <<<"$output"
	assert_line --index 0 "$id"
}

@test "national phone format defaults to US" {
	ingest "$THREAD"
	run convo-read --no-mark-read "(500) 555-0131"
	assert_success
	run message_ids
	assert_equal "${#lines[@]}" 5
	assert_line --index 0 SMra0001
	run convo-read --no-mark-read 500-555-0131
	assert_success
	run message_ids
	assert_equal "${#lines[@]}" 5
}

@test "national phone follows account country" {
	sql "SELECT convo.account_create('uk', 'GB')" >/dev/null
	inbound +447700900123 2026-11-12T09:00:00Z SMuk001 "Hello from Leeds" |
	    convo-ingest -q --account uk >/dev/null
	run convo-read --account uk "07700 900123"
	assert_success
	run message_ids
	assert_output "SMuk001"
}

@test "several arguments print each thread" {
	ingest "$THREAD"
	run convo-read "$(conversation_of +15005550132)" $RAE
	assert_success
	run message_ids
	assert_output - <<'EOF'
SMrb0001
SMra0001
SMra0002
MMra0003
SMra0004
SMra0005
EOF
}

@test "reading marks the thread read" {
	ingest "$THREAD"
	run unread_of $RAE
	assert_output 2
	convo-read $RAE >/dev/null
	run unread_of $RAE
	assert_output 0
	run unread_of +15005550132
	assert_output 1
	run convo-list --search moss
	run jq -r '.last_read_at | type' <<<"$output"
	assert_output "string"
}

@test "records from convo-list are read" {
	ingest "$THREAD"
	run read_unread
	assert_success
	run message_ids
	assert_output - <<'EOF'
SMrb0001
SMra0001
SMra0002
MMra0003
SMra0004
SMra0005
EOF
	run convo-list --unread
	assert_success
	assert_output ""
}

@test "stdin record may name a phone" {
	ingest "$THREAD"
	run convo-read --no-mark-read <<'EOF'
{"phone":"(500) 555-0132"}
{"type":"send","to":"+15005550132","body":"Yes, we do."}
{"profile":{"phone":"+1 500 555 0132"}}
EOF
	assert_success
	run message_ids
	assert_output - <<'EOF'
SMrb0001
SMrb0001
SMrb0001
EOF
}

@test "thread piped back prints once" {
	ingest "$THREAD"
	run bash -c 'convo-read -N "$1" | convo-read -N | jq -r .provider_message_id' _ $RAE
	assert_success
	assert_output "$(convo-read -N $RAE | jq -r .provider_message_id)"
}

@test "inbound message record reads its sender" {
	inbound +15005550161 2026-11-12T09:00:00Z SMkw0001 "STOP" | ingest -
	run --separate-stderr bash -c \
	    'convo-read +15005550161 | jq -c "select(.type == \"message\")" |
	    convo-read --no-mark-read'
	assert_success
	assert_equal "$stderr" ""
	run message_ids
	assert_output SMkw0001
}

@test "limit gives newest messages in order" {
	ingest "$THREAD"
	run convo-read --limit 2 $RAE
	assert_success
	run message_ids
	assert_output - <<'EOF'
SMra0004
SMra0005
EOF
}

@test "limit defaults to 50 messages" {
	long_thread +15005550141 60 | ingest -
	run convo-read +15005550141
	assert_success
	run message_ids
	assert_equal "${#lines[@]}" 50
	assert_line --index 0 SMlong00011
	assert_line --index 49 SMlong00060
}

@test "page reaches past the last two months" {
	# The newest 50 start in June, before the months around the last
	# message.
	months_thread +15005550142 | ingest -
	run convo-read --no-mark-read +15005550142
	assert_success
	run message_ids
	assert_equal "${#lines[@]}" 50
	assert_line --index 0 SMjun12
	assert_line --index 42 SMjun54
	assert_line --index 43 SMdec1
	assert_line --index 49 SMjan3
}

@test "page of the last two months keeps their consent changes" {
	# A STOP on January 1, then 60 texts and a START on January 2: the
	# page holds the START's change, not the STOP's, which is older.
	{
		inbound +15005550143 2026-01-01T09:00:00Z SMstop "STOP"
		for i in $(seq 10 69); do
			inbound +15005550143 "2026-01-02T10:$i:00Z" \
			    "SMtext$i" "text $i"
		done | sed 's/T10:6\([0-9]\):/T11:0\1:/'
		inbound +15005550143 2026-01-02T10:30:30Z SMstart "START"
	} | ingest -
	run convo-read --no-mark-read +15005550143
	assert_success
	local thread=$output
	run jq -r 'select(.type == "consent_change") | .status' <<<"$thread"
	assert_output "subscribed"
	run jq -r 'select(.type == "message") | .provider_message_id' \
	    <<<"$thread"
	assert_equal "${#lines[@]}" 50
	assert_line --index 0 SMtext21
}

@test "full page of whole thread keeps earlier changes" {
	# Two messages after a STOP and a START: a page of exactly two
	# messages is the whole thread, so both changes belong to it.
	{
		inbound +15005550144 2026-01-01T09:00:00Z SMstop2 "STOP"
		inbound +15005550144 2026-01-01T09:30:00Z SMstart2 "START"
		inbound +15005550144 2026-01-02T10:00:00Z SMfull1 "one"
		inbound +15005550144 2026-01-02T11:00:00Z SMfull2 "two"
	} | ingest -
	run convo-read --no-mark-read --limit 4 +15005550144
	assert_success
	run jq -r '[.type, .body // .status] | join(" ")' <<<"$output"
	assert_output - <<'EOF2'
message STOP
consent_change unsubscribed
message START
consent_change subscribed
message one
message two
EOF2
}

@test "limit 0 prints every message" {
	long_thread +15005550141 60 | ingest -
	run convo-read --limit 0 +15005550141
	assert_success
	run message_ids
	assert_equal "${#lines[@]}" 60
	assert_line --index 0 SMlong00001
}

@test "before cursor gives the older page" {
	ingest "$THREAD"
	run convo-read --no-mark-read --limit 2 $RAE
	assert_success
	cursor=$(head -n 1 <<<"$output" | jq -r .cursor)
	run convo-read --limit 2 --before "$cursor" $RAE
	assert_success
	run message_ids
	assert_output - <<'EOF'
SMra0002
MMra0003
EOF
	cursor=$(convo-read --limit 2 --before "$cursor" $RAE |
	    head -n 1 | jq -r .cursor)
	run convo-read --limit 2 --before "$cursor" $RAE
	assert_success
	run message_ids
	assert_output "SMra0001"
}

@test "before the first message prints nothing" {
	ingest "$THREAD"
	run convo-read --no-mark-read --limit 0 $RAE
	cursor=$(head -n 1 <<<"$output" | jq -r .cursor)
	run convo-read --before "$cursor" $RAE
	assert_success
	assert_output ""
}

@test "before an unknown message exits 65" {
	ingest "$THREAD"
	run convo-read --before m_999999 $RAE
	assert_failure 65
	assert_output --partial 'cursor "m_999999" not found'
}

@test "older page reaches past the cursor's months" {
	# The cursor's message is the only one of February.
	{
		months_thread +15005550143
		inbound +15005550143 2026-02-01T10:00:00Z SMfeb1 "february"
	} | ingest -
	cursor=$(read_messages --no-mark-read --limit 1 +15005550143 |
	    jq -r .cursor)
	run convo-read --no-mark-read --limit 2 --before "$cursor" \
	    +15005550143
	assert_success
	run message_ids
	assert_output "$(printf 'SMjan2\nSMjan3')"
	run convo-read --no-mark-read --limit 4 --before "$cursor" \
	    +15005550143
	assert_success
	run message_ids
	assert_output "$(printf 'SMdec4\nSMjan1\nSMjan2\nSMjan3')"
	run convo-read --no-mark-read --before "$cursor" +15005550143
	assert_success
	run message_ids
	assert_equal "${#lines[@]}" 50
	assert_line --index 0 SMjun12
	assert_line --index 42 SMjun54
	assert_line --index 49 SMjan3
}

@test "older page shows a consent change dated months ahead" {
	local t ahead
	ahead=$(date -u -d '+150 days' +%Y-%m-%dT%H:%M:%SZ)
	ahead_thread +15005550175 SMbh "$ahead"
	t=$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)
	inbound +15005550175 "$t" SMbh0 "question 0" | ingest -
	cursor=$(read_messages --no-mark-read --limit 1 +15005550175 |
	    jq -r .cursor)
	run convo-read --no-mark-read --limit 2 --before "$cursor" \
	    +15005550175
	assert_success
	run jq -r '[.type, .body // .status, .at // ""] | join(" ")' \
	    <<<"$output"
	assert_output - <<EOF2
message question 2 
message question 1 
consent_change subscribed $ahead
EOF2
}

@test "no-mark-read leaves unread count" {
	ingest "$THREAD"
	run convo-read --no-mark-read $RAE
	assert_success
	run unread_of $RAE
	assert_output 2
	run convo-read -N $RAE
	assert_success
	run unread_of $RAE
	assert_output 2
}

@test "before does not mark read" {
	ingest "$THREAD"
	cursor=$(read_messages --no-mark-read --limit 1 $RAE | jq -r .cursor)
	run convo-read --before "$cursor" $RAE
	assert_success
	run message_ids
	assert_equal "${#lines[@]}" 4
	run unread_of $RAE
	assert_output 2
}

@test "closed pipe leaves thread unread" {
	long_thread +15005550142 2000 | ingest -
	id=$(conversation_of +15005550142)
	run unread_of +15005550142
	assert_output 2000
	run timeout 60 bash -c \
	    'set -o pipefail; convo-read --limit 0 "$1" | head -n 1' _ "$id"
	assert_failure 74
	run jq -r .provider_message_id <<<"$output"
	assert_output SMlong00001
	run unread_of +15005550142
	assert_output 2000
}

@test "write error leaves thread unread" {
	ingest "$THREAD"
	run bash -c 'convo-read "$1" >/dev/full' _ $RAE
	assert_failure 74
	run unread_of $RAE
	assert_output 2
}

@test "unknown id warns and others print" {
	ingest "$THREAD"
	run --separate-stderr convo-read "$(conversation_of +15005550132)" \
	    c_999999 $RAE
	assert_failure 65
	assert_equal "$stderr" 'convo-read: conversation "c_999999" not found; list conversations with convo-list'
	run message_ids
	assert_line --index 0 SMrb0001
	assert_line --index 1 SMra0001
	assert_equal "${#lines[@]}" 6
}

@test "unknown phone warns and exits 65" {
	ingest "$THREAD"
	run --separate-stderr convo-read +15005550177 $RAE
	assert_failure 65
	assert_equal "$stderr" 'convo-read: conversation "+15005550177" not found; list conversations with convo-list'
	run message_ids
	assert_equal "${#lines[@]}" 5
	run unread_of $RAE
	assert_output 0
}

@test "invalid phone warns and exits 65" {
	ingest "$THREAD"
	run --separate-stderr convo-read pizza $RAE
	assert_failure 65
	assert_equal "$stderr" 'convo-read: invalid phone number or conversation id "pizza"'
	run message_ids
	assert_equal "${#lines[@]}" 5
}

@test "invalid stdin line names its number" {
	ingest "$THREAD"
	run --separate-stderr convo-read --no-mark-read <<'EOF'
{"phone":"+15005550132"}
this is not JSON
{"note":"no phone here"}

{"phone":"+15005550131"}
EOF
	assert_failure 65
	assert_equal "$stderr" 'convo-read: line 2: invalid JSON at column 5: Invalid literal
convo-read: line 3: expected a JSON record with "conversation_id" or "phone"'
	run message_ids
	assert_line --index 0 SMrb0001
	assert_line --index 1 SMra0001
	assert_equal "${#lines[@]}" 6
}

@test "unknown stdin id names its line" {
	ingest "$THREAD"
	run --separate-stderr convo-read --no-mark-read <<'EOF'
{"type":"conversation","id":"c_999999"}
{"phone":"+15005550132"}
EOF
	assert_failure 65
	assert_equal "$stderr" 'convo-read: line 1: conversation "c_999999" not found; list conversations with convo-list'
	run message_ids
	assert_output SMrb0001
}

@test "later inbound message is unread again" {
	ingest "$THREAD"
	convo-read $RAE >/dev/null
	run unread_of $RAE
	assert_output 0
	inbound $RAE 2026-11-12T10:30:00Z SMra0006 "Sorry, wrong number" |
	    ingest -
	run unread_of $RAE
	assert_output 1
	run convo-list --unread
	run jq -r .profile.phone <<<"$output"
	assert_line $RAE
}

@test "backdated message recorded later is unread" {
	ingest "$THREAD"
	convo-read $RAE >/dev/null
	inbound $RAE 2026-11-12T08:00:00Z SMra0000 "Sent from a plane" | ingest -
	run unread_of $RAE
	assert_output 1
}

@test "redelivered message stays read" {
	ingest "$THREAD"
	convo-read $RAE >/dev/null
	ingest "$THREAD"
	run unread_of $RAE
	assert_output 0
}

@test "unknown input fields come back" {
	ingest - <<'EOF'
{"type":"message","direction":"inbound","from":"+15005550151","to":"+15005550199","body":"Order 8841 is late","provider_message_id":"SMx0001","sent_at":"2026-11-12T09:00:00Z","ticket":"T-77","tags":["vip","late"],"crm":{"score":4.5,"owner":null}}
EOF
	run convo-read +15005550151
	assert_success
	record=$output
	run jq -cS '[.ticket, .tags, .crm]' <<<"$record"
	assert_output '["T-77",["vip","late"],{"owner":null,"score":4.5}]'
	run jq -c '[.body, .provider_message_id]' <<<"$record"
	assert_output '["Order 8841 is late","SMx0001"]'
}

@test "customer without conversation prints by phone" {
	ingest - <<'EOF'
{"type":"message","direction":"outbound","from":"+15005550199","to":"+15005550152","body":"Fall sale: boots 30% off. Reply STOP to opt out.","provider_message_id":"SMcmp0001","sent_at":"2026-11-12T09:00:00Z","origin":"campaign","origin_id":"cmp-fall","status":"sent"}
EOF
	run convo-read +15005550152
	assert_success
	run jq -c '[.provider_message_id, .conversation_id, .origin]' \
	    <<<"$output"
	assert_output '["SMcmp0001",null,"campaign"]'
	run convo-list --status all
	assert_output ""
}

@test "other account's thread is not found" {
	sql "SELECT convo.account_create('acme')" >/dev/null
	inbound +15005550153 2026-11-12T09:00:00Z SMacme001 "Hello Acme" |
	    convo-ingest -q --account acme >/dev/null
	id=$(convo-list --account acme | jq -r .id)
	run --separate-stderr convo-read "$id"
	assert_failure 65
	assert_equal "$stderr" "convo-read: conversation \"$id\" not found; list conversations with convo-list"
	run convo-read --account acme "$id"
	assert_success
	run jq -r '"\(.account) \(.provider_message_id)"' <<<"$output"
	assert_output "acme SMacme001"
}

@test "invalid cursor exits 64" {
	ingest "$THREAD"
	run convo-read --before c_1 $RAE
	assert_failure 64
	assert_output --partial 'invalid cursor "c_1"'
	run convo-read --before m_ $RAE
	assert_failure 64
	assert_output --partial 'invalid cursor "m_"'
	run convo-read --before m_12x $RAE
	assert_failure 64
	assert_output --partial 'invalid cursor "m_12x"'
}

@test "invalid limit exits 64" {
	run convo-read --limit -5 $RAE
	assert_failure 64
	assert_output --partial 'limit "-5" is too small'
	run convo-read --limit all $RAE
	assert_failure 64
	assert_output --partial 'limit "all" is invalid'
}

@test "unknown account exits 78" {
	run convo-read --account nosuch $RAE
	assert_failure 78
	assert_output --partial 'account "nosuch" not found'
}

@test "thread shows consent changes in place" {
	inbound +15005550171 2026-11-12T09:00:00Z SMcc1 "hello" | ingest -
	inbound +15005550171 2026-11-12T10:00:00Z SMcc2 "STOP" | ingest -
	inbound +15005550171 2026-11-12T11:00:00Z SMcc3 "START" | ingest -
	run convo-read --no-mark-read +15005550171
	assert_success
	local thread=$output
	run jq -r '[.type, .body // .status, .method // ""] | join(" ")' \
	    <<<"$thread"
	assert_output - <<'EOF2'
message hello 
message STOP 
consent_change unsubscribed keyword
message START 
consent_change subscribed keyword
EOF2
	run jq -r 'select(.type == "consent_change") | .message_id' \
	    <<<"$thread"
	assert_line --index 0 "$(sql "SELECT 'm_' || message_id
	    FROM convo.messages WHERE provider_message_id = 'SMcc2'")"
}

@test "consent change of future-dated START" {
	future=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
	inbound +15005550172 2026-11-12T09:00:00Z SMcf1 "hello" | ingest -
	inbound +15005550172 "$future" SMcf2 "START" | ingest -
	# Times have whole seconds: the STOP is sent in a later second than
	# the one in which the START was recorded.
	sleep 1
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	inbound +15005550172 "$now" SMcf3 "STOP" | ingest -
	run convo-read --no-mark-read +15005550172
	assert_success
	local thread=$output
	run jq -r '[.type, .body // .status] | join(" ")' <<<"$thread"
	assert_output - <<'EOF2'
message hello
consent_change subscribed
message STOP
consent_change unsubscribed
message START
EOF2
	run jq -r 'select(.status == "subscribed") | .at' <<<"$thread"
	assert_output "$future"
	run jq -r 'select(.status == "subscribed") | .effective_at < $now' \
	    --arg now "$now" <<<"$thread"
	assert_output "true"
	run jq -r 'select(.status == "unsubscribed") | .effective_at' \
	    <<<"$thread"
	assert_output "$now"
}

@test "consent change dated months ahead shows on a page of recent months" {
	local t ahead
	ahead=$(date -u -d '+150 days' +%Y-%m-%dT%H:%M:%SZ)
	ahead_thread +15005550174 SMah "$ahead"
	run sql "SELECT convo.rfc3339(at) FROM convo.consent_ahead"
	assert_output "$ahead"
	# Three messages of this month fill a page of two, so only the
	# months around the last one are read.
	run convo-read --no-mark-read --limit 2 +15005550174
	assert_success
	run jq -r '[.type, .body // .status, .at // ""] | join(" ")' \
	    <<<"$output"
	assert_output - <<EOF2
message question 2 
message question 1 
consent_change subscribed $ahead
EOF2
}

@test "newest page shows a later opt-out" {
	# The last message is of January 2026 and the opt-out of today, after
	# the months around it. The months hold seven messages, so a page of
	# five comes from them alone, and the change belongs after it.
	local now
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	{
		months_thread +15005550176
		printf '{"type":"consent","phone":"+15005550176",'
		printf '"status":"unsubscribed","method":"web","at":"%s"}\n' "$now"
	} | ingest -
	run convo-read --no-mark-read --limit 5 +15005550176
	assert_success
	run jq -r 'select(.type == "consent_change") | .status' <<<"$output"
	assert_output "unsubscribed"
}

@test "newest page shows an opt-out dated ahead" {
	# Recorded today and dated 150 days ahead, the change takes effect
	# today, months after the thread's last message.
	local ahead
	ahead=$(date -u -d '+150 days' +%Y-%m-%dT%H:%M:%SZ)
	{
		months_thread +15005550177
		printf '{"type":"consent","phone":"+15005550177",'
		printf '"status":"unsubscribed","method":"web","at":"%s"}\n' \
		    "$ahead"
	} | ingest -
	run convo-read --no-mark-read --limit 2 +15005550177
	assert_success
	run jq -r '[.type, .body // .status] | join(" ")' <<<"$output"
	assert_output - <<'EOF2'
message january 2
message january 3
consent_change unsubscribed
EOF2
}

@test "page keeps the change of its oldest message in 1500" {
	# The STOP is the oldest message of a page of two, and its change
	# takes effect at its sent_at, to the microsecond.
	{
		inbound +15005550178 1500-01-01T00:00:00Z SMold0 "hello"
		inbound +15005550178 1500-01-01T00:00:00.000001Z SMold1 "STOP"
		inbound +15005550178 2026-11-02T00:00:00Z SMold2 "later"
	} | ingest -
	run convo-read --no-mark-read --limit 2 +15005550178
	assert_success
	run jq -r '[.type, .body // .status] | join(" ")' <<<"$output"
	assert_output - <<'EOF2'
message STOP
consent_change unsubscribed
message later
EOF2
}

@test "whole second comes before its fraction" {
	{
		inbound +15005550141 2026-11-03T10:00:38.500Z SMfrac1 'second'
		inbound +15005550141 2026-11-03T10:00:38Z SMfrac2 'first'
		inbound +15005550141 2026-11-03T10:00:39Z SMfrac3 'third'
	} | ingest
	run read_messages --no-mark-read +15005550141
	assert_success
	run jq -r .body <<<"$output"
	assert_output "$(printf 'first\nsecond\nthird')"
}
