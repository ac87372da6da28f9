#!/usr/bin/env bats
# The examples under share/convo/examples, run as a user would run them:
# the crontab's jobs with a fake mail(1), the scripts against the
# test database and the fake Twilio API. Also the README's commands
# that send through that fake.

load helper

EXAMPLES="$BATS_TEST_DIRNAME/../share/convo/examples"
FAKE="$BATS_TEST_DIRNAME/fake-twilio"
BRAND=+12025550140

teardown() {
	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" >/dev/null
}

# Start the fake Twilio API, which accepts every message.
start_fake() {
	local i

	"$FAKE" --port-file port --log requests.ndjson \
	    >fake.out 2>fake.err 3>&- &
	FAKE_PID=$!
	for i in $(seq 50); do
		[ -s port ] && break
		sleep 0.1
	done
	[ -s port ] || fail "fake-twilio did not start: $(cat fake.err)"
	export TWILIO_API_BASE="http://127.0.0.1:$(cat port)"
	export CONVO_INSECURE_TLS_FOR_TESTING=1
	export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
	export TWILIO_AUTH_TOKEN=test-token
}

# A mail(1) that appends its arguments and message to mail.log.
fake_mail() {
	mkdir -p fakebin
	cat >fakebin/mail <<-'EOF'
	#!/bin/sh
	{ echo "args: $*"; cat; echo "--"; } >>"$MAIL_LOG"
	EOF
	chmod +x fakebin/mail
	export MAIL_LOG=$BATS_TEST_TMPDIR/mail.log
	PATH=$BATS_TEST_TMPDIR/fakebin:$PATH
}

# Print the command of each job of crontab FILE, one per line, with
# cron's \% turned back into %.
cron_jobs() {
	grep -Ev '^[[:space:]]*(#|$)|^[A-Za-z_][A-Za-z0-9_]*=' "$1" |
	    sed -E 's/^([^[:space:]]+[[:space:]]+){5}//; s/\\%/%/g'
}

# Print the schedule of the job whose command contains TEXT.
cron_schedule() {
	grep -v '^#' "$1" | grep -F -- "$2" | awk '{ print $1, $2, $3, $4, $5 }'
}

# Run one crontab job with sh, as cron does, in the crontab's
# environment, with the test's spool, recipient and PATH.
run_job() {
	local job=$1
	run env SPOOL="$BATS_TEST_TMPDIR/spool" REPORT_TO=ops@example.com \
	    PATH="$PATH" sh -c "$job"
}

# Write an inbound webhook body from PHONE into spool/new/NAME.
webhook_file() {
	local name=$1 sid=$2 phone=$3 text=$4
	mkdir -p spool/new
	printf 'MessageSid=%s&SmsStatus=received&Body=%s&NumMedia=0' \
	    "$sid" "$text" >"spool/new/$name"
	printf '&From=%s&To=%%2B12025550140\n' "${phone/+/%2B}" \
	    >>"spool/new/$name"
}

# Record an inbound text from PHONE, subscribed, with BODY.
customer() {
	local phone=$1 body=$2
	printf '{"type":"consent","phone":"%s","status":"subscribed","at":"2026-11-01T00:00:00Z"}\n' \
	    "$phone"
	printf '{"type":"message","direction":"inbound","from":"%s","to":"%s","body":"%s","provider_message_id":"SMin%s","sent_at":"2026-11-02T10:00:00Z"}\n' \
	    "$phone" "$BRAND" "$body" "${phone#+}"
}

@test "crontab has four jobs and no bare percent" {
	run cron_jobs "$EXAMPLES/crontab"
	assert_success
	[ "${#lines[@]}" -eq 4 ]
	run cron_schedule "$EXAMPLES/crontab" "convo-ingest -q --spool"
	assert_output "* * * * *"
	run cron_schedule "$EXAMPLES/crontab" "convo-send -q --queued"
	assert_output "* * * * *"
	run cron_schedule "$EXAMPLES/crontab" "mail -s"
	assert_output "0 8 * * *"
	run cron_schedule "$EXAMPLES/crontab" "convo-db -q maintain"
	assert_output "15 3 * * *"
	# cron would turn a % without a backslash into a newline.
	run grep -v '^#' "$EXAMPLES/crontab"
	refute_output --regexp '[^\\]%'
}

@test "crontab jobs ingest the spool and mail the report" {
	local ingest report
	fake_mail
	webhook_file a SMcron1 +12015550171 'Where+is+my+parcel%3F'
	webhook_file b SMcron2 +12015550172 'Do+you+ship+to+Canada%3F'
	ingest=$(cron_jobs "$EXAMPLES/crontab" | grep -F 'convo-ingest')
	report=$(cron_jobs "$EXAMPLES/crontab" | grep -F 'mail -s')

	run_job "$ingest"
	assert_success
	assert_output ""
	[ "$(find spool/cur -type f | wc -l)" -eq 2 ]
	[ "$(find spool/new -type f | wc -l)" -eq 0 ]

	run_job "$report"
	assert_success
	run cat "$MAIL_LOG"
	assert_line "args: -s convo: unread conversations ops@example.com"
	assert_line --regexp $'^1\t\\+12015550172\tc_[0-9]+\tDo you ship to Canada\\?$'
	assert_line --regexp $'^1\t\\+12015550171\tc_[0-9]+\tWhere is my parcel\\?$'
}

@test "crontab jobs answer a STOP from the spool" {
	local ingest queued
	start_fake
	webhook_file a SMcron3 +12015550173 'STOP'
	ingest=$(cron_jobs "$EXAMPLES/crontab" | grep -F 'convo-ingest')
	queued=$(cron_jobs "$EXAMPLES/crontab" | grep -F -- '--queued')

	run_job "$ingest"
	assert_success
	run_job "$queued"
	assert_success
	assert_output ""
	run jq -r '[.form.To, .form.From] | join(" ")' requests.ndjson
	assert_output "+12015550173 +12025550140"
	run jq -r .form.Body requests.ndjson
	assert_output --partial "unsubscribed"
	run_job "$queued"
	assert_success
	run jq -s length requests.ndjson
	assert_output "1"
}

@test "crontab maintain job moves a waiting month" {
	local maintain
	customer +12015550191 'an old question' |
	    sed 's/2026-11-0[12]/2019-03-02/' | convo-ingest -q >/dev/null
	maintain=$(cron_jobs "$EXAMPLES/crontab" | grep -F 'maintain')
	run_job "$maintain"
	assert_success
	assert_line '{"type":"partition","table":"consent_changes","month":"2019-03","partition":"convo_partitions.consent_changes_2019_03","moved":1}'
	assert_line '{"type":"partition","table":"messages","month":"2019-03","partition":"convo_partitions.messages_2019_03","moved":1}'
	[ "${#lines[@]}" -eq 2 ]
	run_job "$maintain"
	assert_success
	assert_output ""
}

@test "crontab report mails nothing when all is read" {
	local report
	fake_mail
	report=$(cron_jobs "$EXAMPLES/crontab" | grep -F 'mail -s')
	run_job "$report"
	[ ! -e "$MAIL_LOG" ]
}

@test "bulk-reply shows the dry run and stops at no" {
	start_fake
	{
		customer +12015550181 'refund please'
		customer +12015550182 'my refund?'
		customer +12015550183 'hello'
	} | convo-ingest -q >/dev/null
	echo "Your refund is on its way." >reply.txt
	run --separate-stderr "$EXAMPLES/bulk-reply" refund reply.txt <<<"n"
	assert_failure 1
	assert_output ""
	[[ $stderr == *"2 conversations: 2 would get the reply, 2 segments in all"* ]]
	[[ $stderr == *"Send 2 messages? [y/N]"* ]]
	[[ $stderr == *"bulk-reply: nothing sent"* ]]
	[ ! -s requests.ndjson ]
	run sql "SELECT count(*) FROM convo.messages
	    WHERE direction = 'outbound'"
	assert_output 0
}

@test "bulk-reply sends after yes" {
	start_fake
	{
		customer +12015550181 'refund please'
		customer +12015550182 'my refund?'
		customer +12015550183 'hello'
	} | convo-ingest -q >/dev/null
	echo "Your refund is on its way." >reply.txt
	run --separate-stderr "$EXAMPLES/bulk-reply" refund reply.txt <<<"y"
	assert_success
	run jq -r '"\(.status) \(.to)"' <<<"$output"
	assert_line "sent +12015550181"
	assert_line "sent +12015550182"
	[ "${#lines[@]}" -eq 2 ]
	run jq -r '"\(.form.To) \(.form.Body)"' requests.ndjson
	assert_line "+12015550181 Your refund is on its way."
	assert_line "+12015550182 Your refund is on its way."
	[ "${#lines[@]}" -eq 2 ]
}

@test "bulk-reply lists the conversations it cannot answer" {
	start_fake
	customer +12015550181 'refund please' | convo-ingest -q >/dev/null
	printf '{"type":"consent","phone":"+12015550181","status":"unsubscribed","at":"2026-11-03T00:00:00Z"}\n' |
	    convo-ingest -q >/dev/null
	echo "Your refund is on its way." >reply.txt
	run --separate-stderr "$EXAMPLES/bulk-reply" -y refund reply.txt
	assert_failure 65
	[[ $stderr == *"1 conversations: 0 would get the reply"* ]]
	[[ $stderr == *"not to +12015550181: "* ]]
	[ ! -s requests.ndjson ]
}

@test "bulk-reply without matches sends nothing" {
	echo "Hi" >reply.txt
	run --separate-stderr "$EXAMPLES/bulk-reply" -y nothing-like-this \
	    reply.txt
	assert_success
	[[ $stderr == *'no unread conversation contains "nothing-like-this"'* ]]
}

# Print the README's commands that send through the fake Twilio API,
# from the line that starts it to the one that stops it.
readme_fake_commands() {
	awk '/^    rm -f fake\.port$/ { on = 1 }
	    on { sub(/^    /, ""); print }
	    on && /^kill / { exit }' "$CONVO_SOURCE/README.md"
}

@test "README sends through the fake API" {
	local commands

	run grep -c '^    make all units$' "$CONVO_SOURCE/README.md"
	assert_output 1
	commands=$(readme_fake_commands)
	[ -n "$commands" ] || fail "the README shows no fake-twilio commands"
	convo-ingest -q "$SAMPLE" >/dev/null
	# The README runs from the source tree, where "make all units"
	# puts bin/ and tests/fake-twilio.
	mkdir tests
	ln -s "$CONVO_BUILD/bin" bin
	ln -s "$FAKE_TWILIO" tests/fake-twilio
	# A port file left by an earlier run names no server now.
	echo 1 >fake.port
	# The trap stops the fake when a command fails before "kill %1".
	run --separate-stderr timeout 60 bash -e -c \
	    "trap 'kill \$(jobs -p) 2>/dev/null || true' EXIT
$commands"
	[ "$status" = 0 ] || fail "status $status: $stderr"
	run jq -r '[.to, .status] | join(" ")' <<<"$output"
	assert_output "+12015550123 sent"
	run jq -r .form.Body fake.ndjson
	assert_output "Yes, size 8 in black"
}

@test "export-thread writes a transcript" {
	local before
	convo-ingest -q "$SAMPLE" >/dev/null
	before=$(sql "SELECT unread_count FROM convo.conversations c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '+12015550123'")
	run "$EXAMPLES/export-thread" +12015550123
	assert_success
	assert_line "Customer:     Ada Reyes <+12015550123>"
	assert_line "Email:        ada@example.com"
	assert_line "Consent:      subscribed"
	assert_line --regexp '^Conversation: c_[0-9]+ \(sms, open\)$'
	assert_line --regexp '^2026-11-20 15:12:40 UTC  Ada Reyes: Do you have the Trail boots in size 8\?$'
	assert_line --partial "to customer: "
	run sql "SELECT unread_count FROM convo.conversations c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '+12015550123'"
	assert_output "$before"
}

@test "export-thread -j prints the records" {
	local id
	convo-ingest -q "$SAMPLE" >/dev/null
	id=$(convo-list --search +12015550123 | jq -r .id)
	run "$EXAMPLES/export-thread" -j "$id"
	assert_success
	run jq -r .type <<<"$output"
	assert_line --index 0 conversation
	assert_line message
	"$EXAMPLES/export-thread" -j "$id" >thread.ndjson
	run jq -r 'select(.type == "message") | .conversation_id' \
	    thread.ndjson
	run sort -u <<<"$output"
	assert_output "$id"
}

@test "export-thread of an unknown customer fails" {
	run --separate-stderr "$EXAMPLES/export-thread" +12015550999
	assert_failure 65
	[[ $stderr == *"not found"* ]]
}
