#!/usr/bin/env bats
# The limits of convo-ingest: line length, body length, media count and
# batch size. A value at the limit is accepted; one over it is rejected
# with a message that names the line and the value.

load helper

# Print a profile record of exactly LEN bytes, without its newline.
profile_of_length() {
	local base='{"type":"profile","phone":"+12015550001","x":""}'
	printf '{"type":"profile","phone":"+12015550001","x":"%s"}\n' \
	    "$(head -c $(($1 - ${#base})) /dev/zero | tr '\0' a)"
}

# Print an inbound message record with BODY and MEDIA (a JSON array).
message_with() {
	jq -cn --arg body "$1" --argjson media "$2" --arg id "$3" \
	    '{type: "message", direction: "inbound", from: "+12015550001",
	    to: "+12025550140", body: $body, media: $media,
	    provider_message_id: $id, sent_at: "2026-11-01T10:00:00Z"}'
}

@test "line at the limit is read" {
	{
		profile_of_length 262144
		profile_of_length 262145
	} >input.ndjson
	run convo-ingest -q --rejects rejects.ndjson input.ndjson
	assert_failure 65
	assert_output --partial "input.ndjson: line 2: line of 262145 bytes is longer than the limit of 262144 bytes"
	refute_output --partial "line 1:"
	run jq -c '[.input_line, .input_bytes, .input_truncated]' \
	    rejects.ndjson
	assert_output "[2,262145,true]"
	run sql "SELECT count(*) FROM convo.profiles"
	assert_output "1"
}

@test "body at the limit is stored" {
	{
		message_with "$(head -c 16384 /dev/zero | tr '\0' a)" '[]' SM1
		message_with "$(head -c 16385 /dev/zero | tr '\0' a)" '[]' SM2
		# 4097 characters of four bytes each.
		message_with "$(for i in $(seq 4097); do printf '\360\237\230\200'; done)" \
		    '[]' SM3
	} >input.ndjson
	run convo-ingest -q --rejects rejects.ndjson input.ndjson
	assert_failure 65
	assert_line "convo-ingest: input.ndjson: line 2: body of 16385 bytes is longer than the limit of 16384 bytes"
	assert_line "convo-ingest: input.ndjson: line 3: body of 16388 bytes is longer than the limit of 16384 bytes"
	run jq -c '[.input_line, .error]' rejects.ndjson
	assert_line --index 0 '[2,"body of 16385 bytes is longer than the limit of 16384 bytes"]'
	run sql "SELECT provider_message_id, octet_length(body)
	    FROM convo.messages"
	assert_output "SM1|16384"
}

@test "ten media items are stored" {
	local ten eleven
	ten=$(jq -cn '[range(10) | "https://example.com/\(.).jpg"]')
	eleven=$(jq -cn '[range(11) | "https://example.com/\(.).jpg"]')
	{
		message_with "" "$ten" SM1
		message_with "" "$eleven" SM2
	} >input.ndjson
	run convo-ingest -q input.ndjson
	assert_failure 65
	assert_line "convo-ingest: input.ndjson: line 2: too many media items (11): at most 10"
	run sql "SELECT jsonb_array_length(media) FROM convo.messages"
	assert_output "10"
}

@test "webhook with eleven media is rejected" {
	local form='MessageSid=SMw1&From=%2B12015550001&To=%2B12025550140&Body=&NumMedia=11'
	run convo-ingest -q -f twilio <<<"$form"
	assert_failure 65
	assert_line 'convo-ingest: line 1: invalid parameter "NumMedia": "11" is not a number from 0 to 10'
}

@test "batch size over the limit is a usage error" {
	message_with hello '[]' SM1 >input.ndjson
	run convo-ingest -q --batch-size 100001 input.ndjson
	assert_failure 64
	assert_output 'convo-ingest: batch size "100001" is too large: expected 1 to 100000 lines'
	run convo-ingest -q --batch-size 0 input.ndjson
	assert_failure 64
	assert_output 'convo-ingest: batch size "0" is too small: expected 1 to 100000 lines'
	run convo-ingest -q --batch-size 100000 input.ndjson
	assert_success
}

@test "batch of long lines ends at 16 MiB" {
	local i line
	line=$(profile_of_length 200000)
	for i in $(seq 100); do
		printf '%s\n' "${line/+12015550001/+1201555$((1000 + i))}"
	done >input.ndjson
	convo-ingest -q -v --batch-size 1000 input.ndjson >/dev/null \
	    2>err.txt
	run grep -o 'recorded a batch of [0-9]* lines' err.txt
	# 84 lines of 200000 bytes are the first to reach 16777216 bytes.
	assert_line --index 0 "recorded a batch of 84 lines"
	assert_line --index 1 "recorded a batch of 16 lines"
	run sql "SELECT count(*) FROM convo.profiles"
	assert_output "100"
}
