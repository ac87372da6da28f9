#!/usr/bin/env bats
# convo-webhook: signature checks, responses and recording, run as a CGI
# program directly and behind a real lighttpd on 127.0.0.1.

load helper

TOKEN=test-auth-token
# Twilio signs the public URL, which differs from the local one here.
PUBLIC_URL=https://hooks.example.com/twilio
BRAND=+12025550140

setup() {
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE
	unset CONVO_ACCOUNT CONVO_HOME TWILIO_AUTH_TOKEN CONVO_WEBHOOK_REPLY
	TEST_DB="t_$$_${BATS_SUITE_TEST_NUMBER}"
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "CREATE DATABASE $TEST_DB TEMPLATE convo_template" >/dev/null
	export CONVO_DB="$CONVO_TEST_SERVER dbname=$TEST_DB"
	cd "$BATS_TEST_TMPDIR"
	printf '%s\n' "$TOKEN" >token
	chmod 600 token
	{
		echo "# convo-webhook settings for the tests"
		echo "CONVO_DB=\"$CONVO_DB\""
		echo "CONVO_WEBHOOK_URL=$PUBLIC_URL"
		echo "CONVO_TWILIO_AUTH_TOKEN_FILE=$BATS_TEST_TMPDIR/token"
	} >webhook.conf
	chmod 600 webhook.conf
	export CONVO_WEBHOOK_CONFIG=$BATS_TEST_TMPDIR/webhook.conf
}

teardown() {
	if [ -n "${LIGHTTPD_PID:-}" ]; then
		kill "$LIGHTTPD_PID" 2>/dev/null || true
		wait "$LIGHTTPD_PID" 2>/dev/null || true
	fi
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" >/dev/null
	check_sanitizers
}

# Print the signature of a request to URL (default the public one) with
# the parameters on standard input, one "name<TAB>value" a line, signed
# with KEY (default the auth token) by ALGORITHM (default sha1).
signature() {
	local url=${1:-$PUBLIC_URL} key=${2:-$TOKEN} alg=${3:-sha1} k v
	{
		printf '%s' "$url"
		LC_ALL=C sort -u | while IFS=$'\t' read -r k v; do
			printf '%s%s' "$k" "$v"
		done
	} | openssl dgst -"$alg" -hmac "$key" -binary | base64
}

# Build a webhook from NAME=VALUE arguments: its parameters as
# "name<TAB>value" lines in PARAMS, its form body in BODY and its
# signature for the public URL in SIG.
webhook() {
	PARAMS=$(printf '%s\n' "$@" | sed 's/=/\t/')
	BODY=$(jq -nrR '[inputs | split("\t")
	    | "\(.[0] | @uri)=\(.[1:] | join("\t") | @uri)"] | join("&")' \
	    <<<"$PARAMS")
	SIG=$(signature <<<"$PARAMS")
}

# An inbound text from PHONE with BODY and message id SID.
inbound() {
	webhook "MessageSid=$3" AccountSid=AC00000000000000000000000000000001 \
	    "From=$1" "To=$BRAND" "Body=$2" NumMedia=0 SmsStatus=received \
	    ApiVersion=2010-04-01 ToCity= FromCountry=US
}

# Run convo-webhook as a web server runs a CGI program, with BODY on its
# standard input and SIG as X-Twilio-Signature. Extra NAME=VALUE
# arguments go into its environment.
cgi() {
	env REQUEST_METHOD=POST \
	    CONTENT_TYPE=application/x-www-form-urlencoded \
	    CONTENT_LENGTH="$(printf '%s' "$BODY" | wc -c)" \
	    HTTP_X_TWILIO_SIGNATURE="$SIG" "$@" \
	    convo-webhook <<<"$BODY"
}

# Print the HTTP status of a CGI response in $output.
cgi_status() {
	sed -n 's/^Status: \([0-9]*\).*/\1/p' <<<"$output" | head -1
}

messages() {
	sql "SELECT count(*) FROM convo.messages"
}

# Build a JSON webhook with body $1 as Twilio sends one: HASH is the hex
# SHA-256 of the body, and SIG signs the public URL with bodySHA256=HASH
# and no parameters, with KEY (default the auth token) by ALGORITHM.
json_webhook() {
	BODY=$1
	HASH=$(printf '%s' "$BODY" | sha256sum | cut -d' ' -f1)
	SIG=$(signature "$PUBLIC_URL?bodySHA256=$HASH" "${2:-$TOKEN}" \
	    "${3:-sha1}" </dev/null)
}

# Run cgi with the JSON webhook that json_webhook built.
cgi_json() {
	cgi CONTENT_TYPE=application/json QUERY_STRING="bodySHA256=$HASH" "$@"
}

# Start lighttpd on 127.0.0.1 with convo-webhook as a CGI program at
# /twilio, on a free port that it tries in turn; sets URL. With the
# argument "example", the site is the shipped example configuration.
start_lighttpd() {
	local try i port site env
	command -v lighttpd >/dev/null ||
		skip "lighttpd is not installed (scripts/install-deps)"
	mkdir -p www
	env="\"CONVO_WEBHOOK_CONFIG\" => \"$CONVO_WEBHOOK_CONFIG\","
	env+=" \"ASAN_OPTIONS\" => \"$ASAN_OPTIONS\","
	env+=" \"LSAN_OPTIONS\" => \"$LSAN_OPTIONS\","
	env+=" \"UBSAN_OPTIONS\" => \"$UBSAN_OPTIONS\","
	if [ "${1:-}" = example ]; then
		site="server.modules = (\"mod_alias\")
		include \"$BATS_TEST_TMPDIR/site.conf\""
		sed -e "s|/usr/local/bin/convo-webhook|$(command -v convo-webhook)|" \
		    -e "s|/var/log/lighttpd/convo-webhook.log|$BATS_TEST_TMPDIR/cgi.log|" \
		    -e "s|\"CONVO_WEBHOOK_CONFIG\" => .*|$env|" \
		    "$BATS_TEST_DIRNAME/../share/convo/examples/lighttpd.conf" \
		    >site.conf
	else
		site="server.modules = (\"mod_alias\", \"mod_cgi\", \"mod_setenv\")
		server.breakagelog = \"$BATS_TEST_TMPDIR/cgi.log\"
		alias.url = (\"/twilio\" => \"$(command -v convo-webhook)\")
		\$HTTP[\"url\"] =~ \"^/twilio\" { cgi.assign = (\"\" => \"\") }
		setenv.add-environment = ($env)"
	fi
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		cat >lighttpd.conf <<-EOF
		$site
		server.document-root = "$BATS_TEST_TMPDIR/www"
		server.bind = "127.0.0.1"
		server.port = $port
		server.errorlog = "$BATS_TEST_TMPDIR/error.log"
		EOF
		lighttpd -D -f lighttpd.conf 2>lighttpd.err &
		LIGHTTPD_PID=$!
		for i in $(seq 50); do
			if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
				URL="http://127.0.0.1:$port/twilio"
				return 0
			fi
			kill -0 "$LIGHTTPD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$LIGHTTPD_PID" 2>/dev/null || true
		wait "$LIGHTTPD_PID" 2>/dev/null || true
		LIGHTTPD_PID=
	done
	fail "lighttpd did not start: $(cat lighttpd.err)"
}

# POST BODY to lighttpd with SIG, to URL with the query $3 if any, as
# type $2 (default a form); print the status, the body to FILE $1.
post() {
	local type=${2:-application/x-www-form-urlencoded}
	curl -s -o "${1:-response}" -w '%{http_code}' --max-time 30 \
	    -H "Content-Type: $type" -H "X-Twilio-Signature: $SIG" \
	    --data-binary "$BODY" "$URL${3:+?$3}"
}

@test "signed inbound text is recorded" {
	inbound +12015550101 "Where is my order?" SMw0001
	run --separate-stderr cgi
	assert_success
	[ "$(cgi_status)" = 200 ]
	assert_output --partial 'Content-Type: text/xml'
	assert_output --partial \
	    '<?xml version="1.0" encoding="UTF-8"?><Response/>'
	[[ $stderr == *"status=200 kind=message result=inserted sid=SMw0001"* ]]
	run sql "SELECT direction, from_address, body FROM convo.messages"
	assert_output "inbound|+12015550101|Where is my order?"
}

@test "log line has no token or signature" {
	inbound +12015550102 "hello" SMw0002
	run --separate-stderr cgi
	[ "$(cgi_status)" = 200 ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ $stderr != *"$TOKEN"* ]]
	[[ $stderr != *"$SIG"* ]]
	SIG=wrong$SIG
	run --separate-stderr cgi
	[ "$(cgi_status)" = 403 ]
	[[ $stderr != *"$TOKEN"* ]]
	[[ $stderr != *"$SIG"* ]]
	[[ $output != *"$TOKEN"* ]]
}

@test "bad signature gets 403, nothing stored" {
	inbound +12015550103 "hello" SMw0003
	local good=$SIG
	SIG=$(printf 'Body\thello\n' | signature)
	run cgi
	[ "$(cgi_status)" = 403 ]
	SIG=$(printf 'x\n' | signature "$PUBLIC_URL" other-token)
	run cgi
	[ "$(cgi_status)" = 403 ]
	SIG=
	run --separate-stderr cgi
	[ "$(cgi_status)" = 403 ]
	[[ $stderr == *'error="missing X-Twilio-Signature"'* ]]
	SIG=$good
	BODY=${BODY/hello/hullo}
	run cgi
	[ "$(cgi_status)" = 403 ]
	run messages
	assert_output 0
}

@test "signature is over the public URL" {
	inbound +12015550104 "hello" SMw0004
	local public=$SIG
	SIG=$(signature "http://127.0.0.1/twilio" <<<"$PARAMS")
	run cgi HTTP_HOST=127.0.0.1 SERVER_NAME=127.0.0.1
	[ "$(cgi_status)" = 403 ]
	SIG=$public
	run cgi HTTP_HOST=attacker.example SERVER_NAME=attacker.example
	[ "$(cgi_status)" = 200 ]
}

@test "default port in URL is accepted" {
	inbound +12015550105 "hello" SMw0005
	SIG=$(signature "https://hooks.example.com:443/twilio" <<<"$PARAMS")
	run cgi
	[ "$(cgi_status)" = 200 ]
	SIG=$(signature "https://hooks.example.com:444/twilio" <<<"$PARAMS")
	run cgi
	[ "$(cgi_status)" = 403 ]
}

@test "request query is signed" {
	inbound +12015550106 "hello" SMw0006
	SIG=$(signature "$PUBLIC_URL?team=a" <<<"$PARAMS")
	run cgi QUERY_STRING=team=b
	[ "$(cgi_status)" = 403 ]
	run cgi
	[ "$(cgi_status)" = 403 ]
	run cgi QUERY_STRING=team=a
	[ "$(cgi_status)" = 200 ]
}

@test "query is signed as the client sent it" {
	inbound +12015550107 "hello" SMw0007
	SIG=$(signature "$PUBLIC_URL?site=caf%c3%a9&t=%7e" <<<"$PARAMS")
	# lighttpd rewrites the escapes of QUERY_STRING but not REQUEST_URI.
	run cgi 'QUERY_STRING=site=caf%C3%A9&t=~' \
	    'REQUEST_URI=/twilio?site=caf%c3%a9&t=%7e'
	[ "$(cgi_status)" = 200 ]
	run cgi 'QUERY_STRING=site=caf%C3%A9&t=~'
	[ "$(cgi_status)" = 403 ]
}

@test "status callback passes outbox row on" {
	inbound +12015550110 "hello" SMw0010
	cgi >/dev/null 2>&1
	sql "INSERT INTO convo.outbox (account_id, idempotency_key, profile_id,
	    channel, to_address, from_address, body, origin, state, provider,
	    encoding, segments, units)
	    SELECT account_id, 'k', profile_id, 'sms', phone, '$BRAND', 'Hi',
	        'conversation', 'sending', 'twilio', 'GSM-7', 1, 2
	    FROM convo.profiles"
	local outbox
	outbox=o_$(sql "SELECT outbox_id FROM convo.outbox")
	webhook MessageSid=SMw0011 MessageStatus=delivered \
	    AccountSid=AC00000000000000000000000000000001 "From=$BRAND" \
	    To=+12015550110 ApiVersion=2010-04-01
	SIG=$(signature "$PUBLIC_URL?convo_outbox=$outbox" <<<"$PARAMS")
	run --separate-stderr cgi QUERY_STRING="convo_outbox=$outbox"
	[ "$(cgi_status)" = 200 ]
	[[ $stderr == *"kind=status result=updated sid=SMw0011"* ]] ||
	    fail "unexpected log line: $stderr"
	run sql "SELECT state, provider_message_id FROM convo.outbox"
	assert_output "sent|SMw0011"
	run sql "SELECT body, status FROM convo.messages
	    WHERE direction = 'outbound'"
	assert_output "Hi|delivered"
	# Another row id in the query is signed too, but not found.
	webhook MessageSid=SMw0012 MessageStatus=delivered To=+12015550110
	SIG=$(signature "$PUBLIC_URL?convo_outbox=o_999" <<<"$PARAMS")
	run --separate-stderr cgi QUERY_STRING=convo_outbox=o_999
	[ "$(cgi_status)" = 200 ]
	[[ $stderr == *"result=pending sid=SMw0012"* ]] ||
	    fail "unexpected log line: $stderr"
	run sql "SELECT count(*) FROM convo.messages WHERE direction = 'outbound'"
	assert_output "1"
	# A malformed row id gets 400 and names the value.
	SIG=$(signature "$PUBLIC_URL?convo_outbox=x9" <<<"$PARAMS")
	run --separate-stderr cgi QUERY_STRING=convo_outbox=x9
	[ "$(cgi_status)" = 400 ]
	assert_output --partial 'invalid outbox_id "x9"'
	[[ $stderr == *"status=400 kind=status result=rejected sid=SMw0012"* ]] ||
	    fail "unexpected log line: $stderr"
}

@test "verbose log times the record step" {
	inbound +12015550114 "hello" SMw0014
	run --separate-stderr env REQUEST_METHOD=POST \
	    CONTENT_TYPE=application/x-www-form-urlencoded \
	    CONTENT_LENGTH="$(printf '%s' "$BODY" | wc -c)" \
	    HTTP_X_TWILIO_SIGNATURE="$SIG" convo-webhook -v <<<"$BODY"
	[ "$(cgi_status)" = 200 ] || fail "$output $stderr"
	[[ $stderr == *'convo-webhook: record: '*' ms'* ]] || fail "$stderr"
}

@test "log names the sid of an older form" {
	webhook SmsMessageSid=SMw0013 SmsSid=SMw0013 SmsStatus=received \
	    From=+12015550113 "To=$BRAND" Body=hello NumMedia=0
	run --separate-stderr cgi
	[ "$(cgi_status)" = 200 ]
	[[ $stderr == *"kind=message result=inserted sid=SMw0013"* ]] ||
	    fail "unexpected log line: $stderr"
}

@test "redelivery gets 200, stored once" {
	inbound +12015550107 "hello" SMw0007
	run --separate-stderr cgi
	[ "$(cgi_status)" = 200 ]
	[[ $stderr == *"result=inserted"* ]]
	run --separate-stderr cgi
	[ "$(cgi_status)" = 200 ]
	[[ $stderr == *"result=duplicate"* ]]
	run messages
	assert_output 1
	run sql "SELECT unread_count FROM convo.conversations"
	assert_output 1
}

@test "received time is the request time" {
	inbound +12015550108 "hello" SMw0008
	local before after
	before=$(date +%s)
	run cgi
	after=$(date +%s)
	[ "$(cgi_status)" = 200 ]
	run sql "SELECT floor(extract(epoch FROM sent_at))::bigint
	    FROM convo.messages"
	[ "$output" -ge "$before" ]
	[ "$output" -le "$after" ]
}

@test "non-POST gets 405" {
	inbound +12015550109 "hello" SMw0009
	run cgi REQUEST_METHOD=GET
	[ "$(cgi_status)" = 405 ]
	assert_output --partial 'Allow: POST'
	run cgi REQUEST_METHOD=HEAD
	[ "$(cgi_status)" = 405 ]
	run messages
	assert_output 0
}

@test "body over 64 KiB gets 413" {
	inbound +12015550110 "hello" SMw0010
	BODY="$BODY&Pad=$(head -c 65536 /dev/zero | tr '\0' a)"
	run cgi
	[ "$(cgi_status)" = 413 ]
	run cgi CONTENT_LENGTH=
	[ "$(cgi_status)" = 413 ]
	run cgi CONTENT_LENGTH=100000000000000000000
	[ "$(cgi_status)" = 413 ]
	run messages
	assert_output 0
}

@test "missing auth token before missing signature" {
	inbound +12015550119 "hello" SMw0019
	SIG=
	run --separate-stderr cgi CONVO_TWILIO_AUTH_TOKEN_FILE=/nonexistent
	[ "$(cgi_status)" = 500 ]
	[[ $stderr == *'auth token file: '*'/nonexistent'* ]] || fail "$stderr"
}

@test "short or invalid length gets 400" {
	inbound +12015550111 "hello" SMw0011
	run cgi CONTENT_LENGTH=-1
	[ "$(cgi_status)" = 400 ]
	run cgi CONTENT_LENGTH=5000
	[ "$(cgi_status)" = 400 ]
	assert_output --partial "request body ended after"
}

@test "malformed signed body gets 400" {
	webhook MessageSid=SMw0012 Body=hi From=+12015550112 To=$BRAND
	BODY="$BODY&Bad=%zz"
	SIG=$(signature <<<"$PARAMS"$'\nBad\t%zz')
	run --separate-stderr cgi
	[ "$(cgi_status)" = 400 ]
	[[ $stderr == *'status=400 error="invalid percent escape at byte 1 of the value of parameter \"Bad\""'* ]] ||
	    fail "$stderr"
	webhook MessageSid=SMw0013 From=+12015550112 To=$BRAND
	run --separate-stderr cgi
	[ "$(cgi_status)" = 400 ]
	[[ $stderr == *'status=400 sid=SMw0013 error="missing parameter'* ]]
	run messages
	assert_output 0
}

@test "other content type gets 415" {
	inbound +12015550114 "hello" SMw0014
	run cgi CONTENT_TYPE=text/plain
	[ "$(cgi_status)" = 415 ]
	run cgi "CONTENT_TYPE=application/x-www-form-urlencoded; charset=UTF-8"
	[ "$(cgi_status)" = 200 ]
}

@test "JSON webhook recorded once" {
	json_webhook "$(cat "$FIXTURES/webhook-inbound.json")"
	run --separate-stderr cgi_json
	[ "$(cgi_status)" = 200 ]
	assert_output --partial \
	    '<?xml version="1.0" encoding="UTF-8"?><Response/>'
	[[ $stderr == *"status=200 kind=message result=inserted"* ]]
	[[ $stderr == *"sid=SMj0000000000000000000000000000001"* ]]
	run --separate-stderr cgi_json
	[ "$(cgi_status)" = 200 ]
	[[ $stderr == *"result=duplicate"* ]]
	run messages
	assert_output 1
	run sql "SELECT direction, from_address, to_address, body,
	    provider_message_id FROM convo.messages"
	assert_output "inbound|+12015550150|+12025550140|Is the blue one back \
in stock? $(printf '\303\251t\303\251')|SMj0000000000000000000000000000001"
}

@test "JSON and form of one message stored once" {
	inbound +12015550151 "hello" SMj0002
	run cgi
	[ "$(cgi_status)" = 200 ]
	# The same parameters as a JSON object of strings.
	json_webhook "$(jq -cnR '[inputs | split("\t")
	    | {(.[0]): (.[1:] | join("\t"))}] | add' <<<"$PARAMS")"
	run --separate-stderr cgi_json
	[ "$(cgi_status)" = 200 ]
	[[ $stderr == *"result=duplicate sid=SMj0002"* ]]
	run messages
	assert_output 1
}

@test "bodySHA256 mismatch gets 403, nothing stored" {
	json_webhook "$(cat "$FIXTURES/webhook-inbound.json")"
	BODY=${BODY/blue/red}
	run --separate-stderr cgi_json
	[ "$(cgi_status)" = 403 ]
	[[ $stderr == *'error="bodySHA256 in the URL does not match'* ]]
	# A hash that matches the changed body breaks the signature.
	HASH=$(printf '%s' "$BODY" | sha256sum | cut -d' ' -f1)
	run --separate-stderr cgi_json
	[ "$(cgi_status)" = 403 ]
	[[ $stderr == *'error="invalid signature"'* ]]
	run messages
	assert_output 0
}

@test "JSON signed without bodySHA256 gets 403" {
	json_webhook "$(cat "$FIXTURES/webhook-inbound.json")"
	# The URL alone, as a JSON webhook is signed, but with no hash in it.
	SIG=$(signature "$PUBLIC_URL" </dev/null)
	run --separate-stderr cgi CONTENT_TYPE=application/json
	[ "$(cgi_status)" = 403 ]
	[[ $stderr == *'error="JSON body without a bodySHA256 parameter'* ]]
	# The hash in a query that was not signed.
	run --separate-stderr cgi_json
	[ "$(cgi_status)" = 403 ]
	[[ $stderr == *'error="invalid signature"'* ]]
	run messages
	assert_output 0
}

@test "JSON of unknown shape gets 422" {
	local body want
	while IFS='|' read -r body want; do
		json_webhook "$body"
		run --separate-stderr cgi_json
		[ "$(cgi_status)" = 422 ] ||
			fail "$body: status $(cgi_status), expected 422"
		[[ $stderr == *"error=\"JSON body is not a Twilio $want"* ]] ||
			fail "$body: log \"$stderr\", expected \"$want\""
	done <<-'EOF'
	[{"MessageSid":"SMj0003","Body":"hi"}]|webhook: expected a JSON object of webhook parameters, not array
	"MessageSid"|webhook: expected a JSON object of webhook parameters, not string
	{"CallSid":"CA0001","From":"+12015550153"}|message or status callback: missing parameter \"MessageSid\"
	{"MessageSid":"SMj0004","From":"+12015550154","To":"+12025550140"}|message or status callback: missing parameter \"Body\" or \"MessageStatus\"
	{"MessageSid":"SMj0005","Body":"hi","NumMedia":2.5,"From":"+12015550155","To":"+12025550140"}|message or status callback: invalid parameter \"NumMedia\"
	EOF
	run messages
	assert_output 0
}

@test "invalid JSON gets 400" {
	json_webhook '{"MessageSid":"SMj0006","Body":'
	run --separate-stderr cgi_json
	[ "$(cgi_status)" = 400 ]
	[[ $stderr == *'error="invalid JSON body: '* ]]
	json_webhook "$(printf '{"MessageSid":"SMj0007","Body":"\377"}')"
	run --separate-stderr cgi_json
	[ "$(cgi_status)" = 400 ]
	[[ $stderr == *'error="invalid UTF-8 in the JSON body"'* ]]
	json_webhook ''
	run --separate-stderr cgi_json
	[ "$(cgi_status)" = 400 ]
	run messages
	assert_output 0
}

@test "JSON body over 64 KiB gets 413" {
	json_webhook "{\"MessageSid\":\"SMj0008\",\"Body\":\"hi\",\
\"From\":\"+12015550158\",\"To\":\"$BRAND\",\
\"Pad\":\"$(head -c 65536 /dev/zero | tr '\0' a)\"}"
	run --separate-stderr cgi_json
	[ "$(cgi_status)" = 413 ]
	[[ $stderr == *'error="request body of 65'*'bytes is over the limit'* ]]
	run cgi_json CONTENT_LENGTH=
	[ "$(cgi_status)" = 413 ]
	run messages
	assert_output 0
}

@test "shared key signs with HMAC-SHA256" {
	printf '# previous key\nKS_old old-secret\nKS_new new-secret\n' \
	    >shared-keys
	chmod 600 shared-keys
	echo "CONVO_TWILIO_SHARED_KEY_FILE=$BATS_TEST_TMPDIR/shared-keys" \
	    >>webhook.conf
	inbound +12015550117 "hello" SMw0017
	SIG=$(signature "$PUBLIC_URL" new-secret sha256 <<<"$PARAMS")
	local h=HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS
	run cgi "$h=key=KS_new,algorithm=HMAC_SHA256"
	[ "$(cgi_status)" = 200 ]
	run cgi "$h=key=KS_old,algorithm=HMAC_SHA256"
	[ "$(cgi_status)" = 403 ]
	run cgi "$h=key=KS_new,algorithm=HMAC_MD5"
	[ "$(cgi_status)" = 403 ]
	SIG=$(signature "$PUBLIC_URL" "$TOKEN" sha256 <<<"$PARAMS")
	run cgi "$h=key=KS_new,algorithm=HMAC_SHA256"
	[ "$(cgi_status)" = 403 ]
	run messages
	assert_output 1
}

@test "shared key without key configured" {
	inbound +12015550118 "hello" SMw0018
	local h=HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS
	# Any client can send the header, so this is no server error.
	run --separate-stderr cgi "$h=key=K,algorithm=HMAC_SHA256"
	[ "$(cgi_status)" = 403 ]
	[[ $stderr == *"signed with a shared key, but no shared key is configured"* ]]
	[[ $output != *CONVO_TWILIO_SHARED_KEY* ]]
	run --separate-stderr cgi "$h=key=K,algorithm=HMAC_SHA256" \
	    CONVO_TWILIO_SHARED_KEY=
	[ "$(cgi_status)" = 500 ]
	[[ $stderr == *"CONVO_TWILIO_SHARED_KEY is empty"* ]]
	run messages
	assert_output 0
}

@test "shared key from environment or config" {
	local h=HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS
	inbound +12015550159 "hello" SMw0059
	SIG=$(signature "$PUBLIC_URL" env-secret sha256 <<<"$PARAMS")
	run cgi "$h=key=KS_any,algorithm=HMAC_SHA256" \
	    CONVO_TWILIO_SHARED_KEY=env-secret
	[ "$(cgi_status)" = 200 ]
	# The file's key yields to the environment, as the auth token does.
	echo "CONVO_TWILIO_SHARED_KEY=conf-secret" >>webhook.conf
	inbound +12015550160 "hello" SMw0060
	SIG=$(signature "$PUBLIC_URL" conf-secret sha256 <<<"$PARAMS")
	run cgi "$h=key=KS_any,algorithm=HMAC_SHA256"
	[ "$(cgi_status)" = 200 ]
	run cgi "$h=key=KS_any,algorithm=HMAC_SHA256" \
	    CONVO_TWILIO_SHARED_KEY=env-secret
	[ "$(cgi_status)" = 403 ]
	# A key file wins over the variable.
	echo "file-secret" >shared-keys
	chmod 600 shared-keys
	run cgi "$h=key=KS_any,algorithm=HMAC_SHA256" \
	    CONVO_TWILIO_SHARED_KEY_FILE="$BATS_TEST_TMPDIR/shared-keys"
	[ "$(cgi_status)" = 403 ]
	run messages
	assert_output 2
}

@test "JSON signed with HMAC-SHA256 shared key" {
	local h=HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS
	echo "CONVO_TWILIO_SHARED_KEY=json-secret" >>webhook.conf
	json_webhook "$(cat "$FIXTURES/webhook-inbound.json")" \
	    json-secret sha256
	run --separate-stderr cgi_json "$h=key=KS_json,algorithm=HMAC_SHA256"
	[ "$(cgi_status)" = 200 ]
	[[ $stderr == *"result=inserted"* ]]
	# Signed with the auth token, or by SHA-1, or announced as SHA-1.
	json_webhook "$BODY" "$TOKEN" sha256
	run cgi_json "$h=key=KS_json,algorithm=HMAC_SHA256"
	[ "$(cgi_status)" = 403 ]
	json_webhook "$BODY" json-secret sha1
	run cgi_json "$h=key=KS_json,algorithm=HMAC_SHA256"
	[ "$(cgi_status)" = 403 ]
	json_webhook "$BODY" json-secret sha256
	run cgi_json "$h=key=KS_json,algorithm=HMAC_SHA1"
	[ "$(cgi_status)" = 403 ]
	# Without the header the auth token and SHA-1 apply.
	run cgi_json
	[ "$(cgi_status)" = 403 ]
	run messages
	assert_output 1
}

@test "settings and key files must be private" {
	inbound +12015550125 "hello" SMw0025
	chmod 644 webhook.conf
	run --separate-stderr cgi
	[ "$(cgi_status)" = 500 ]
	# The log line escapes the quotes around the file name.
	[[ $stderr == *'webhook.conf\" has mode 0644'* ]] ||
	    fail "no mode in: $stderr"
	[[ $output != *webhook.conf* ]] || fail "path shown to the client"
	chmod 600 webhook.conf
	chmod 640 token
	run --separate-stderr cgi
	[ "$(cgi_status)" = 500 ]
	[[ $stderr == *'/token\" has mode 0640'* ]] ||
	    fail "no mode in: $stderr"
	[[ $stderr != *"$TOKEN"* ]] || fail "token in the log: $stderr"
	chmod 600 token
	printf 'KS_new new-secret\n' >shared-keys
	chmod 606 shared-keys
	echo "CONVO_TWILIO_SHARED_KEY_FILE=$BATS_TEST_TMPDIR/shared-keys" \
	    >>webhook.conf
	SIG=$(signature "$PUBLIC_URL" new-secret sha256 <<<"$PARAMS")
	local h=HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS
	run --separate-stderr cgi "$h=key=KS_new,algorithm=HMAC_SHA256"
	[ "$(cgi_status)" = 500 ]
	[[ $stderr == *'shared-keys\" has mode 0606'* ]] ||
	    fail "no mode in: $stderr"
	[[ $stderr != *new-secret* ]] || fail "key in the log: $stderr"
	run messages
	assert_output 0
	chmod 600 shared-keys
	run cgi "$h=key=KS_new,algorithm=HMAC_SHA256"
	[ "$(cgi_status)" = 200 ]
	run messages
	assert_output 1
}

@test "keyword reply as TwiML, escaped" {
	convo-keywords settings --brand 'Tom & Jerry <shop>' >/dev/null
	inbound +12015550119 "STOP" SMw0019
	run cgi
	[ "$(cgi_status)" = 200 ]
	assert_output --partial '<Response/>'
	inbound +12015550120 "STOP" SMw0020
	run --separate-stderr cgi CONVO_WEBHOOK_REPLY=twiml
	[ "$(cgi_status)" = 200 ]
	assert_output --partial \
	    '<Response><Message>Tom &amp; Jerry &lt;shop&gt;: You are unsub'
	[[ $stderr == *"reply=twiml"* ]]
	run sql "SELECT status FROM convo.consent ORDER BY 1"
	assert_output "$(printf 'unsubscribed\nunsubscribed')"
	# Twilio sends the TwiML reply; only the other waits in the outbox.
	run sql "SELECT idempotency_key, state FROM convo.outbox"
	assert_output "r:SMw0019|queued"
}

@test "STOP answered in TwiML is confirmed once" {
	inbound +12015550126 "STOP" SMw0026
	run --separate-stderr cgi CONVO_WEBHOOK_REPLY=twiml
	[ "$(cgi_status)" = 200 ]
	assert_output --partial '<Message>'
	# An older STOP of the same customer, recorded after the webhook.
	printf '{"type":"message","direction":"inbound","from":"+12015550126","to":"%s","body":"STOP","provider_message_id":"SMw0024","sent_at":"%s"}\n' \
	    "$BRAND" "$(date -u -d '10 minutes ago' +%Y-%m-%dT%H:%M:%SZ)" |
	    convo-ingest -q >late.ndjson
	run jq -s 'map(select(.type == "send")) | length' late.ndjson
	assert_output "0"
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output "0"
}

@test "blocked conversation gets no TwiML reply" {
	inbound +12015550127 "Where is my order?" SMw0027
	run cgi
	[ "$(cgi_status)" = 200 ]
	convo-mark -q --block +12015550127 >/dev/null
	# convo-send sends a blocked conversation no keyword reply, so the
	# TwiML response must not carry one either.
	inbound +12015550127 "HELP" SMw0028
	run --separate-stderr cgi CONVO_WEBHOOK_REPLY=twiml
	[ "$(cgi_status)" = 200 ]
	assert_output --partial '<Response/>'
	refute_output --partial '<Message>'
	# The block covers the customer's other channels too.
	inbound whatsapp:+12015550127 "HELP" SMw0029
	run --separate-stderr cgi CONVO_WEBHOOK_REPLY=twiml
	[ "$(cgi_status)" = 200 ]
	assert_output --partial '<Response/>'
	refute_output --partial '<Message>'
	# An unblocked customer gets the reply.
	inbound +12015550128 "HELP" SMw0030
	run --separate-stderr cgi CONVO_WEBHOOK_REPLY=twiml
	[ "$(cgi_status)" = 200 ]
	assert_output --partial '<Message>'
}

@test "custom keyword reply waits for consent checks" {
	convo-keywords add HOURS --action custom --reply 'Open 9-5' >/dev/null
	inbound +12015550125 "STOP" SMw0025
	run cgi CONVO_WEBHOOK_REPLY=twiml
	[ "$(cgi_status)" = 200 ]
	assert_output --partial '<Message>'
	# The custom reply would reach a customer who is unsubscribed, so
	# it waits in the outbox for the checks of convo-send --queued.
	inbound +12015550125 "HOURS" SMw0026
	run --separate-stderr cgi CONVO_WEBHOOK_REPLY=twiml
	[ "$(cgi_status)" = 200 ]
	assert_output --partial '<Response/>'
	refute_output --partial 'Open 9-5'
	[[ $stderr == *"reply=not-sent"* ]]
	run sql "SELECT idempotency_key, state, body FROM convo.outbox"
	assert_output "r:SMw0026|queued|Open 9-5"
}

@test "database down gets 503" {
	inbound +12015550121 "hello" SMw0021
	run --separate-stderr cgi \
	    "CONVO_DB=host=$BATS_TEST_TMPDIR/none dbname=x"
	[ "$(cgi_status)" = 503 ]
	[[ $stderr == *"status=503"* ]]
	[[ $output != *"$BATS_TEST_TMPDIR"* ]]
}

@test "busy database gets 503 in time" {
	inbound +12015550123 "STOP" SMw0023
	# Another session holds the profiles while the webhook waits.
	psql -X -q "$CONVO_DB" -c 'BEGIN' \
	    -c 'LOCK TABLE convo.profiles IN ACCESS EXCLUSIVE MODE' \
	    -c 'SELECT pg_sleep(20)' &
	local holder=$! i
	for ((i = 0; i < 100; i++)); do
		[ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_class c
		    ON c.oid = l.relation WHERE c.relname = 'profiles'
		    AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ] &&
		    break
		sleep 0.1
	done
	run --separate-stderr cgi CONVO_WEBHOOK_TIMEOUT=1
	sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	    WHERE query = 'SELECT pg_sleep(20)'" >/dev/null
	wait "$holder" || true
	[ "$(cgi_status)" = 503 ]
	[[ $stderr == *'status=503'*'no answer from the database within CONVO_WEBHOOK_TIMEOUT=1 seconds'* ]] ||
	    fail "$stderr"
	run messages
	assert_output 0
	# Twilio's retry then records it.
	run --separate-stderr cgi
	[ "$(cgi_status)" = 200 ]
	run messages
	assert_output 1
}

@test "silent database server gets 503 in time" {
	local fake i
	inbound +12015550125 "hello" SMw0025
	# The fake Twilio API accepts the connection and never answers it.
	"$FAKE_TWILIO" --port-file port --log fake.log 2>/dev/null 3>&- &
	fake=$!
	for ((i = 0; i < 50; i++)); do
		[ -s port ] && break
		sleep 0.1
	done
	run --separate-stderr cgi CONVO_WEBHOOK_TIMEOUT=1 \
	    "CONVO_DB=host=127.0.0.1 port=$(cat port) dbname=x sslmode=disable"
	kill "$fake"
	wait "$fake" || true
	[ "$(cgi_status)" = 503 ]
	[[ $stderr =~ ^'convo-webhook: status=503 sid=SMw0025 error="no answer from the database within CONVO_WEBHOOK_TIMEOUT" ms='[0-9]+$ ]] ||
	    fail "$stderr"
}

@test "slow request body gets 503 in time" {
	inbound +12015550126 "hello" SMw0026
	run --separate-stderr bash -c 'sleep 3 | env REQUEST_METHOD=POST \
	    CONTENT_TYPE=application/x-www-form-urlencoded CONTENT_LENGTH=100 \
	    CONVO_WEBHOOK_TIMEOUT=1 HTTP_X_TWILIO_SIGNATURE=x convo-webhook'
	[ "$(cgi_status)" = 503 ]
	[[ $stderr =~ 'error="request not read within CONVO_WEBHOOK_TIMEOUT" ms=' ]] ||
	    fail "$stderr"
}

@test "invalid timeout is a configuration error" {
	inbound +12015550124 "hello" SMw0024
	run --separate-stderr cgi CONVO_WEBHOOK_TIMEOUT=0
	[ "$(cgi_status)" = 500 ]
	[[ $stderr == *'CONVO_WEBHOOK_TIMEOUT \"0\" is invalid: expected whole seconds from 1 to 600'* ]] ||
	    fail "$stderr"
}

@test "configuration errors get 500" {
	inbound +12015550122 "hello" SMw0022
	echo "CONVO_SURPLUS" >>webhook.conf
	run --separate-stderr cgi
	[ "$(cgi_status)" = 500 ]
	[[ $stderr == *"line 5: expected NAME=VALUE"* ]]
	sed -i '$d' webhook.conf
	echo "HOME=/tmp" >>webhook.conf
	run --separate-stderr cgi
	[ "$(cgi_status)" = 500 ]
	[[ $stderr == *'unknown setting \"HOME\"'* ]]
	run --separate-stderr cgi CONVO_WEBHOOK_CONFIG=/nonexistent
	[ "$(cgi_status)" = 500 ]
	run --separate-stderr cgi CONVO_WEBHOOK_CONFIG= CONVO_DB= \
	    CONVO_WEBHOOK_URL=$PUBLIC_URL TWILIO_AUTH_TOKEN=$TOKEN
	[ "$(cgi_status)" = 500 ]
	[[ $stderr == *"no database configured"* ]]
	run messages
	assert_output 0
}

@test "config file takes convo-db env lines" {
	inbound +12015550125 "hello" SMw0025
	local host user database
	host=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$CONVO_DB")
	user=$(sed -n 's/.*user=\([^ ]*\).*/\1/p' <<<"$CONVO_DB")
	database=$(sed -n 's/.*dbname=\([^ ]*\).*/\1/p' <<<"$CONVO_DB")
	# The lines that convo-db env prints, as a user appends them.
	{
		echo "CONVO_WEBHOOK_URL=$PUBLIC_URL"
		echo "CONVO_TWILIO_AUTH_TOKEN_FILE=$BATS_TEST_TMPDIR/token"
		echo "export PGHOST='$host'"
		echo "export PGUSER='$user'"
		echo "export PGDATABASE='$database'"
	} >webhook.conf
	run --separate-stderr cgi CONVO_DB=
	[ "$(cgi_status)" = 200 ] || fail "unexpected response: $stderr"
	run messages
	assert_output 1
}

@test "environment without config file" {
	inbound +12015550123 "hello" SMw0023
	run cgi CONVO_WEBHOOK_CONFIG= CONVO_WEBHOOK_URL=$PUBLIC_URL \
	    TWILIO_AUTH_TOKEN=$TOKEN
	[ "$(cgi_status)" = 200 ]
	run cgi CONVO_WEBHOOK_CONFIG= CONVO_WEBHOOK_URL=$PUBLIC_URL
	[ "$(cgi_status)" = 500 ]
}

@test "unknown account gets 500" {
	inbound +12015550124 "hello" SMw0024
	run --separate-stderr cgi CONVO_ACCOUNT=nosuch
	[ "$(cgi_status)" = 500 ]
	[[ $stderr == *'account "nosuch" not found'* ]]
}

@test "argument from a shell is named" {
	run --separate-stderr convo-webhook extra
	assert_failure 64
	assert_equal "${stderr_lines[0]}" \
	    'convo-webhook: unexpected argument "extra": convo-webhook takes options only'
	assert_equal "${stderr_lines[1]}" 'usage: convo-webhook [-qv]'
	assert_output ''
}

# Expected response to each payload of the corpus, recorded into an
# account of its own: HTTP status, then the start of its log line.
# Status callbacks of messages that are not stored are pending. A short
# code recipient is no phone number that convo accepts, so that callback
# is rejected.
CORPUS_OUTCOMES='inbound_mms_no_body 200 kind=message result=inserted
inbound_mms_with_body 200 kind=message result=inserted
inbound_sms_base64_looking_body 200 kind=message result=inserted
inbound_sms_basic 200 kind=message result=inserted
inbound_sms_nl_nuntius 200 kind=message result=inserted
inbound_sms_to_shortcode 200 kind=message result=inserted
inbound_sms_with_buttontext 200 kind=message result=inserted
inbound_whatsapp 200 kind=message result=inserted
status_delivered_minimal 200 kind=status result=pending
status_failed_21610_unsubscribed 200 kind=status result=pending
status_failed_63018_rate_limit 200 kind=status result=pending
status_read 200 kind=status result=pending
status_sent_messaging_service 400 kind=status result=rejected sid=SM0b6e2697aae04182a9f5b5c7a8994c7f error="invalid phone number \"2021\"
status_unknown_value 400 kind=status result=rejected sid=SMe287d7109a5a925f182f0e07fe5b223b error="unknown status \"huh\"'

@test "corpus payloads get expected responses" {
	need_corpus
	local dir=$CONVO_CORPUS/twilio/webhooks name code want n=0
	[ "$(ls "$dir"/*.form | wc -l)" -eq \
	    "$(grep -c . <<<"$CORPUS_OUTCOMES")" ]
	while read -r name code want; do
		n=$((n + 1))
		convo-db account add "a$n" >/dev/null
		BODY=$(cat "$dir/$name.form")
		SIG=$(jq -r '.[] | "\(.[0])\t\(.[1])"' \
		    "$dir/$name.decoded.json" | signature)
		run --separate-stderr cgi CONVO_ACCOUNT="a$n"
		[ "$(cgi_status)" = "$code" ] ||
			fail "$name: status $(cgi_status), expected $code"
		[[ $stderr == *"status=$code $want"* ]] ||
			fail "$name: log \"$stderr\", expected \"$want\""
		# A second delivery changes nothing.
		if [ "$code" = 200 ]; then
			run --separate-stderr cgi CONVO_ACCOUNT="a$n"
			[[ $stderr == *"result=duplicate"* ]] ||
				fail "$name: redelivery logged \"$stderr\""
		fi
	done <<<"$CORPUS_OUTCOMES"
	run sql "SELECT count(*) FROM convo.messages"
	assert_output 8
	run sql "SELECT count(DISTINCT channel) FROM convo.messages"
	assert_output 2
}

@test "corpus payloads as JSON get same responses" {
	need_corpus
	local dir=$CONVO_CORPUS/twilio/webhooks name code want n=0
	while read -r name code want; do
		n=$((n + 1))
		convo-db account add "j$n" >/dev/null
		# The decoded pairs as one JSON object; a repeated name keeps
		# its last value, as in the form.
		json_webhook "$(jq -c 'map({(.[0]): .[1]}) | add' \
		    "$dir/$name.decoded.json")"
		run --separate-stderr cgi_json CONVO_ACCOUNT="j$n"
		[ "$(cgi_status)" = "$code" ] ||
			fail "$name: status $(cgi_status), expected $code"
		[[ $stderr == *"status=$code $want"* ]] ||
			fail "$name: log \"$stderr\", expected \"$want\""
		if [ "$code" = 200 ]; then
			run --separate-stderr cgi_json CONVO_ACCOUNT="j$n"
			[[ $stderr == *"result=duplicate"* ]] ||
				fail "$name: redelivery logged \"$stderr\""
		fi
	done <<<"$CORPUS_OUTCOMES"
	run sql "SELECT count(*) FROM convo.messages"
	assert_output 8
}

# twilio-python's test of a JSON webhook, kept in the corpus, signed by
# Twilio's own code: the signature holds, and the body is no message.
@test "corpus JSON vector passes signature check" {
	need_corpus
	local vector url
	vector=$(jq -c '.cases[] | select(.json_body)' \
	    "$CONVO_CORPUS/twilio/signature_vectors.json")
	url=$(jq -r .url <<<"$vector")
	BODY=$(jq -r .json_body <<<"$vector")
	SIG=$(jq -r .expected <<<"$vector")
	run --separate-stderr cgi CONTENT_TYPE=application/json \
	    CONVO_WEBHOOK_URL="${url%%\?*}" QUERY_STRING="${url#*\?}" \
	    CONVO_TWILIO_AUTH_TOKEN_FILE= TWILIO_AUTH_TOKEN=12345
	[ "$(cgi_status)" = 422 ]
	[[ $stderr == *'missing parameter \"MessageSid\"'* ]]
	SIG=${SIG/a/b}
	run --separate-stderr cgi CONTENT_TYPE=application/json \
	    CONVO_WEBHOOK_URL="${url%%\?*}" QUERY_STRING="${url#*\?}" \
	    CONVO_TWILIO_AUTH_TOKEN_FILE= TWILIO_AUTH_TOKEN=12345
	[ "$(cgi_status)" = 403 ]
	[[ $stderr == *'error="invalid signature"'* ]]
}

@test "lighttpd: signed text reaches convo-list" {
	start_lighttpd
	inbound +12015550125 "Is it in stock?" SMw0025
	run post
	assert_output 200
	run cat response
	assert_output '<?xml version="1.0" encoding="UTF-8"?><Response/>'
	run convo-list
	assert_success
	run jq -r '[.profile.phone, .last_message.body, .unread_count]
	    | join(" ")' \
	    <<<"$output"
	assert_output "+12015550125 Is it in stock? 1"
	run grep -c 'status=200 kind=message result=inserted sid=SMw0025' \
	    cgi.log
	assert_output 1
}

@test "lighttpd: shipped example runs only /twilio" {
	start_lighttpd example
	inbound +12015550126 "Is it in stock?" SMw0026
	run post
	assert_output 200
	run grep -c 'status=200 kind=message result=inserted sid=SMw0026' \
	    cgi.log
	assert_output 1
	# Paths under or beside /twilio name no file of the program.
	run curl -s -o file -w '%{http_code}' "${URL}/x"
	assert_output 404
	run curl -s -o file -w '%{http_code}' "${URL}.c"
	assert_output 404
	# lighttpd refuses a body over 64 KiB before the program runs.
	BODY=$(head -c 70000 /dev/zero | tr '\0' a)
	run post
	assert_output 413
	run grep -c 'status=' cgi.log
	assert_output 1
}

@test "lighttpd: signed JSON reaches convo-list" {
	start_lighttpd
	json_webhook "$(cat "$FIXTURES/webhook-inbound.json")"
	run post response application/json "bodySHA256=$HASH"
	assert_output 200
	run post response application/json "bodySHA256=$HASH"
	assert_output 200
	run convo-list
	assert_success
	run jq -r '[.profile.phone, .unread_count] | join(" ")' <<<"$output"
	assert_output "+12015550150 1"
	run post response application/json
	assert_output 403
	run grep -c 'result=inserted sid=SMj0000000000000000000000000000001' \
	    cgi.log
	assert_output 1
	run grep -c 'result=duplicate' cgi.log
	assert_output 1
}

@test "lighttpd: bad signature gets 403" {
	start_lighttpd
	inbound +12015550126 "hello" SMw0026
	SIG=${SIG%?}A
	run post
	assert_output 403
	SIG=
	run post
	assert_output 403
	run curl -s -o /dev/null -w '%{http_code}' "$URL"
	assert_output 405
	run messages
	assert_output 0
	run convo-list
	assert_output ""
}

@test "lighttpd: concurrent redeliveries stored once" {
	start_lighttpd
	local round first
	for round in 1 2 3 4 5; do
		inbound +1201555013$round "round $round" SMw003$round
		post r1 >code1 &
		first=$!
		post r2 >code2 &
		wait "$first" $!
		[ "$(cat code1) $(cat code2)" = "200 200" ] ||
			fail "round $round: $(cat code1) $(cat code2)"
	done
	run messages
	assert_output 5
	run sql "SELECT count(DISTINCT provider_message_id) FROM convo.messages"
	assert_output 5
	run grep -c 'result=inserted' cgi.log
	assert_output 5
	run grep -c 'result=duplicate' cgi.log
	assert_output 5
}

@test "lighttpd: oversized body gets 413" {
	start_lighttpd
	inbound +12015550140 "hello" SMw0040
	BODY="$BODY&Pad=$(head -c 70000 /dev/zero | tr '\0' a)"
	run post
	assert_output 413
	run messages
	assert_output 0
}
