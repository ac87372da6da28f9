#!/usr/bin/env bats
# convo-ingest: recording records and webhook bodies, and the rules that
# decide consent, keywords, statuses and conversations.

load helper

# Print an inbound message record from PHONE with BODY at TIME.
inbound() {
	printf '{"type":"message","direction":"inbound","from":"%s",' "$1"
	printf '"to":"+12025550140","body":%s,' "$(jq -Rn --arg b "$2" '$b')"
	printf '"provider_message_id":"%s","sent_at":"%s"}\n' "$4" "$3"
}

# Print a campaign message record to PHONE at TIME.
campaign() {
	printf '{"type":"message","direction":"outbound","from":"+12025550140",'
	printf '"to":"%s","body":"Sale today","origin":"campaign",' "$1"
	printf '"provider_message_id":"%s","sent_at":"%s"}\n' "$3" "$2"
}

status_record() {
	printf '{"type":"status","provider_message_id":"%s","status":"%s",' \
	    "$1" "$2"
	printf '"error_code":%s,"at":"%s"}\n' "$3" "$4"
}

consent_of() {
	sql "SELECT coalesce(s.status, 'never_subscribed')
	    FROM convo.profiles p LEFT JOIN convo.consent s
	    USING (account_id, profile_id) WHERE p.phone = '$1'"
}

unread_of() {
	sql "SELECT c.unread_count FROM convo.conversations c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '$1'"
}

# Compare the state with an expected-results file, one key at a time.
assert_state_matches() {
	local expected=$1 actual=$2 key
	for key in conversations consent status; do
		run jq -n --slurpfile a "$actual" --slurpfile e "$expected" \
		    --arg k "$key" '[$e[0][$k] // {} | to_entries[]
		    | select(.value != ($a[0][$k][.key] // null)) | .key]
		    | length'
		assert_output "0"
	done
}

@test "sample records land with keyword replies" {
	run convo-ingest -q "$SAMPLE"
	assert_success
	[ "$(jq -s 'map(select(.type == "ingest_result")) | length' \
	    <<<"$output")" = 28 ]
	[ "$(jq -s 'map(select(.type == "send")) | map(.keyword)
	    | join(",")' <<<"$output")" = '"stop,help"' ]
	assert_output --partial '"result":"inserted"'
	run sql "SELECT count(*) FROM convo.conversations"
	assert_output "4"
}

@test "ingesting twice changes nothing" {
	convo-ingest -q "$SAMPLE" >/dev/null
	state >before.json
	run convo-ingest -q "$SAMPLE"
	assert_success
	[ "$(jq -r .result <<<"$output" | sort -u)" = duplicate ]
	state >after.json
	cmp before.json after.json
}

@test "corpus events give expected state" {
	need_corpus
	local dir=$CONVO_CORPUS/sms-conversations
	run convo-ingest -q "$dir/events.ndjson"
	assert_success
	state >actual.json
	run jq -c '.counts | del(.records, .duplicate_messages)' \
	    "$dir/expected.json"
	local want=$output
	run jq -c --argjson w "$want" '.counts | with_entries(
	    select(.key | in($w)))' actual.json
	[ "$(jq -S . <<<"$output")" = "$(jq -S . <<<"$want")" ]
	assert_state_matches "$dir/expected.json" actual.json
}

@test "corpus events twice change nothing" {
	need_corpus
	local dir=$CONVO_CORPUS/sms-conversations
	convo-ingest -q "$dir/events.ndjson" >/dev/null
	state >first.json
	run convo-ingest -q "$dir/events.ndjson"
	assert_success
	[ "$(jq -r .result <<<"$output" | sort -u)" = duplicate ]
	state >second.json
	cmp first.json second.json
}

@test "corpus events shuffled give same state" {
	need_corpus
	local dir=$CONVO_CORPUS/sms-conversations
	shuf --random-source=<(yes 7) "$dir/events.ndjson" >shuffled.ndjson
	run convo-ingest -q --batch-size 500 shuffled.ndjson
	assert_success
	state >actual.json
	assert_state_matches "$dir/expected.json" actual.json
	run jq .counts.unread_total actual.json
	assert_output "$(jq .counts.unread_total "$dir/expected.json")"
}

@test "corpus webhooks give expected state" {
	need_corpus
	local dir=$CONVO_CORPUS/sms-conversations
	run convo-ingest -q "$dir/twilio-webhooks.form"
	assert_success
	state >actual.json
	run jq -c '.counts | {inbound, keyword_messages, conversations,
	    unread_total, profiles}' actual.json
	assert_output "$(jq -c '.counts | {inbound, keyword_messages,
	    conversations, unread_total, profiles}' \
	    "$dir/expected-webhooks.json")"
	run jq -n --slurpfile a actual.json \
	    --slurpfile e "$dir/expected-webhooks.json" '[$e[0].conversations
	    | to_entries[] | select(.value != {
	        unread_count: $a[0].conversations[.key].unread_count,
	        last_body: $a[0].conversations[.key].last_message.body})]
	    | length'
	assert_output "0"
	run jq -n --slurpfile a actual.json \
	    --slurpfile e "$dir/expected-webhooks.json" '[$e[0].consent
	    | to_entries[] | select(.value != $a[0].consent[.key])] | length'
	assert_output "0"
}

@test "corpus webhooks twice change nothing" {
	need_corpus
	local dir=$CONVO_CORPUS/sms-conversations
	convo-ingest -q --format twilio "$dir/twilio-webhooks.form" >/dev/null
	state >first.json
	run convo-ingest -q --format twilio "$dir/twilio-webhooks.form"
	assert_success
	[ "$(jq -r .result <<<"$output" | sort -u)" = duplicate ]
	state >second.json
	cmp first.json second.json
}

@test "bad lines are rejected, good ones land" {
	{
		inbound +12015550101 "first good" 2026-11-01T10:00:00Z SMa1
		echo '{"type":"message",'
		printf '{"type":"message","body":"caf\xe9"}\n'
		printf '{"type":"profile","phone":"+12015550102"}\0\n'
		echo '{"type":"message","direction":"inbound"}'
		echo '{"type":"invoice","phone":"+12015550103"}'
		echo '{"type":"profile","phone":"555-12"}'
		printf '{"type":"profile","phone":"+12015550104","x":"%s"}\n' \
		    "$(head -c 300000 /dev/zero | tr '\0' a)"
		inbound +12015550105 "last good" 2026-11-01T10:05:00Z SMa2
	} >input.ndjson
	run convo-ingest --rejects rejects.ndjson input.ndjson
	assert_failure 65
	assert_line --partial 'line 2: invalid JSON'
	assert_line --partial 'line 3: invalid UTF-8 at column 30'
	assert_line --partial 'line 4: NUL byte at column'
	assert_line --partial 'line 5: missing field "from"'
	assert_line --partial 'line 6: unknown record type "invoice"'
	assert_line --partial 'line 7: invalid phone number "555-12"'
	assert_line --partial 'line 8: line of 300048 bytes is longer than'
	run jq -s -c 'map(.input_line)' rejects.ndjson
	assert_output "[2,3,4,5,6,7,8]"
	run jq -r 'select(.input_line == 3) | .input' rejects.ndjson
	assert_output '{"type":"message","body":"caf�"}'
	run jq -r 'select(.input_line == 3) | .input_base64 | @base64d' \
	    rejects.ndjson
	assert_output --partial 'caf'
	run sql "SELECT string_agg(body, ',' ORDER BY sent_at)
	    FROM convo.messages"
	assert_output "first good,last good"
}

# libjq 1.6 leaks the second value here; tests/lsan.supp covers it.
@test "values without separator are invalid JSON" {
	sanitizer_full_stacks
	echo '{"type":"profile" "phone":"+12015550106"}' >input.ndjson
	run --separate-stderr convo-ingest -q input.ndjson
	assert_failure 65
	assert_equal "$stderr" "convo-ingest: input.ndjson: line 1: invalid \
JSON at column 25: Expected separator between values"
	run sql "SELECT count(*) FROM convo.profiles"
	assert_output 0
}

@test "invalid JSON names its input line" {
	{
		echo '{"type":"profile","phone":"+12015550107"}'
		echo '{"type":"profile","phone":"+12015550108"}'
		echo '{"a" 1}'
		echo '{"type":"profile",'
		echo '[1] [2]'
	} >input.ndjson
	run --separate-stderr convo-ingest -q input.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" "convo-ingest: input.ndjson: line 3: \
invalid JSON at column 7: Expected separator between values"
	assert_equal "${stderr_lines[1]}" "convo-ingest: input.ndjson: line 4: \
invalid JSON at column 18: Unfinished JSON term at EOF"
	assert_equal "${stderr_lines[2]}" "convo-ingest: input.ndjson: line 5: \
invalid JSON: Unexpected extra JSON values"
	run jq -c 'select(.result == "rejected") | [.input_line, .error]' \
	    <<<"$output"
	assert_line --index 0 \
	    '[3,"invalid JSON at column 7: Expected separator between values"]'
	assert_line --index 1 \
	    '[4,"invalid JSON at column 18: Unfinished JSON term at EOF"]'
	assert_line --index 2 '[5,"invalid JSON: Unexpected extra JSON values"]'
}

@test "invalid JSON error leaves out the line" {
	printf '{"type":"profile","phone":"%s"\n' \
	    "$(head -c 200000 /dev/zero | tr '\0' 1)" >input.ndjson
	run --separate-stderr convo-ingest -q --rejects rejects.ndjson \
	    input.ndjson
	assert_failure 65
	assert_equal "$stderr" "convo-ingest: input.ndjson: line 1: invalid \
JSON at column 200028: Unfinished JSON term at EOF"
	run jq -r '.error' <<<"$output"
	assert_output "invalid JSON at column 200028: Unfinished JSON term at EOF"
	run jq -r '.error' rejects.ndjson
	assert_output "invalid JSON at column 200028: Unfinished JSON term at EOF"
	run jq -r '.input | length' rejects.ndjson
	assert_output 200028
}

@test "rejects file that is an input fails" {
	echo '{"type":"invoice"}' >input.ndjson
	run convo-ingest -q --rejects input.ndjson input.ndjson
	assert_failure 64
	assert_output --partial 'rejects file "input.ndjson" is also input file "input.ndjson"'
	run convo-ingest -q --rejects ./input.ndjson - <input.ndjson
	assert_failure 64
	assert_output --partial 'rejects file "./input.ndjson" is also input file "-"'
	run convo-ingest -q --rejects input.ndjson <input.ndjson
	assert_failure 64
	run wc -l <input.ndjson
	assert_output 1
	run convo-ingest -q --rejects /dev/null </dev/null
	assert_success
}

@test "times beyond year 9999 in UTC are rejected" {
	{
		inbound +12015550107 "late" 9999-12-31T23:59:59-01:00 SMy1
		inbound +12015550108 "early" 0001-01-01T00:00:00+01:00 SMy2
		inbound +12015550109 "last" 9999-12-31T23:59:59+01:00 SMy3
	} >input.ndjson
	run --separate-stderr convo-ingest -q input.ndjson
	assert_failure 65
	assert_equal "$stderr" "convo-ingest: input.ndjson: line 1: invalid \
time \"9999-12-31T23:59:59-01:00\" in field \"sent_at\": it is outside \
the years 0001 to 9999 in UTC
convo-ingest: input.ndjson: line 2: invalid time \
\"0001-01-01T00:00:00+01:00\" in field \"sent_at\": it is outside the \
years 0001 to 9999 in UTC"
	run convo-list -n 1
	assert_success
	run jq -r '.last_message.at' <<<"$output"
	assert_output "9999-12-31T22:59:59Z"
	run convo-list --before "$(convo-list -n 1 | jq -r .cursor)"
	assert_success
	assert_output ""
}

@test "word field error states its length" {
	printf '{"type":"consent","phone":"+12015550110","status":"subscribed","at":"2026-11-01T10:00:00Z","method":"%s"}\n' \
	    "$(printf 'a%.0s' $(seq 33))" >input.ndjson
	run --separate-stderr convo-ingest -q input.ndjson
	assert_failure 65
	[[ $stderr == *"in field \"method\": expected 1 to 32 lower-case letters, digits, '_' or '-'" ]] ||
	    fail "no length in: $stderr"
}

@test "rejected lines are reported in the output" {
	printf '{"type":"profile"}\n' >input.ndjson
	run convo-ingest input.ndjson
	assert_failure 65
	run jq -c 'select(.type == "ingest_result") | [.input_line, .result,
	    .error]' <<<"$(convo-ingest -q input.ndjson 2>/dev/null)"
	assert_output '[1,"rejected","missing field \"phone\""]'
}

@test "keyword texts follow the normal form" {
	local i=0 body
	while IFS= read -r body; do
		i=$((i + 1))
		inbound "+1201555020$i" "$body" "2026-11-02T10:0$i:00Z" "SMk$i"
	done >input.ndjson <<'EOF'
stop.
 Stop 
opt-out
ＳＴＯＰ
Stop. Thank you
cancel my order
Yes please
EOF
	run convo-ingest -q input.ndjson
	assert_success
	run jq -r 'select(.type == "ingest_result")
	    | "\(.input_line) \(.keyword.word // "-")"' <<<"$output"
	assert_output "$(printf '%s\n' '1 stop' '2 stop' '3 opt out' \
	    '4 stop' '5 -' '6 -' '7 -')"
	run sql "SELECT count(*) FROM convo.conversations"
	assert_output "3"
}

@test "consent follows message time" {
	{
		inbound +12015550301 START 2026-11-03T11:00:00Z SMs2
		inbound +12015550301 STOP 2026-11-03T10:00:00Z SMs1
	} >input.ndjson
	convo-ingest -q input.ndjson >/dev/null
	run consent_of +12015550301
	assert_output "subscribed"
	run sql "SELECT count(*) FROM convo.consent_changes"
	assert_output "2"
}

@test "same instant opt-out wins" {
	{
		echo '{"type":"consent","phone":"+12015550302","status":"subscribed","at":"2026-11-03T10:00:00Z"}'
		echo '{"type":"consent","phone":"+12015550302","status":"unsubscribed","at":"2026-11-03T10:00:00Z"}'
	} >input.ndjson
	convo-ingest -q input.ndjson >/dev/null
	run consent_of +12015550302
	assert_output "unsubscribed"
}

@test "STOP after future-dated START wins" {
	future=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
	inbound +12015550305 START "$future" SMf1 >start.ndjson
	convo-ingest -q start.ndjson >/dev/null
	# Times have whole seconds: the STOP is sent in a later second than
	# the one in which the START was recorded.
	sleep 1
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	inbound +12015550305 STOP "$now" SMf2 >stop.ndjson
	convo-ingest -q stop.ndjson >/dev/null
	run consent_of +12015550305
	assert_output "unsubscribed"
	run sql "SELECT convo.rfc3339(changed_at) FROM convo.consent"
	assert_output "$now"
	# The START keeps its stated time on its message and its change.
	run sql "SELECT convo.rfc3339(sent_at) FROM convo.messages
	    WHERE provider_message_id = 'SMf1'"
	assert_output "$future"
	run sql "SELECT convo.rfc3339(at) FROM convo.consent_changes
	    WHERE status = 'subscribed'"
	assert_output "$future"
	run sql "SELECT least(at, recorded_at) < '$now' FROM convo.consent_changes
	    WHERE status = 'subscribed'"
	assert_output "t"
	run convo-db -q verify
	assert_success
	assert_output ""
}

@test "late STOP keeps its own earlier time" {
	future=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
	inbound +12015550306 START "$future" SMf3 >start.ndjson
	convo-ingest -q start.ndjson >/dev/null
	inbound +12015550306 STOP 2026-11-03T10:00:00Z SMf4 >stop.ndjson
	convo-ingest -q stop.ndjson >/dev/null
	run consent_of +12015550306
	assert_output "subscribed"
	run sql "SELECT convo.rfc3339(least(at, recorded_at))
	    FROM convo.consent_changes WHERE status = 'unsubscribed'"
	assert_output "2026-11-03T10:00:00Z"
	run convo-db -q verify
	assert_success
}

@test "yes opts in only when not subscribed" {
	inbound +12015550303 YES 2026-11-03T10:00:00Z SMy1 >input.ndjson
	inbound +12015550303 yes! 2026-11-03T11:00:00Z SMy2 >>input.ndjson
	run convo-ingest -q input.ndjson
	run jq -r 'select(.type == "ingest_result") | .keyword.action // "-"' \
	    <<<"$output"
	assert_output "$(printf 'opt_in\n-')"
	run consent_of +12015550303
	assert_output "subscribed"
	run unread_of +12015550303
	assert_output "1"
}

@test "late consent import judges yes again" {
	inbound +12015550304 YES 2026-11-03T10:00:00Z SMy3 >input.ndjson
	convo-ingest -q input.ndjson >/dev/null
	run sql "SELECT count(*) FROM convo.conversations"
	assert_output "0"
	echo '{"type":"consent","phone":"+12015550304","status":"subscribed","at":"2026-11-01T00:00:00Z"}' \
	    >late.ndjson
	convo-ingest -q late.ndjson >/dev/null
	run sql "SELECT keyword_action IS NULL FROM convo.messages"
	assert_output "t"
	run unread_of +12015550304
	assert_output "1"
}

@test "known phones use up profile ids" {
	inbound +12015550311 hi 2026-11-03T10:00:00Z SMq1 >first.ndjson
	convo-ingest -q first.ndjson >/dev/null
	{
		inbound +12015550311 again 2026-11-03T11:00:00Z SMq2
		inbound +12015550312 hello 2026-11-03T11:00:00Z SMq3
	} >second.ndjson
	convo-ingest -q second.ndjson >/dev/null
	# The second batch takes one id for each of its phones, in phone
	# order, whether the phone is new or not.
	run sql "SELECT phone, profile_id - min(profile_id) OVER ()
	    FROM convo.profiles ORDER BY phone"
	assert_output "$(printf '+12015550311|0\n+12015550312|2')"
}

@test "status only moves forward" {
	{
		campaign +12015550401 2026-11-04T10:00:00Z SMst1
		status_record SMst1 delivered null 2026-11-04T10:00:05Z
		status_record SMst1 sent null 2026-11-04T10:00:02Z
	} >input.ndjson
	convo-ingest -q input.ndjson >/dev/null
	run sql "SELECT status FROM convo.messages"
	assert_output "delivered"
}

@test "earliest final status wins, worse on ties" {
	{
		campaign +12015550402 2026-11-04T10:00:00Z SMst2
		status_record SMst2 delivered null 2026-11-04T10:00:09Z
		status_record SMst2 undelivered 30003 2026-11-04T10:00:05Z
		campaign +12015550403 2026-11-04T10:00:00Z SMst3
		status_record SMst3 delivered null 2026-11-04T10:00:05Z
		status_record SMst3 failed 30008 2026-11-04T10:00:05Z
	} >input.ndjson
	convo-ingest -q input.ndjson >/dev/null
	run sql "SELECT provider_message_id, status, error_code
	    FROM convo.messages ORDER BY 1"
	assert_output "$(printf 'SMst2|undelivered|30003\nSMst3|failed|30008')"
}

@test "receipt before its message waits" {
	status_record SMst4 delivered null 2026-11-04T10:00:05Z >receipt.ndjson
	run convo-ingest -q receipt.ndjson
	assert_output --partial '"result":"pending"'
	campaign +12015550404 2026-11-04T10:00:00Z SMst4 >message.ndjson
	convo-ingest -q message.ndjson >/dev/null
	run sql "SELECT status FROM convo.messages"
	assert_output "delivered"
}

@test "malformed outbox_id is rejected" {
	{
		echo '{"type":"status","provider_message_id":"SMst9","status":"sent","at":"2026-11-04T10:00:05Z","outbox_id":"o_12"}'
		echo '{"type":"status","provider_message_id":"SMst9","status":"delivered","at":"2026-11-04T10:00:06Z","outbox_id":"12"}'
		echo '{"type":"status","provider_message_id":"SMst9","status":"read","at":"2026-11-04T10:00:07Z","outbox_id":12}'
		echo '{"type":"status","provider_message_id":"SMst9","status":"read","at":"2026-11-04T10:00:07Z","outbox_id":"o_012"}'
		echo '{"type":"status","provider_message_id":"SMst9","status":"read","at":"2026-11-04T10:00:07Z","outbox_id":"o_1234567890123456789"}'
	} >input.ndjson
	run --separate-stderr convo-ingest -q input.ndjson
	assert_failure 65
	[[ $stderr == *'line 2: invalid outbox_id "12": expected "o_" and a row number such as o_123'* ]] ||
	    fail "no error for line 2: $stderr"
	[[ $stderr == *'line 3: field "outbox_id" must be a string such as o_123'* ]] ||
	    fail "no error for line 3: $stderr"
	[[ $stderr == *'line 4: invalid outbox_id "o_012"'* ]] ||
	    fail "no error for line 4: $stderr"
	[[ $stderr == *'line 5: invalid outbox_id "o_1234567890123456789"'* ]] ||
	    fail "no error for line 5: $stderr"
	run jq -r 'select(.input_line == 1) | [.result, .note] | join(" ")' \
	    <<<"$output"
	assert_output "pending outbox row o_12 not found in this account; receipt not linked to it"
}

@test "invalid error_code is rejected with value" {
	local code
	for code in true '{"code":21610}' '[21610]' -1 1.5 1e300 \
	    '"12345678901234567"'; do
		status_record SMst8 failed "$code" 2026-11-04T10:00:05Z
	done >input.ndjson
	status_record SMst8 failed 30003 2026-11-04T10:00:05Z >>input.ndjson
	run --separate-stderr convo-ingest -q input.ndjson
	assert_failure 65
	[[ $stderr == *'line 1: invalid error_code true: expected'* ]] ||
	    fail "no error for line 1: $stderr"
	[[ $stderr == *'line 2: invalid error_code {"code":21610}: expected'* ]] ||
	    fail "no error for line 2: $stderr"
	[[ $stderr == *'line 3: invalid error_code [21610]: expected'* ]] ||
	    fail "no error for line 3: $stderr"
	[[ $stderr == *'line 4: invalid error_code -1: expected'* ]] ||
	    fail "no error for line 4: $stderr"
	[[ $stderr == *'line 5: invalid error_code 1.5: expected'* ]] ||
	    fail "no error for line 5: $stderr"
	[[ $stderr == *'line 6: invalid error_code 1e+300: expected'* ]] ||
	    fail "no error for line 6: $stderr"
	[[ $stderr == *'line 7: invalid error_code "12345678901234567": expected'* ]] ||
	    fail "no error for line 7: $stderr"
	run jq -r '.result' <<<"$output"
	assert_line --index 7 "pending"
	run sql "SELECT string_agg(coalesce(error_code, 'null'), ',')
	    FROM convo.status_events"
	assert_output "30003"
}

@test "quoted long id is cut between characters" {
	local id
	id="$(printf 'P%.0s' $(seq 59))$(printf 'é%.0s' $(seq 40))"
	inbound +12015550406 "hello" 2026-11-04T10:00:05Z "$id" >input.ndjson
	run --separate-stderr convo-ingest -q input.ndjson
	assert_failure 65
	assert_equal "$stderr" "convo-ingest: input.ndjson: line 1: \
provider_message_id \"$(printf 'P%.0s' $(seq 59))...\" is longer than \
128 bytes"
}

@test "error 21610 unsubscribes the recipient" {
	echo '{"type":"consent","phone":"+12015550405","status":"subscribed","at":"2026-11-01T00:00:00Z"}' \
	    >input.ndjson
	echo '{"type":"status","provider_message_id":"SMst5","status":"failed","error_code":21610,"to":"+12015550405","at":"2026-11-04T10:00:05Z"}' \
	    >>input.ndjson
	convo-ingest -q input.ndjson >/dev/null
	run consent_of +12015550405
	assert_output "unsubscribed"
	run sql "SELECT method, error_code FROM convo.consent_changes
	    WHERE status = 'unsubscribed'"
	assert_output "provider_error|21610"
}

@test "receipt given twice keeps its earliest time in any order" {
	{
		campaign +12015550406 2026-11-04T10:00:00Z SMst6
		campaign +12015550407 2026-11-04T10:00:00Z SMst7
		campaign +12015550410 2026-11-04T10:00:00Z SMst10
		status_record SMst6 delivered null 2026-11-04T10:00:05Z
		status_record SMst7 delivered null 2026-11-04T10:09:00Z
		status_record SMst10 delivered null 2026-11-04T10:09:00Z
		# Copies that a batch reads with times of their own.
		status_record SMst6 delivered null 2026-11-04T10:07:00Z
		status_record SMst10 delivered null 2026-11-04T10:00:05Z
	} | convo-ingest -q >/dev/null
	status_record SMst7 delivered null 2026-11-04T10:00:05Z |
	    convo-ingest -q >/dev/null
	run sql "SELECT provider_message_id, status_at FROM convo.messages
	    ORDER BY 1"
	assert_output - <<'END'
SMst10|2026-11-04 10:00:05+00
SMst6|2026-11-04 10:00:05+00
SMst7|2026-11-04 10:00:05+00
END
	run sql "SELECT provider_message_id, at FROM convo.status_events
	    ORDER BY 1"
	assert_output - <<'END'
SMst10|2026-11-04 10:00:05+00
SMst6|2026-11-04 10:00:05+00
SMst7|2026-11-04 10:00:05+00
END
}

@test "error 21610 receipt given twice unsubscribes at its earliest time" {
	local p
	# Each customer resubscribed after the first copy of the receipt;
	# the copies reach the first in time order, the second in reverse.
	for p in 08 09; do
		printf '{"type":"consent","phone":"+120155504%s","status":"subscribed","at":"2026-11-01T12:00:00Z"}\n' \
		    "$p"
	done | convo-ingest -q >/dev/null
	receipt_21610() {
		printf '{"type":"status","provider_message_id":"SMst%s","status":"failed","error_code":21610,"to":"+120155504%s","at":"%s"}\n' \
		    "$1" "$1" "$2"
	}
	receipt_21610 08 2026-11-01T10:00:00Z | convo-ingest -q >/dev/null
	receipt_21610 08 2026-11-02T10:00:00Z | convo-ingest -q >/dev/null
	receipt_21610 09 2026-11-02T10:00:00Z | convo-ingest -q >/dev/null
	receipt_21610 09 2026-11-01T10:00:00Z | convo-ingest -q >/dev/null
	run consent_of +12015550408
	assert_output "subscribed"
	run consent_of +12015550409
	assert_output "subscribed"
	run sql "SELECT p.phone, c.status, c.at FROM convo.consent_changes c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    ORDER BY 1, 3"
	assert_output - <<'END'
+12015550408|unsubscribed|2026-11-01 10:00:00+00
+12015550408|subscribed|2026-11-01 12:00:00+00
+12015550409|unsubscribed|2026-11-01 10:00:00+00
+12015550409|subscribed|2026-11-01 12:00:00+00
END
	run convo-db -q verify
	assert_success
}

@test "summary is the latest message by time" {
	{
		inbound +12015550501 "newest" 2026-11-05T12:00:00Z SMo3
		inbound +12015550501 "oldest" 2026-11-05T10:00:00Z SMo1
		campaign +12015550501 2026-11-05T11:00:00Z SMo2
	} >input.ndjson
	convo-ingest -q --batch-size 1 input.ndjson >/dev/null
	run sql "SELECT last_body, last_direction FROM convo.conversations"
	assert_output "newest|inbound"
	run unread_of +12015550501
	assert_output "2"
}

@test "late old message counts as unread" {
	inbound +12015550502 "hello" 2026-11-05T12:00:00Z SMo4 >a.ndjson
	convo-ingest -q a.ndjson >/dev/null
	convo-read +12015550502 >/dev/null
	run unread_of +12015550502
	assert_output "0"
	inbound +12015550502 "sent earlier" 2026-11-05T09:00:00Z SMo5 >b.ndjson
	convo-ingest -q b.ndjson >/dev/null
	run unread_of +12015550502
	assert_output "1"
	run sql "SELECT last_body FROM convo.conversations"
	assert_output "hello"
}

@test "same provider id with other content conflicts" {
	inbound +12015550601 "original" 2026-11-06T10:00:00Z SMc1 >input.ndjson
	inbound +12015550601 "original" 2026-11-06T10:00:00Z SMc1 >>input.ndjson
	inbound +12015550601 "changed" 2026-11-06T10:00:00Z SMc1 >>input.ndjson
	run convo-ingest -q input.ndjson
	assert_success
	run jq -r 'select(.type == "ingest_result") | .result' <<<"$output"
	assert_output "$(printf 'inserted\nduplicate\nconflict')"
	run sql "SELECT body FROM convo.messages"
	assert_output "original"
}

@test "blank lines are skipped" {
	printf ' \t\n{"type":"message","direction":"inbound","from":"+12015550603","to":"+12025550140","body":"hi","provider_message_id":"SMb1","sent_at":"2026-11-06T10:00:00Z"}\r\n\r\n  \n' \
	    >input.ndjson
	run --separate-stderr convo-ingest -q input.ndjson
	assert_success
	assert_equal "$stderr" ""
	run jq -r '[.input_line, .result] | join(" ")' <<<"$output"
	assert_output "2 inserted"
}

@test "whatsapp addresses get their own channel" {
	echo '{"type":"message","direction":"inbound","from":"whatsapp:+12015550602","to":"whatsapp:+12025550140","body":"hola","provider_message_id":"SMw1","sent_at":"2026-11-06T10:00:00Z"}' \
	    >input.ndjson
	convo-ingest -q input.ndjson >/dev/null
	run sql "SELECT c.channel, p.phone FROM convo.conversations c
	    JOIN convo.profiles p USING (account_id, profile_id)"
	assert_output "whatsapp|+12015550602"
}

@test "twilio webhook bodies are detected" {
	{
		echo 'ToCountry=US&SmsMessageSid=MMf1&NumMedia=2&To=%2B12025550140&From=%2B12015550603&MessageSid=MMf1&SmsStatus=received&MediaUrl0=https%3A%2F%2Fmedia.example.com%2Fa.jpg&MediaContentType0=image%2Fjpeg&MediaUrl1=https%3A%2F%2Fmedia.example.com%2Fb.png&MediaContentType1=image%2Fpng'
		echo 'MessageSid=SMf2&MessageStatus=delivered&To=%2B12015550603&From=%2B12025550140'
	} >input.form
	run convo-ingest -q input.form
	assert_success
	run jq -r 'select(.type == "ingest_result") | "\(.kind) \(.result)"' \
	    <<<"$output"
	assert_output "$(printf 'message inserted\nstatus pending')"
	run sql "SELECT body = '', media->1->>'content_type'
	    FROM convo.messages"
	assert_output "t|image/png"
}

@test "newer profile record wins" {
	{
		echo '{"type":"profile","phone":"+12015550701","first_name":"New","updated_at":"2026-11-07T12:00:00Z"}'
		echo '{"type":"profile","phone":"+12015550701","first_name":"Old","email":"a@example.com","updated_at":"2026-11-07T10:00:00Z"}'
		echo '{"type":"profile","phone":"(201) 555-0701","last_name":"Kim"}'
	} >input.ndjson
	run convo-ingest -q input.ndjson
	run jq -r 'select(.type == "ingest_result") | .result' <<<"$output"
	assert_output "$(printf 'inserted\nduplicate\nupdated')"
	run sql "SELECT first_name, last_name, email FROM convo.profiles"
	assert_output "New|Kim|"
}

@test "profile UTC offset time zone is rejected" {
	local zone
	for zone in +05:00 UTC+5 GMT+5 utc-03:00 5 UTC5 PKT5 'UTC\uff0b5'; do
		printf '{"type":"profile","phone":"+12015550702","timezone":"%s"}\n' \
		    "$zone"
	done >input.ndjson
	for zone in Asia/Karachi Etc/GMT+5 UTC PST8PDT America/Port-au-Prince; do
		printf '{"type":"profile","phone":"+12015550703","timezone":"%s"}\n' \
		    "$zone"
	done >>input.ndjson
	run --separate-stderr convo-ingest input.ndjson
	assert_failure 65
	run jq -r 'select(.type == "ingest_result") | .result' <<<"$output"
	assert_output "$(printf 'rejected\n%.0s' 1 2 3 4 5 6 7 8)$(printf '\n')
inserted
updated
updated
updated
updated"
	assert_equal "${stderr_lines[0]}" 'convo-ingest: input.ndjson: line 1: invalid time zone "+05:00": PostgreSQL reads a UTC offset with the POSIX sign, positive west of UTC, so convo would take the customer'"'"'s local time the wrong way; give an IANA name such as Asia/Karachi or America/Chicago'
	assert_regex "${stderr_lines[1]}" '^convo-ingest: input.ndjson: line 2: invalid time zone "UTC\+5": '
	run sql "SELECT phone, coalesce(timezone, 'NULL') FROM convo.profiles
	    ORDER BY phone"
	assert_output "+12015550703|America/Port-au-Prince"
}

@test "unknown account is a configuration error" {
	run convo-ingest --account nosuch "$SAMPLE"
	assert_failure 78
	assert_output --partial 'account "nosuch" not found'
}

@test "missing input file exits 66" {
	run convo-ingest missing.ndjson "$SAMPLE"
	assert_failure 66
	assert_output --partial 'cannot open "missing.ndjson"'
	run sql "SELECT count(*) > 0 FROM convo.messages"
	assert_output "t"
}

@test "invalid options exit 64" {
	run convo-ingest --format xml
	assert_failure 64
	assert_output --partial 'unknown format "xml"'
	run convo-ingest --batch-size 0
	assert_failure 64
}

@test "whatsapp webhook bodies keep their channel" {
	echo 'MessageSid=SMwa1&SmsStatus=received&Body=hola&NumMedia=0&From=whatsapp%3A%2B12015550604&To=whatsapp%3A%2B12025550140' \
	    >input.form
	run convo-ingest -q input.form
	assert_success
	run sql "SELECT channel, from_address FROM convo.messages"
	assert_output "whatsapp|+12015550604"
}

@test "blocked conversation stays closed" {
	inbound +12015550605 "first" 2026-11-08T10:00:00Z SMb1 >a.ndjson
	convo-ingest -q a.ndjson >/dev/null
	sql "UPDATE convo.conversations SET status = 'closed', blocked = true"
	inbound +12015550605 "again" 2026-11-08T11:00:00Z SMb2 >b.ndjson
	convo-ingest -q b.ndjson >/dev/null
	run sql "SELECT status FROM convo.conversations"
	assert_output "closed"
}

@test "closed conversation reopens on new text" {
	inbound +12015550606 "first" 2026-11-08T10:00:00Z SMb3 >a.ndjson
	convo-ingest -q a.ndjson >/dev/null
	sql "UPDATE convo.conversations SET status = 'closed'"
	inbound +12015550606 "again" 2026-11-08T11:00:00Z SMb4 >b.ndjson
	convo-ingest -q b.ndjson >/dev/null
	run sql "SELECT status FROM convo.conversations"
	assert_output "open"
}

@test "redelivered STOP webhook gets one reply" {
	local body='MessageSid=SMr1&SmsStatus=received&Body=STOP&NumMedia=0&From=%2B12015550801&To=%2B12025550140'
	printf '%s\n%s\n' "$body" "$body" >input.form
	run convo-ingest -q input.form
	assert_success
	run jq -s 'map(select(.type == "send")) | length' <<<"$output"
	assert_output "1"
	run convo-ingest -q input.form
	run jq -s 'map(select(.type == "send")) | length' <<<"$output"
	assert_output "0"
}

@test "second STOP gets no confirmation" {
	inbound +12015550802 STOP 2026-11-09T10:00:00Z SMr2 >input.ndjson
	inbound +12015550802 stop 2026-11-09T11:00:00Z SMr3 >>input.ndjson
	run convo-ingest -q input.ndjson
	assert_success
	run jq -c 'select(.type == "send") | .in_reply_to' <<<"$output"
	assert_output '"SMr2"'
}

# Print the time MINUTES minutes ago.
minutes_ago() {
	date -u -d "$1 minutes ago" +%Y-%m-%dT%H:%M:%SZ
}

# Print a consent record for PHONE with STATUS, MINUTES minutes ago.
consent_minutes_ago() {
	printf '{"type":"consent","phone":"%s","status":"%s","at":"%s"}\n' \
	    "$1" "$2" "$(minutes_ago "$3")"
}

# Print the in_reply_to ids of the opt-out replies in ingest output on
# standard input, sorted.
opt_out_replies() {
	jq -r 'select(.type == "send" and .action == "opt_out")
	    | .in_reply_to' | sort | paste -sd, -
}

@test "late older STOP gets no second confirmation" {
	consent_minutes_ago +12015550430 subscribed 60 | convo-ingest -q >/dev/null
	inbound +12015550430 STOP "$(minutes_ago 5)" SMo5 |
	    convo-ingest -q >first.ndjson
	inbound +12015550430 STOP "$(minutes_ago 10)" SMo10 |
	    convo-ingest -q >second.ndjson
	run opt_out_replies <first.ndjson
	assert_output "SMo5"
	run opt_out_replies <second.ndjson
	assert_output ""
	run sql "SELECT idempotency_key FROM convo.outbox"
	assert_output "r:SMo5"
	run consent_of +12015550430
	assert_output "unsubscribed"
}

@test "STOPs of one batch get one confirmation" {
	consent_minutes_ago +12015550431 subscribed 60 | convo-ingest -q >/dev/null
	inbound +12015550431 STOP "$(minutes_ago 3)" SMq3 | convo-ingest -q >/dev/null
	# Both are older than the confirmed STOP, in reverse time order.
	inbound +12015550431 STOP "$(minutes_ago 5)" SMq5 >input.ndjson
	inbound +12015550431 STOP "$(minutes_ago 10)" SMq10 >>input.ndjson
	run convo-ingest -q input.ndjson
	assert_success
	run opt_out_replies <<<"$output"
	assert_output ""
	# Two STOPs at the same instant in a new batch.
	consent_minutes_ago +12015550435 subscribed 60 >input.ndjson
	inbound +12015550435 STOP "$(minutes_ago 4)" SMs2 >>input.ndjson
	inbound +12015550435 stop "$(minutes_ago 4)" SMs1 >>input.ndjson
	run convo-ingest -q input.ndjson
	assert_success
	run opt_out_replies <<<"$output"
	assert_output "SMs1"
}

@test "each STOP after START is confirmed once" {
	local order phone=+12015550436 n=0 file
	consent_minutes_ago $phone subscribed 60 | convo-ingest -q >/dev/null
	inbound $phone STOP "$(minutes_ago 30)" SMt30 >a.ndjson
	inbound $phone START "$(minutes_ago 20)" SMt20 >b.ndjson
	inbound $phone STOP "$(minutes_ago 10)" SMt10 >c.ndjson
	cat a.ndjson b.ndjson c.ndjson | convo-ingest -q >time.ndjson
	run opt_out_replies <time.ndjson
	assert_output "SMt10,SMt30"
	# The same texts from other customers in other orders, one run
	# each.
	for order in 'c b a' 'b c a'; do
		phone=+1201555044$((n += 1))
		consent_minutes_ago $phone subscribed 60 |
		    convo-ingest -q >/dev/null
		for file in $order; do
			sed -e "s/+12015550436/$phone/" -e "s/SMt/SM${n}t/" \
			    $file.ndjson | convo-ingest -q
		done >out.ndjson
		run opt_out_replies <out.ndjson
		assert_output "SM${n}t10,SM${n}t30"
	done
}

@test "late STOP between START and STOP gets no reply" {
	local phone=+12015550437
	consent_minutes_ago $phone subscribed 60 | convo-ingest -q >/dev/null
	{
		inbound $phone STOP "$(minutes_ago 30)" SMu30
		inbound $phone START "$(minutes_ago 20)" SMu20
		inbound $phone STOP "$(minutes_ago 5)" SMu5
	} | convo-ingest -q >first.ndjson
	run opt_out_replies <first.ndjson
	assert_output "SMu30,SMu5"
	inbound $phone STOP "$(minutes_ago 10)" SMu10 | convo-ingest -q >late.ndjson
	run opt_out_replies <late.ndjson
	assert_output ""
	run sql "SELECT count(*) FROM convo.outbox WHERE body LIKE '%unsubscribed%'"
	assert_output "2"
}

@test "late STOP before consent record opt-out is confirmed" {
	local phone=+12015550438
	consent_minutes_ago $phone subscribed 60 | convo-ingest -q >/dev/null
	# An import unsubscribes the customer, so the STOP after it is
	# not confirmed.
	consent_minutes_ago $phone unsubscribed 8 | convo-ingest -q >/dev/null
	inbound $phone STOP "$(minutes_ago 5)" SMv5 | convo-ingest -q >first.ndjson
	run opt_out_replies <first.ndjson
	assert_output ""
	# The customer's first STOP arrives late and is the only one that
	# found the customer subscribed.
	inbound $phone STOP "$(minutes_ago 10)" SMv10 | convo-ingest -q >late.ndjson
	run opt_out_replies <late.ndjson
	assert_output "SMv10"
	# A STOP after an opt-in that a consent record gives is confirmed,
	# whichever STOP arrives first.
	phone=+12015550439
	consent_minutes_ago $phone subscribed 60 | convo-ingest -q >/dev/null
	consent_minutes_ago $phone subscribed 7 | convo-ingest -q >/dev/null
	inbound $phone STOP "$(minutes_ago 5)" SMw5 | convo-ingest -q >first.ndjson
	inbound $phone STOP "$(minutes_ago 10)" SMw10 | convo-ingest -q >late.ndjson
	run opt_out_replies <first.ndjson
	assert_output "SMw5"
	run opt_out_replies <late.ndjson
	assert_output "SMw10"
}

@test "STOP older than a later opt-in gets no reply" {
	echo '{"type":"consent","phone":"+12015550410","status":"subscribed","at":"2026-11-05T00:00:00Z"}' |
	    convo-ingest -q >/dev/null
	# The STOP arrives late: the subscription after it stays in force,
	# so "you are unsubscribed" would be untrue.
	inbound +12015550410 STOP 2026-11-03T10:00:00Z SMlate1 |
	    convo-ingest -q >out.ndjson
	run jq -r 'select(.type == "ingest_result") | .keyword.action' \
	    out.ndjson
	assert_output "opt_out"
	run jq -s 'map(select(.type == "send")) | length' out.ndjson
	assert_output "0"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
	run consent_of +12015550410
	assert_output "subscribed"
}

@test "HELP from unsubscribed customer gets help" {
	echo '{"type":"consent","phone":"+12015550803","status":"unsubscribed","at":"2026-11-01T00:00:00Z"}' \
	    >input.ndjson
	inbound +12015550803 HELP 2026-11-09T10:00:00Z SMr4 >>input.ndjson
	run convo-ingest -q input.ndjson
	assert_success
	local results=$output
	run jq -r 'select(.type == "send") | .action' <<<"$results"
	assert_output "help"
	run jq -r 'select(.type == "send") | .body' <<<"$results"
	assert_output --partial "STOP"
}

# Print the body of the send record that answers message id ID in the
# ingest output FILE.
reply_body() {
	jq -r --arg id "$2" 'select(.type == "send" and .in_reply_to == $id)
	    | .body' "$1"
}

@test "reply without help contact drops {help} sentences" {
	local -a replies=(
	    '{brand}: Questions? Email {help} anytime. Reply STOP to opt out.'
	    '{brand} is open 9-5. Call {help} for more.'
	    'Need help: {help}. Nohelp: reply STOP to opt out. More: {help}.'
	    '{brand}: {help}. Reply STOP to opt out.'
	    'Hi! Call {help}! Write to {help}? Bye?'
	    'See example.com/{help} now. Thanks.'
	    $'{brand}: hi.\nCall {help}.\n\nBye.'
	    '  Hours 9-5.  {help} too.  '
	    $'{brand}: Help: {help}.\xc2\xa0Rates apply.'
	    $'{brand}\xc2\xa0: aide\xc2\xa0: {help}. Des frais.'
	)
	local -a expected=(
	    'convo: Questions? Reply STOP to opt out.'
	    'convo is open 9-5.'
	    'Nohelp: reply STOP to opt out.'
	    'convo: Reply STOP to opt out.'
	    'Hi! Bye?'
	    'Thanks.'
	    'convo: hi. Bye.'
	    'Hours 9-5.'
	    'convo: Rates apply.'
	    $'convo\xc2\xa0: Des frais.'
	)
	local i

	for i in "${!replies[@]}"; do
		convo-keywords add "word$i" --action custom \
		    --reply "${replies[$i]}" >/dev/null
		inbound "+1201555090$i" "word$i" 2026-11-09T10:00:00Z "SMh$i"
	done >input.ndjson
	inbound +12015550910 INFO 2026-11-09T10:00:00Z SMhinfo >>input.ndjson
	convo-ingest -q input.ndjson >out.ndjson
	for i in "${!replies[@]}"; do
		run reply_body out.ndjson "SMh$i"
		assert_output "${expected[$i]}"
	done
	# The pack's reply keeps its brand when its first sentence goes.
	run reply_body out.ndjson SMhinfo
	assert_output 'convo: Msg & data rates may apply. Reply STOP to opt out.'
	run grep -c '{help}' out.ndjson
	assert_output "0"
}

@test "reply of {help} sentences only is not sent" {
	convo-keywords add hours --action custom \
	    --reply '{brand}: Call {help}. Or write to {help}!' >/dev/null
	# What is left is a zero-width space, which shows nothing.
	convo-keywords add menu --action custom \
	    --reply $'{help}. \xe2\x80\x8b' >/dev/null
	{
		inbound +12015550911 hours 2026-11-09T10:00:00Z SMh1
		inbound +12015550912 menu 2026-11-09T10:00:00Z SMh2
	} >input.ndjson
	convo-ingest -q input.ndjson >out.ndjson
	run jq -r 'select(.type == "ingest_result") | .keyword.action' \
	    out.ndjson
	assert_output "$(printf 'custom\ncustom')"
	run jq -s 'map(select(.type == "send")) | length' out.ndjson
	assert_output "0"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
}

@test "reply inserts setting values once" {
	convo-keywords settings --brand 'B{frequency}' \
	    --help-contact '{brand}@example.com' --frequency '{help} msgs' \
	    >/dev/null
	convo-keywords add hours --action custom \
	    --reply '{brand}: {help}. {frequency}{unknown} {{brand}}' >/dev/null
	inbound +12015550912 hours 2026-11-09T10:00:00Z SMh1 >input.ndjson
	convo-ingest -q input.ndjson >out.ndjson
	run reply_body out.ndjson SMh1
	assert_output 'B{frequency}: {brand}@example.com. {help} msgs. {unknown} {B{frequency}}'
}

@test "frequency is one sentence in a reply" {
	local -a replies=(
	    '{brand}: Joined. {frequency}Rates apply.'
	    '{brand}: Joined. {frequency}. Rates apply.'
	    '{brand}: Joined. {frequency} Rates apply.'
	    '{brand}: {frequency}'
	)
	local -a expected=(
	    'convo: Joined. Up to 4 msgs/mo! Rates apply.'
	    'convo: Joined. Up to 4 msgs/mo. Rates apply.'
	    'convo: Joined. Up to 4 msgs/mo! Rates apply.'
	    'convo: Up to 4 msgs/mo!'
	)
	local i

	convo-keywords settings --frequency 'Up to 4 msgs/mo! ' >/dev/null
	for i in "${!replies[@]}"; do
		convo-keywords add "word$i" --action custom \
		    --reply "${replies[$i]}" >/dev/null
		inbound "+1201555093$i" "word$i" 2026-11-09T10:00:00Z "SMq$i"
	done >input.ndjson
	convo-ingest -q input.ndjson >out.ndjson
	for i in "${!replies[@]}"; do
		run reply_body out.ndjson "SMq$i"
		assert_output "${expected[$i]}"
	done
	convo-keywords settings --frequency '' >/dev/null
	inbound +12015550940 word0 2026-11-09T11:00:00Z SMq9 |
	    convo-ingest -q >out.ndjson
	run reply_body out.ndjson SMq9
	assert_output 'convo: Joined. Msg frequency varies. Rates apply.'
}

@test "text like a revocation flags the conversation" {
	inbound +12015550804 "Stop. Thank you" 2026-11-09T10:00:00Z SMf1 \
	    >input.ndjson
	convo-ingest -q input.ndjson >/dev/null
	run consent_of +12015550804
	assert_output "never_subscribed"
	run convo-list --flagged
	assert_success
	run jq -r '.possible_opt_out.message_id' <<<"$output"
	assert_output "$(sql "SELECT 'm_' || message_id FROM convo.messages")"
}

@test "Twilio OptOutType opts out without our keyword" {
	echo '{"type":"consent","phone":"+12015550805","status":"subscribed","at":"2026-11-01T00:00:00Z"}' \
	    >input.ndjson
	convo-ingest -q input.ndjson >/dev/null
	echo 'MessageSid=SMh1&SmsStatus=received&Body=Arr%C3%AAtez&OptOutType=STOP&NumMedia=0&From=%2B12015550805&To=%2B12025550140' \
	    >input.form
	run convo-ingest -q input.form
	assert_success
	local results=$output
	run jq -r 'select(.type == "ingest_result") | .keyword.action' \
	    <<<"$results"
	assert_output "opt_out"
	run jq -s 'map(select(.type == "send")) | length' <<<"$results"
	assert_output "0"
	run consent_of +12015550805
	assert_output "unsubscribed"
	run sql "SELECT count(*) FROM convo.conversations"
	assert_output "0"
}

@test "contains mode opts out inside a text" {
	sql "UPDATE convo.accounts SET optout_mode = 'contains'"
	inbound +12015550806 "please stop texting me" 2026-11-09T10:00:00Z \
	    SMcm1 >input.ndjson
	run convo-ingest -q input.ndjson
	assert_success
	run consent_of +12015550806
	assert_output "unsubscribed"
	run sql "SELECT count(*) FROM convo.conversations"
	assert_output "0"
}

@test "opt-out traps change no consent" {
	need_corpus
	grep -v '^#' "$CONVO_CORPUS/optout-traps.tsv" |
	    jq -R -c --slurp 'split("\n") | map(select(length > 0)
	    | split("\t")) | to_entries[] | {type: "message",
	    direction: "inbound", from: "+1201555\(1000 + .key)",
	    to: "+12025550140", body: (.value[2] | fromjson),
	    provider_message_id: "SMtrap\(.key)",
	    sent_at: "2026-11-10T10:00:00Z"}' >traps.ndjson
	[ "$(wc -l <traps.ndjson)" -eq 90 ]
	run convo-ingest -q traps.ndjson
	assert_success
	run sql "SELECT count(*) FROM convo.consent_changes"
	assert_output "0"
	run sql "SELECT count(*) FROM convo.messages
	    WHERE keyword_action IS NOT NULL"
	assert_output "0"
	# The share flagged for review, for the record.
	echo "# flagged $(sql "SELECT count(*) FROM convo.conversations
	    WHERE flagged_message_id IS NOT NULL") of $(wc -l <traps.ndjson)" >&3
}

@test "provider opt-out gets no second reply" {
	echo 'MessageSid=SMh2&SmsStatus=received&Body=STOP&OptOutType=STOP&NumMedia=0&From=%2B12015550807&To=%2B12025550140' \
	    >input.form
	run convo-ingest -q input.form
	assert_success
	local results=$output
	run jq -r 'select(.type == "ingest_result") | .keyword.word' \
	    <<<"$results"
	assert_output "stop"
	run jq -s 'map(select(.type == "send")) | length' <<<"$results"
	assert_output "0"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
}

@test "opt_out_type without provider action keeps reply" {
	# Sent a minute ago: only a recent keyword message's reply is stored.
	local base='"type":"message","direction":"inbound","to":"+12025550140"'
	base+=",\"sent_at\":\"$(date -u -d '1 minute ago' +%Y-%m-%dT%H:%M:%SZ)\""
	{
		echo "{$base,\"from\":\"+12015550808\",\"body\":\"STOP\",\"provider_message_id\":\"SMh3\",\"opt_out_type\":null}"
		echo "{$base,\"from\":\"+12015550809\",\"body\":\"HELP\",\"provider_message_id\":\"SMh4\",\"opt_out_type\":\"NONE\"}"
	} >input.ndjson
	run convo-ingest -q input.ndjson
	assert_success
	run jq -r 'select(.type == "send") | [.in_reply_to, .keyword]
	    | join(" ")' <<<"$output"
	assert_line --index 0 "SMh3 stop"
	assert_line --index 1 "SMh4 help"
	run sql "SELECT idempotency_key FROM convo.outbox ORDER BY 1"
	assert_output "$(printf 'r:SMh3\nr:SMh4')"
}

# Print the input line numbers of the output records and warnings in
# $output, in their order: a result as N, a warning about line N as wN,
# a keyword reply as send.
report_order() {
	local line
	while IFS= read -r line; do
		case $line in
		'{'*) jq -r '.input_line // .type' <<<"$line" ;;
		*) sed -E 's/.*: line ([0-9]+): .*/w\1/' <<<"$line" ;;
		esac
	done <<<"$output" | paste -sd ' '
}

# Run the PL/pgSQL statements $2 before each message row is inserted, in
# the trigger function public.$1.
message_trigger() {
	sql "CREATE FUNCTION public.$1() RETURNS trigger LANGUAGE plpgsql
	    AS \$\$ BEGIN $2 RETURN NEW; END \$\$"
	sql "CREATE TRIGGER $1 BEFORE INSERT ON convo.messages
	    FOR EACH ROW EXECUTE FUNCTION public.$1()"
}

@test "batches keep reports in line order" {
	{
		inbound +12015550901 "one" 2026-11-02T10:01:00Z SMo1
		echo '{"type":"profile"}'
		inbound +12015550903 "three" 2026-11-02T10:03:00Z SMo3
		inbound +12015550904 "four" 2026-11-02T10:04:00Z SMo4
		echo '{"type":"message"}'
		inbound +12015550906 "six" 2026-11-02T10:06:00Z SMo6
		inbound +12015550907 "seven" 2026-11-02T10:07:00Z SMo7
	} >input.ndjson
	run convo-ingest -q --batch-size 2 --rejects rejects.ndjson \
	    input.ndjson
	assert_failure 65
	assert_equal "$(report_order)" "w2 1 2 3 4 w5 5 6 7"
	run jq -s -c 'map(.input_line)' rejects.ndjson
	assert_output "[2,5]"
	run sql "SELECT count(*) FROM convo.messages"
	assert_output "5"
}

@test "rejects stay in line order after retries" {
	message_trigger poison "IF NEW.body = 'poison' THEN
	    RAISE EXCEPTION 'poisoned message' USING ERRCODE = '22023';
	    END IF;"
	{
		inbound +12015550941 "one" 2026-11-02T10:01:00Z SMr1
		inbound +12015550942 "poison" 2026-11-02T10:02:00Z SMr2
		echo '{"type":"message",'
		inbound +12015550944 "four" 2026-11-02T10:04:00Z SMr4
		inbound +12015550945 "poison" 2026-11-02T10:05:00Z SMr5
		echo '{"type":"profile"}'
	} >input.ndjson
	run convo-ingest -q --batch-size 3 --rejects rejects.ndjson \
	    input.ndjson
	assert_failure 65
	assert_equal "$(report_order)" "w2 w3 1 2 3 w5 w6 4 5 6"
	run jq -s -c 'map(.input_line)' rejects.ndjson
	assert_output "[2,3,5,6]"
	run sql "SELECT string_agg(body, ',' ORDER BY body) FROM convo.messages"
	assert_output "four,one"
}

# Wait up to 10 s for file $1 to have $2 lines, then print its count.
wait_for_lines() {
	local i
	for i in $(seq 100); do
		[ "$(wc -l <"$1")" -ge "$2" ] && break
		sleep 0.1
	done
	wc -l <"$1"
}

@test "slow producer's results appear promptly" {
	local pid
	mkfifo input.fifo
	convo-ingest -q --batch-size 2 input.fifo >out.ndjson 3>&- &
	pid=$!
	exec 5>input.fifo
	inbound +12015550931 "one" 2026-11-02T13:01:00Z SMs1 >&5
	inbound +12015550932 "two" 2026-11-02T13:02:00Z SMs2 >&5
	assert_equal "$(wait_for_lines out.ndjson 2)" 2
	inbound +12015550933 "three" 2026-11-02T13:03:00Z SMs3 >&5
	assert_equal "$(wait_for_lines out.ndjson 3)" 3
	exec 5>&-
	wait "$pid"
	run jq -r '.input_line' out.ndjson
	assert_output "$(printf '1\n2\n3')"
}

@test "data error retries each record alone" {
	local t0 results
	# The server takes 2 s to reject the body "poison", so a webhook
	# body parsed again after the batch failed would get a later time.
	message_trigger poison "IF NEW.body = 'poison' THEN
	    PERFORM pg_sleep(2);
	    RAISE EXCEPTION 'poisoned message' USING ERRCODE = '22023';
	    END IF;"
	{
		echo 'MessageSid=SMp1&SmsStatus=received&Body=hello&NumMedia=0&From=%2B12015550911&To=%2B12025550140'
		inbound +12015550912 "poison" 2026-11-02T11:00:00Z SMp2
		inbound +12015550913 "STOP" 2026-11-02T11:01:00Z SMp3
	} >input.txt
	t0=$(date +%s.%N)
	run convo-ingest -q --rejects rejects.ndjson input.txt
	assert_failure 65
	assert_line "convo-ingest: input.txt: line 2: poisoned message"
	assert_equal "$(report_order)" "w2 1 2 3 send"
	results=$(grep '^{' <<<"$output")
	run jq -c 'select(.type == "ingest_result") | [.result, .error]' \
	    <<<"$results"
	assert_line --index 0 '["inserted",null]'
	assert_line --index 1 '["rejected","poisoned message"]'
	assert_line --index 2 '["inserted",null]'
	run jq -r 'select(.type == "send") | .in_reply_to' <<<"$results"
	assert_output "SMp3"
	run jq -r '.input' rejects.ndjson
	assert_output "$(sed -n 2p input.txt)"
	run sql "SELECT string_agg(body, ',' ORDER BY body)
	    FROM convo.messages"
	assert_output "STOP,hello"
	run sql "SELECT sent_at < to_timestamp($t0) + interval '2 s'
	    FROM convo.messages WHERE body = 'hello'"
	assert_output "t"
}

# Print N inbound messages of 200-character bodies, a batch of lines too
# large to be held in memory before they go to the temporary file.
long_lines() {
	local i pad
	pad=$(printf '%0200d' 0)
	for i in $(seq "$1"); do
		printf '{"type":"message","direction":"inbound",'
		printf '"from":"+1201555%04d","to":"+12025550140",' "$i"
		printf '"body":"%s","provider_message_id":"SMl%d",' "$pad" "$i"
		printf '"sent_at":"2026-11-02T12:00:00Z"}\n'
	done
}

# Ingest a webhook body, a poisoned message and a line that is not JSON
# ahead of 600 long lines, in one batch, and check what landed.
check_lines_read_back() {
	message_trigger poison "IF NEW.body = 'poison' THEN
	    RAISE EXCEPTION 'poisoned message' USING ERRCODE = '22023';
	    END IF;"
	{
		echo 'MessageSid=SMq1&SmsStatus=received&Body=hello&NumMedia=0&From=%2B12015550921&To=%2B12025550140'
		inbound +12015550922 "poison" 2026-11-02T11:00:00Z SMq2
		echo '{"type":"message",'
		long_lines 600
	} >input.txt
	run convo-ingest -q --rejects rejects.ndjson input.txt
	assert_failure 65
	run jq -s -r 'sort_by(.input_line)[].input' rejects.ndjson
	assert_output "$(sed -n 2,3p input.txt)"
	run sql "SELECT count(*), count(*) FILTER (WHERE body = 'hello'),
	    count(DISTINCT body) FROM convo.messages"
	assert_output "601|1|2"
}

@test "lines of a large batch are read back for retries and rejects" {
	check_lines_read_back
}

@test "lines are kept in memory where no temporary file can be made" {
	TMPDIR=$BATS_TEST_TMPDIR/missing check_lines_read_back
}

# Run convo-ingest with files limited to 64 KiB, as on a full file
# system: writing past the limit fails with EFBIG instead of a signal.
convo-ingest-64k() {
	(
		trap '' XFSZ
		ulimit -f 64
		convo-ingest "$@"
	)
}

@test "lines move to memory when the temporary file fills up" {
	message_trigger poison "IF NEW.body = 'poison' THEN
	    RAISE EXCEPTION 'poisoned message' USING ERRCODE = '22023';
	    END IF;"
	{
		long_lines 300
		inbound +12015550922 "poison" 2026-11-02T11:00:00Z SMq2
		echo '{"type":"message",'
		long_lines 300 | sed 's/SMl/SMm/; s/+1201555/+1201556/'
	} >input.txt
	run convo-ingest-64k --rejects rejects.ndjson input.txt
	assert_failure 65
	assert_line --partial "in memory"
	run jq -s -r 'sort_by(.input_line)[].input' rejects.ndjson
	assert_output "$(sed -n 301,302p input.txt)"
	run sql "SELECT count(*), count(DISTINCT provider_message_id)
	    FROM convo.messages"
	assert_output "600|600"
}

# Count in the sequence public.inserts each attempt to record a batch:
# it inserts its messages in one statement, and the sequence keeps
# counting when the attempt fails.
count_attempts() {
	sql "CREATE SEQUENCE public.inserts;
	    CREATE FUNCTION public.count_insert() RETURNS trigger
	    LANGUAGE plpgsql AS \$\$ BEGIN PERFORM nextval('public.inserts');
	    RETURN NULL; END \$\$;
	    CREATE TRIGGER count_insert BEFORE INSERT ON convo.messages
	    FOR EACH STATEMENT EXECUTE FUNCTION public.count_insert()"
}

@test "one bad record retries in few transactions" {
	local i
	message_trigger poison "IF NEW.body = 'poison' THEN
	    RAISE EXCEPTION 'poisoned message' USING ERRCODE = '22023';
	    END IF;"
	count_attempts
	for i in $(seq 1000); do
		if [ "$i" -eq 700 ]; then
			inbound +12015550999 poison 2026-11-02T12:00:00Z SMb$i
		else
			printf '{"type":"message","direction":"inbound",'
			printf '"from":"+1201555%04d","to":"+12025550140",' "$i"
			printf '"body":"hi","provider_message_id":"SMb%d",' "$i"
			printf '"sent_at":"2026-11-02T12:00:00Z"}\n'
		fi
	done >input.ndjson
	run convo-ingest -q input.ndjson
	assert_failure 65
	run sql "SELECT count(*) FROM convo.messages"
	assert_output 999
	# The batch, two halves at each of 6 levels down to 15 lines, and
	# those 15 one by one.
	run sql "SELECT last_value FROM public.inserts"
	assert_output 28
}

@test "batch of bad records retries about once each" {
	local i
	message_trigger poison "IF NEW.body = 'poison' THEN
	    RAISE EXCEPTION 'poisoned message' USING ERRCODE = '22023';
	    END IF;"
	count_attempts
	for i in $(seq 100); do
		inbound "+1201555$((1000 + i))" poison 2026-11-02T12:00:00Z SMa$i
	done >input.ndjson
	run convo-ingest -q input.ndjson
	assert_failure 65
	run sql "SELECT count(*) FROM convo.messages"
	assert_output 0
	# Halves down to 16 lines take 15 transactions, then 100 alone.
	run sql "SELECT last_value FROM public.inserts"
	assert_output 115
}

@test "summary of one record is singular" {
	inbound +12015550941 "STOP" 2026-11-02T12:00:00Z SMone1 >in.ndjson
	run --separate-stderr convo-ingest in.ndjson
	assert_success
	[[ $stderr == "convo-ingest: 1 record in "*"; 1 keyword reply" ]] ||
	    fail "summary: $stderr"
}

@test "serialization failure retries the batch" {
	sql "CREATE SEQUENCE public.attempts"
	# Sequences ignore rollbacks, so only the first attempt fails.
	message_trigger fail_once "IF nextval('public.attempts') = 1 THEN
	    RAISE EXCEPTION 'first attempt' USING ERRCODE = '40001';
	    END IF;"
	{
		echo 'MessageSid=SMr1&SmsStatus=received&Body=hello&NumMedia=0&From=%2B12015550921&To=%2B12025550140'
		inbound +12015550922 "again" 2026-11-02T12:00:00Z SMr2
	} >input.txt
	run --separate-stderr convo-ingest -v input.txt
	assert_success
	assert_equal "$(grep -c 'retrying the batch after SQLSTATE 40001' \
	    <<<"$stderr")" 1
	run jq -r 'select(.type == "ingest_result") | .result' <<<"$output"
	assert_output "$(printf 'inserted\ninserted')"
	run sql "SELECT string_agg(body, ',' ORDER BY body)
	    FROM convo.messages"
	assert_output "again,hello"
}

@test "records leave no memory behind" {
	command -v valgrind >/dev/null || skip "valgrind is not installed"
	if asan_build; then
		skip "AddressSanitizer checks for leaks in this build"
	fi
	run valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
	    --error-exitcode=99 convo-ingest -q "$SAMPLE"
	assert_success
	refute_output --partial "definitely lost"
}

@test "phone error's example is valid" {
	local example
	run --separate-stderr convo-ingest -q <<<'{"type":"message","direction":"inbound","from":"+1201","to":"+12025550140","body":"hi","provider_message_id":"SMex1","sent_at":"2026-11-02T10:00:00Z"}'
	assert_failure 65
	example=$(grep -o 'such as +[0-9]*' <<<"$stderr" | head -n 1)
	example=${example#such as }
	[ -n "$example" ] || fail "no example in: $stderr"
	run convo-ingest -q <<<"{\"type\":\"message\",\"direction\":\"inbound\",\"from\":\"$example\",\"to\":\"+12025550140\",\"body\":\"hi\",\"provider_message_id\":\"SMex2\",\"sent_at\":\"2026-11-02T10:00:00Z\"}"
	assert_success
}

@test "phones with Unicode spaces and dashes" {
	# Numbers as spreadsheets and phone contacts write them: no-break
	# and narrow no-break spaces, en dashes and non-breaking hyphens,
	# and the direction marks around a copied contact.
	{
		echo '{"type":"profile","phone":"201\u00a0555\u00a00181","first_name":"Nbsp"}'
		echo '{"type":"profile","phone":"201\u2013555\u20130182","first_name":"Dash"}'
		echo '{"type":"profile","phone":"+1\u00a0(201)\u00a0555\u20110183","first_name":"Contact"}'
		echo '{"type":"profile","phone":"\u202d+1 201 555 0184\u202c","first_name":"Marks"}'
		echo '{"type":"profile","phone":"+44\u202f20\u202f7946\u202f0185","first_name":"Narrow"}'
		echo '{"type":"profile","phone":"201\u00a0555\u00a00181x","first_name":"Letter"}'
	} >phones.ndjson
	run --separate-stderr convo-ingest -q phones.ndjson
	assert_failure 65
	run jq -c '[.input_line, .result]' <<<"$output"
	assert_line --index 0 '[1,"inserted"]'
	assert_line --index 1 '[2,"inserted"]'
	assert_line --index 2 '[3,"inserted"]'
	assert_line --index 3 '[4,"inserted"]'
	assert_line --index 4 '[5,"inserted"]'
	assert_line --index 5 '[6,"rejected"]'
	run sql "SELECT first_name || ' ' || phone FROM convo.profiles
	    ORDER BY first_name"
	assert_output "Contact +12015550183
Dash +12015550182
Marks +12015550184
Narrow +442079460185
Nbsp +12015550181"
}

@test "phones with fullwidth and Arabic-Indic digits" {
	# An East Asian input method types fullwidth digits, plus sign and
	# hyphens. Arabic and Urdu text uses Arabic-Indic digits.
	{
		echo '{"type":"profile","phone":"\uff0b\uff11 \uff12\uff10\uff11\uff0d\uff15\uff15\uff15\uff0d\uff10\uff11\uff19\uff12","first_name":"Fullwidth"}'
		echo '{"type":"profile","phone":"\u0662\u0660\u0661 \u0665\u0665\u0665 \u0660\u0661\u0669\u0663","first_name":"Arabic"}'
		echo '{"type":"profile","phone":"+\u06f9\u06f2 \u06f3\u06f0\u06f0 \u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7","first_name":"Urdu"}'
	} >phones.ndjson
	run convo-ingest -q phones.ndjson
	assert_success
	run sql "SELECT first_name || ' ' || phone FROM convo.profiles
	    ORDER BY first_name"
	assert_output "Arabic +12015550193
Fullwidth +12015550192
Urdu +923001234567"
}

@test "international phone without plus" {
	# The default account reads national numbers as United States ones,
	# which have 10 digits, so 12 digits starting with 44 are British.
	{
		inbound 447700900123 "hello from London" \
		    2026-11-02T10:00:00Z SMintl1
		inbound 2015550191 "hello from New Jersey" \
		    2026-11-02T10:01:00Z SMintl2
	} >messages.ndjson
	run convo-ingest -q messages.ndjson
	assert_success
	run sql "SELECT phone FROM convo.profiles ORDER BY phone"
	assert_output "+12015550191
+447700900123"
}

@test "new account's repeated lines read only their own keys" {
	# Messages of one account, analyzed, then a second account that the
	# statistics have not seen records its lines twice.
	lines() {
		local account=$1 n=$2 i
		for ((i = 1; i <= n; i++)); do
			printf '{"type":"message","direction":"inbound","from":"+120155%05d","to":"+12025550140","body":"text %d","provider_message_id":"SM%s%06d","sent_at":"2026-11-02T10:00:00Z"}\n' \
			    "$i" "$i" "$account" "$i"
		done
	}
	lines a 3000 | convo-ingest -q >/dev/null
	sql "ANALYZE"
	convo-db -q account add second >/dev/null
	lines b 1000 >second.ndjson
	convo-ingest -q -a second second.ndjson >/dev/null
	read_before=$(sql "SELECT idx_tup_read FROM pg_stat_user_indexes
	    WHERE indexrelname = 'message_keys_account_id_message_id_key'")
	run convo-ingest -q -a second second.ndjson
	assert_success
	run jq -r .result <<<"$output"
	assert_output "$(yes duplicate | head -1000)"
	read_after=$(sql "SELECT idx_tup_read FROM pg_stat_user_indexes
	    WHERE indexrelname = 'message_keys_account_id_message_id_key'")
	# A lookup by provider message id reads one key a line, or none here.
	[ $((read_after - read_before)) -le 2000 ] ||
	    fail "$((read_after - read_before)) keys read for 1000 lines"
}

# Run one batch of an inbound text from PHONE in a psql session, as
# convo-ingest does, after the SQL in $before; then print the rows left
# in the work tables and the session's count of staged records.
session_batch() {
	local latest

	latest=$(basename "$(ls "$CONVO_SOURCE"/share/convo/migrations/[0-9]*.sql |
	    tail -n 1)")
	psql -X -qAt -v ON_ERROR_STOP=1 "$CONVO_DB" <<SQL
${before:-}
BEGIN;
SET LOCAL convo.client_schema = $((10#${latest%%_*}));
SELECT convo.ingest_prepare(), convo.outbox_receipts_prepare() \\g /dev/null
INSERT INTO pg_temp.ingest_messages (line, provider, provider_message_id,
    direction, channel, phone, from_address, to_address, body, media,
    sent_at, keyword_conditional, possible_opt_out)
VALUES (1, 'twilio', 'SMwork$1', 'inbound', 'sms', '$1', '$1',
    '+12025550140', 'Hello', '[]', now(), false, false);
SELECT convo.lock_account(1) \\g /dev/null
SELECT result FROM convo.ingest_batch(1);
SELECT convo.ingest_clear() \\g /dev/null
COMMIT;
SELECT (SELECT count(*) FROM pg_temp.ingest_messages)
    + (SELECT count(*) FROM pg_temp.ingest_added)
    + (SELECT count(*) FROM pg_temp.ingest_pairs)
    + (SELECT count(*) FROM pg_temp.ingest_phones)
    + (SELECT count(*) FROM pg_temp.ingest_batch_rows);
SELECT current_setting('convo.ingest_staged');
SQL
}

@test "work tables are empty after each batch" {
	before= run session_batch +12015550180
	assert_success
	assert_line --index 0 "inserted"
	assert_line --index 1 "0"
	assert_line --index 2 "1"
	run sql "SELECT count(*) FROM convo.conversations"
	assert_output 1
}

@test "work tables are truncated after 10,000 records" {
	# The session has staged 9,999 records since the last truncation.
	before="SELECT convo.ingest_prepare() \\g /dev/null
	    SELECT set_config('convo.ingest_staged', '9999', false) \\g /dev/null"
	run session_batch +12015550181
	assert_success
	assert_line --index 0 "inserted"
	assert_line --index 1 "0"
	assert_line --index 2 "0"
}

@test "work tables come back after DISCARD TEMP" {
	# A pooler or a client may drop the session's temporary tables, and
	# the session setting that says they were made stays.
	before="SELECT convo.ingest_prepare() \\g /dev/null
	    DISCARD TEMP;"
	run session_batch +12015550182
	assert_success
	assert_line --index 0 "inserted"
	assert_line --index 1 "0"
}
