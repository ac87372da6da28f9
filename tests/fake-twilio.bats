#!/usr/bin/env bats
# fake-twilio: the local Twilio Messages API that the sending tests talk
# to. These tests pin the wire format a client must meet: a form-encoded
# POST with Basic auth, a 201 Message resource, JSON errors with Twilio
# codes, and the failures that a script file asks for.

bats_load_library bats-support
bats_load_library bats-assert
load build

FAKE=$FAKE_TWILIO
SID=AC00000000000000000000000000000000
TOKEN=test-token
FROM=+15005550006

# Start the server with one script rule per argument, stopping any
# server that runs already, and wait up to 5 s for its port file.
start_fake() {
	local i

	stop_fake
	[ -x "$FAKE" ] || fail "$FAKE is missing: run make units"
	rm -f port log.ndjson
	printf '%s\n' "$@" >script
	# Counted SIDs by default, so that tests can name them.
	"$FAKE" ${FAKE_OPTIONS---counted-sids} --port-file port \
	    --log log.ndjson --script script >fake.out 2>fake.err 3>&- &
	FAKE_PID=$!
	for i in $(seq 50); do
		[ -s port ] && break
		sleep 0.1
	done
	[ -s port ] || fail "fake-twilio did not start: $(cat fake.err)"
	PORT=$(cat port)
	BASE="http://127.0.0.1:$PORT"
	URL="$BASE/2010-04-01/Accounts/$SID/Messages.json"
}

# Stop the server and return its exit status.
stop_fake() {
	local status=0

	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" || status=$?
		FAKE_PID=
	fi
	return "$status"
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	start_fake
}

teardown() {
	stop_fake || true
	check_sanitizers
}

# Run curl with ARGS; the body goes to body.json, the response head to
# head.txt, and the HTTP status to standard output.
post() {
	curl -sS --max-time 5 -o body.json -D head.txt -w '%{http_code}' "$@"
}

# POST each NAME=VALUE argument as a form field with the test
# credentials.
send() {
	local args=() field

	for field in "$@"; do
		args+=(--data-urlencode "$field")
	done
	post -u "$SID:$TOKEN" "${args[@]}" "$URL"
}

# Print field FILTER of the last response body.
body() {
	jq -r "$1" body.json
}

# Print field FILTER of log line N (1-based).
logged() {
	sed -n "${1}p" log.ndjson | jq -c "$2"
}

# Wait up to 5 s until the log has N lines.
wait_for_log() {
	local i

	for i in $(seq 50); do
		[ "$(wc -l <log.ndjson)" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "log has fewer than $1 lines"
}

@test "message create returns queued resource" {
	run send To=+15005550010 From=$FROM "Body=Hello there"
	assert_output 201
	run body .sid
	assert_output --regexp '^SM[0-9a-f]{32}$'
	run body .status
	assert_output queued
	run body '[.to, .from, .body, .account_sid] | join(" ")'
	assert_output "+15005550010 $FROM Hello there $SID"
	run body '[.num_segments, .num_media, .direction, .api_version,
	    .price_unit] | join(" ")'
	assert_output "1 0 outbound-api 2010-04-01 USD"
	run body '[.date_sent, .error_code, .error_message, .price,
	    .messaging_service_sid] | map(. == null) | all'
	assert_output true
	run body .date_created
	assert_output --regexp \
	    '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000$'
	run body '.uri == "/2010-04-01/Accounts/\(.account_sid)/Messages/\(.sid).json"'
	assert_output true
	run body '.subresource_uris.media == (.uri | sub("\\.json$";
	    "/Media.json"))'
	assert_output true
	run grep -i '^content-type: application/json' head.txt
	assert_success
}

@test "message sids count up" {
	send To=+15005550010 From=$FROM Body=one >/dev/null
	run body .sid
	assert_output SM00000000000000000000000000000001
	send To=+15005550010 From=$FROM Body=two >/dev/null
	run body .sid
	assert_output SM00000000000000000000000000000002
}

@test "message sids differ after a restart" {
	local first second
	FAKE_OPTIONS= start_fake
	send To=+15005550010 From=$FROM Body=one >/dev/null
	first=$(body .sid)
	FAKE_OPTIONS= start_fake
	send To=+15005550010 From=$FROM Body=two >/dev/null
	second=$(body .sid)
	[[ $first =~ ^SM[0-9a-f]{32}$ ]] || fail "invalid sid $first"
	[[ $second =~ ^SM[0-9a-f]{32}$ ]] || fail "invalid sid $second"
	[ "$first" != "$second" ] || fail "both runs gave $first"
	# A later run's SIDs sort after an earlier run's.
	[[ $first < $second ]] || fail "$second sorts before $first"
}

@test "missing auth returns 20003" {
	run post --data-urlencode To=+15005550010 \
	    --data-urlencode From=$FROM --data-urlencode Body=hi "$URL"
	assert_output 401
	run body '[.code, .status, .message, .more_info] | join(" ")'
	assert_output "20003 401 Authentication Error - invalid username https://www.twilio.com/docs/errors/20003"
	run grep -i '^www-authenticate: basic' head.txt
	assert_success
	run logged 1 .authorized
	assert_output false
}

@test "wrong token returns 20003" {
	run post -u "$SID:not-the-token" --data-urlencode To=+15005550010 \
	    --data-urlencode From=$FROM --data-urlencode Body=hi "$URL"
	assert_output 401
	run body .code
	assert_output 20003
}

@test "other account in path returns 20404" {
	local other=AC11111111111111111111111111111111

	run post -u "$SID:$TOKEN" --data-urlencode To=+15005550010 \
	    --data-urlencode From=$FROM --data-urlencode Body=hi \
	    "$BASE/2010-04-01/Accounts/$other/Messages.json"
	assert_output 404
	run body '[.code, .status] | join(" ")'
	assert_output "20404 404"
	run body .message
	assert_output --partial "$other"
}

@test "other path returns 404" {
	run post -u "$SID:$TOKEN" "$BASE/2010-04-01/Accounts/$SID/Calls.json"
	assert_output 404
	run body '[.code, .status] | join(" ")'
	assert_output "20404 404"
}

@test "GET on Messages returns 405" {
	run post -u "$SID:$TOKEN" "$URL"
	assert_output 405
	run grep -i '^allow: POST' head.txt
	assert_success
}

@test "missing To returns 21604" {
	run send From=$FROM Body=hi
	assert_output 400
	run body '[.code, .status, .message] | join(" ")'
	assert_output "21604 400 A 'To' phone number is required."
}

@test "empty To returns 21604" {
	run send To= From=$FROM Body=hi
	assert_output 400
	run body .code
	assert_output 21604
}

@test "missing From returns 21603" {
	run send To=+15005550010 Body=hi
	assert_output 400
	run body '[.code, .status] | join(" ")'
	assert_output "21603 400"
}

@test "messaging service starts as accepted" {
	local service=MG00000000000000000000000000000001

	run send To=+15005550010 MessagingServiceSid=$service Body=hi
	assert_output 201
	run body '[.status, .num_segments, .messaging_service_sid]
	    | join(" ")'
	assert_output "accepted 0 $service"
	run body .from
	assert_output null
	run send To=+15005550010 From=$FROM MessagingServiceSid=$service \
	    Body=hi
	assert_output 201
	run body '[.status, .from] | join(" ")'
	assert_output "accepted $FROM"
}

@test "missing Body and MediaUrl returns 21602" {
	run send To=+15005550010 From=$FROM
	assert_output 400
	run body '[.code, .status, .message] | join(" ")'
	assert_output "21602 400 Message body is required."
}

@test "media without Body is accepted" {
	run send To=+15005550010 From=$FROM \
	    MediaUrl=https://example.com/cat.jpg
	assert_output 201
	run body '[.num_media, .body] | join("|")'
	assert_output "1|"
}

@test "1601-character body returns 21617" {
	local text

	# Two-byte characters: the limit counts characters, not bytes.
	text=$(printf 'é%.0s' $(seq 1600))
	run send To=+15005550010 From=$FROM "Body=$text"
	assert_output 201
	run body '.body | length'
	assert_output 1600
	run send To=+15005550010 From=$FROM "Body=${text}é"
	assert_output 400
	run body '[.code, .status] | join(" ")'
	assert_output "21617 400"
}

@test "invalid To returns 21211" {
	run send To=5551234567 From=$FROM Body=hi
	assert_output 400
	run body '[.code, .status, .message] | join(" ")'
	assert_output "21211 400 The 'To' number 5551234567 is not a valid phone number."
	run send To=+1555abc From=$FROM Body=hi
	assert_output 400
	run send To=+1234567890123456 From=$FROM Body=hi
	assert_output 400
}

@test "WhatsApp To is accepted" {
	run send To=whatsapp:+15005550010 From=whatsapp:$FROM Body=hi
	assert_output 201
	run body .to
	assert_output whatsapp:+15005550010
}

@test "form escapes and plus decode" {
	run post -u "$SID:$TOKEN" --data-binary \
	    'To=%2B15005550010&From=%2b15005550006&Body=a+b%26c%2Bd%3D%C3%A9' \
	    "$URL"
	assert_output 201
	run body .body
	assert_output 'a b&c+d=é'
	run logged 1 .form.Body
	assert_output '"a b&c+d=é"'
}

@test "bad percent escape returns 400" {
	run post -u "$SID:$TOKEN" --data-binary \
	    'To=%2B15005550010&From=%2B15005550006&Body=100%' "$URL"
	assert_output 400
	run body .message
	assert_output --partial "percent escape"
}

@test "scripted error hits one recipient" {
	start_fake \
	    "to=+15005550009 error 400 21610 Attempt to send to unsubscribed recipient"
	run send To=+15005550010 From=$FROM Body=hi
	assert_output 201
	run send To=+15005550009 From=$FROM Body=hi
	assert_output 400
	run body '[.code, .status, .message, .more_info] | join(" ")'
	assert_output "21610 400 Attempt to send to unsubscribed recipient https://www.twilio.com/docs/errors/21610"
	run send To=+15005550009 From=$FROM Body=hi
	assert_output 201
}

@test "always rule repeats for recipient" {
	start_fake \
	    "always to=+15005550001 error 400 21610 Attempt to send to unsubscribed recipient"
	run send To=+15005550001 From=$FROM Body=one
	assert_output 400
	run send To=+15005550001 From=$FROM Body=two
	assert_output 400
	run body .code
	assert_output 21610
	run send To=+15005550010 From=$FROM Body=three
	assert_output 201
}

@test "429 sends Retry-After then success" {
	start_fake "status 429 retry-after 1"
	run send To=+15005550010 From=$FROM Body=hi
	assert_output 429
	run grep -i '^retry-after: 1' head.txt
	assert_success
	run jq -c . body.json
	assert_output '{"code":20429,"message":"Too Many Requests","status":429}'
	run send To=+15005550010 From=$FROM Body=hi
	assert_output 201
}

@test "500 then success" {
	start_fake "error 500 20500 Internal Server Error"
	run send To=+15005550010 From=$FROM Body=hi
	assert_output 500
	run body '[.code, .status] | join(" ")'
	assert_output "20500 500"
	run send To=+15005550010 From=$FROM Body=hi
	assert_output 201
}

@test "drop closes without a response" {
	start_fake drop ok
	run send To=+15005550010 From=$FROM Body=hi
	assert_failure 52
	run send To=+15005550010 From=$FROM Body=hi
	assert_output 201
	run logged 1 '[.response_status, .sid]'
	assert_output '[null,null]'
}

@test "slow answer leaves others unblocked" {
	local slow elapsed

	start_fake "slow 2"
	curl -sS --max-time 5 -o slow.json -w '%{http_code} %{time_total}' \
	    -u "$SID:$TOKEN" --data-urlencode To=+15005550010 \
	    --data-urlencode From=$FROM --data-urlencode Body=slow \
	    "$URL" >slow.txt 3>&- &
	slow=$!
	wait_for_log 1
	run curl -sS --max-time 5 -o fast.json \
	    -w '%{http_code} %{time_total}' -u "$SID:$TOKEN" \
	    --data-urlencode To=+15005550011 --data-urlencode From=$FROM \
	    --data-urlencode Body=fast "$URL"
	assert_output --regexp '^201 0\.'
	[ ! -s slow.txt ]
	wait "$slow"
	run cat slow.txt
	assert_output --regexp '^201 [0-9.]+$'
	elapsed=$(cut -d' ' -f2 slow.txt)
	[ "$(jq -n "$elapsed >= 1.9 and $elapsed < 4")" = true ]
}

@test "parallel requests all succeed" {
	local i pids=()

	for i in $(seq 10 25); do
		curl -sS --max-time 5 -o "par$i.json" -w '%{http_code}\n' \
		    -u "$SID:$TOKEN" --data-urlencode "To=+150055500$i" \
		    --data-urlencode From=$FROM --data-urlencode Body=hi \
		    "$URL" >"par$i.txt" 3>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	run sort -u par*.txt
	assert_output 201
	run jq -r .sid par*.json
	[ "$(sort -u <<<"$output" | wc -l)" -eq 16 ]
}

@test "repeated MediaUrl logged as array" {
	run send To=+15005550010 From=$FROM Body=pics \
	    MediaUrl=https://example.com/a.jpg \
	    MediaUrl=https://example.com/b.png
	assert_output 201
	run body .num_media
	assert_output 2
	run logged 1 .form.MediaUrl
	assert_output '["https://example.com/a.jpg","https://example.com/b.png"]'
	run logged 1 .form.Body
	assert_output '"pics"'
}

@test "log has one line per request" {
	send To=+15005550010 From=$FROM Body=hi >/dev/null
	post "$URL" >/dev/null
	post -u "$SID:$TOKEN" "$BASE/elsewhere" >/dev/null
	run wc -l <log.ndjson
	assert_output 3
	run jq -c '[.method, .response_status, .authorized]' log.ndjson
	assert_output "$(printf '%s\n' '["POST",201,true]' '["GET",401,false]' \
	    '["GET",404,true]')"
	run logged 1 '[.path, .sid]'
	assert_output "[\"/2010-04-01/Accounts/$SID/Messages.json\",\"SM00000000000000000000000000000001\"]"
	run logged 2 .sid
	assert_output null
	run jq -r .at log.ndjson
	assert_line --index 0 --regexp \
	    '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
}

@test "keep-alive reuses one connection" {
	run curl -sS --max-time 5 -o /dev/null -o /dev/null \
	    -w '%{http_code} %{num_connects}\n' -u "$SID:$TOKEN" \
	    --data-urlencode To=+15005550010 --data-urlencode From=$FROM \
	    --data-urlencode Body=hi "$URL" "$URL"
	assert_line --index 0 "201 1"
	assert_line --index 1 "201 0"
}

@test "Connection close is honoured" {
	run post -H 'Connection: close' -u "$SID:$TOKEN" \
	    --data-urlencode To=+15005550010 --data-urlencode From=$FROM \
	    --data-urlencode Body=hi "$URL"
	assert_output 201
	run grep -i '^connection: close' head.txt
	assert_success
}

@test "pipelined requests answered in order" {
	local form='To=%2B15005550010&From=%2B15005550006&Body=hi'
	local head="POST /2010-04-01/Accounts/$SID/Messages.json HTTP/1.1"
	local auth

	auth=$(printf '%s:%s' "$SID" "$TOKEN" | base64 -w0)
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	printf '%s\r\nAuthorization: Basic %s\r\nContent-Length: %d\r\n\r\n%s' \
	    "$head" "$auth" "${#form}" "$form" >&5
	printf '%s\r\nAuthorization: Basic %s\r\nConnection: close\r\n' \
	    "$head" "$auth" >&5
	printf 'Content-Length: %d\r\n\r\n%s' "${#form}" "$form" >&5
	run timeout 5 cat <&5
	exec 5<&-
	assert_success
	# A body has no final newline, so the second status line follows it.
	run grep -o 'HTTP/1.1 201 Created' <<<"$output"
	assert_output "$(printf 'HTTP/1.1 201 Created\nHTTP/1.1 201 Created')"
	run grep -o 'SM0*[12]"' log.ndjson
	assert_output "$(printf '%s\n' 'SM00000000000000000000000000000001"' \
	    'SM00000000000000000000000000000002"')"
}

@test "large body gets 100 Continue" {
	local text

	text=$(printf 'x%.0s' $(seq 1500))
	run curl -sS --max-time 5 -o body.json -D head.txt \
	    -w '%{http_code} %{time_total}' -u "$SID:$TOKEN" \
	    --data-urlencode To=+15005550010 --data-urlencode From=$FROM \
	    --data-urlencode "Body=$text" -H 'Expect: 100-continue' "$URL"
	assert_output --regexp '^201 0\.[0-8]'
	run grep -c '^HTTP/1.1 100 Continue' head.txt
	assert_output 1
}

@test "chunked body returns 411" {
	run post -H 'Transfer-Encoding: chunked' -u "$SID:$TOKEN" \
	    --data-urlencode To=+15005550010 "$URL"
	assert_output 411
	run grep -i '^connection: close' head.txt
	assert_success
}

@test "oversized body returns 413" {
	head -c 65537 /dev/zero | tr '\0' a >big.txt
	run post -u "$SID:$TOKEN" --data-binary @big.txt "$URL"
	assert_output 413
}

@test "oversized header returns 431" {
	local big

	big=$(head -c 17000 /dev/zero | tr '\0' a)
	run post -u "$SID:$TOKEN" -H "X-Padding: $big" "$URL"
	assert_output 431
}

@test "script syntax error stops startup" {
	printf 'ok\nbogus 1\n' >bad-script
	run timeout 5 "$FAKE" --port-file port2 --log log2 --script bad-script
	assert_failure 65
	assert_output --partial 'bad-script:2: unknown action "bogus"'
	[ ! -e port2 ]
}

@test "SIGTERM stops the server cleanly" {
	local status=0

	stop_fake || status=$?
	[ "$status" -eq 0 ]
	run cat fake.err
	assert_line --index 1 "fake-twilio: stopped by SIGTERM after 0 requests"
}
