#!/usr/bin/env bats
# convo-ingest --spool: files of a maildir-style spool directory are
# recorded once each, moved after their commit, and survive crashes.

load helper

BRAND=%2B12025550140

# Write an inbound webhook body from PHONE (digits after +1201555) with
# message id SID into spool/new/NAME.
webhook_file() {
	local name=$1 sid=$2 phone=$3 text=${4:-hello}
	printf 'MessageSid=%s&SmsStatus=received&Body=%s&NumMedia=0' \
	    "$sid" "$text" >"spool/new/$name"
	printf '&From=%%2B1201555%s&To=%s\n' "$phone" "$BRAND" \
	    >>"spool/new/$name"
}

# Write COUNT webhook files named f0001... with ids SMs0001...
many_files() {
	local i name
	for i in $(seq -w 1 "$1"); do
		name=f$(printf '%04d' "$((10#$i))")
		printf 'MessageSid=SMs%s&SmsStatus=received&Body=n%s' \
		    "$i" "$i" >"spool/new/$name"
		printf '&From=%%2B120155%05d&To=%s\n' "$((10#$i))" "$BRAND" \
		    >>"spool/new/$name"
	done
}

count() {
	find "spool/$1" -maxdepth 1 -type f "${@:2}" | wc -l | tr -d ' '
}

messages() {
	sql "SELECT count(*) FROM convo.messages"
}

setup() {
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE
	unset CONVO_ACCOUNT CONVO_HOME
	TEST_DB="t_$$_${BATS_SUITE_TEST_NUMBER}"
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "CREATE DATABASE $TEST_DB TEMPLATE convo_template" >/dev/null
	export CONVO_DB="$CONVO_TEST_SERVER dbname=$TEST_DB"
	cd "$BATS_TEST_TMPDIR"
	mkdir -p spool/new
}

@test "webhook files move to cur" {
	webhook_file a 'SMa1' 0101
	webhook_file b 'SMb1' 0102
	run --separate-stderr convo-ingest -q --spool spool
	assert_success
	run jq -r '"\(.file) \(.result)"' <<<"$output"
	assert_output "$(printf 'spool/new/a inserted\nspool/new/b inserted')"
	[ "$(count new)" = 0 ]
	[ "$(count cur)" = 2 ]
	[ -d spool/failed ]
	[ -d spool/tmp ]
	run messages
	assert_output 2
}

@test "record time is the file time" {
	webhook_file a SMt1 0103
	touch -d '2026-05-01 10:00:00.250000 UTC' spool/new/a
	convo-ingest -q --spool spool >/dev/null
	run sql "SELECT convo.rfc3339(sent_at) FROM convo.messages"
	assert_output "2026-05-01T10:00:00.250000Z"
}

@test "format twilio reads one-line files as webhooks" {
	webhook_file a SMt2 0104
	touch -d '2026-05-02 08:00:00 UTC' spool/new/a
	convo-ingest -q --format twilio --spool spool >/dev/null
	run sql "SELECT convo.rfc3339(sent_at) FROM convo.messages"
	assert_output "2026-05-02T08:00:00Z"
}

@test "webhook line numbers count blank lines" {
	printf '\n  \nSmsStatus=received&Body=hi&From=%%2B12015550109\n' \
	    >spool/new/bad
	run --separate-stderr convo-ingest -q --spool spool
	assert_failure 65
	[[ $stderr == *'spool/new/bad: line 3: missing parameter'* ]]
	[ "$(jq -r .input_line <<<"$output")" = 3 ]
	run cat spool/failed/bad.reason
	assert_output --partial 'line 3: missing parameter "MessageSid"'
}

@test "CRLF webhook file is recorded" {
	printf 'MessageSid=SMc1&SmsStatus=received&Body=hi' >spool/new/a
	printf '&From=%%2B12015550105&To=%s\r\n' "$BRAND" >>spool/new/a
	run convo-ingest -q --spool spool
	assert_success
	run sql "SELECT to_address FROM convo.messages"
	assert_output "+12025550140"
}

@test "NDJSON stream file is recorded" {
	{
		echo '{"type":"message","direction":"inbound","from":"+12015550106","to":"+12025550140","body":"one","provider_message_id":"SMn1","sent_at":"2026-05-03T10:00:00Z"}'
		echo
		echo '{"type":"consent","phone":"+12015550106","status":"subscribed","at":"2026-05-03T09:00:00Z"}'
		echo "MessageSid=SMn2&SmsStatus=received&Body=two&From=%2B12015550106&To=$BRAND"
	} >spool/new/stream
	run --separate-stderr convo-ingest -q --spool spool
	assert_success
	run jq -r '"\(.input_line) \(.result)"' <<<"$output"
	assert_output "$(printf '1 inserted\n3 inserted\n4 inserted')"
	[ "$(count cur)" = 1 ]
	run messages
	assert_output 2
}

@test "malformed webhook goes to failed" {
	echo 'SmsStatus=received&Body=hi&From=%2B12015550107' >spool/new/bad
	webhook_file good SMg1 0108
	run --separate-stderr convo-ingest -q --spool spool
	assert_failure 65
	[[ $stderr == *'spool/new/bad: line 1: missing parameter'* ]]
	[ -f spool/failed/bad ]
	run cat spool/failed/bad.reason
	assert_output --partial 'line 1: missing parameter "MessageSid"'
	[ -f spool/cur/good ]
	[ "$(count new)" = 0 ]
	run messages
	assert_output 1
}

@test "bad line sends stream to failed" {
	{
		echo '{"type":"message","direction":"inbound","from":"+12015550109","to":"+12025550140","body":"ok","provider_message_id":"SMp1","sent_at":"2026-05-03T10:00:00Z"}'
		echo '{"type":"message",'
		echo '{"type":"profile","phone":"555-12"}'
	} >spool/new/partial
	run --separate-stderr convo-ingest -q --spool spool
	assert_failure 65
	[ -f spool/failed/partial ]
	run cat spool/failed/partial.reason
	assert_line --index 0 --partial 'line 2: invalid JSON'
	assert_line --index 1 --partial 'line 3: invalid phone number "555-12"'
	run messages
	assert_output 1
}

@test "failed file fixed and put back" {
	echo 'SmsStatus=received&Body=hi&From=%2B12015550110' >spool/new/fix
	run convo-ingest -q --spool spool
	assert_failure 65
	echo "MessageSid=SMf1&SmsStatus=received&Body=hi&From=%2B12015550110" \
	    "To=$BRAND" | tr ' ' '&' >spool/failed/fix
	mv spool/failed/fix spool/new/fix
	run convo-ingest -q --spool spool
	assert_success
	[ -f spool/cur/fix ]
	run messages
	assert_output 1
}

@test "file left in new after commit is duplicate" {
	webhook_file a SMd1 0111
	convo-ingest -q --spool spool >/dev/null
	# As after a crash between the commit and the rename.
	cp -p spool/cur/a spool/new/a
	run convo-ingest -q --spool spool
	assert_success
	run jq -r .result <<<"$output"
	assert_output duplicate
	[ "$(count new)" = 0 ]
	[ "$(count cur)" = 1 ]
	run messages
	assert_output 1
}

@test "dot files and tmp are left alone" {
	webhook_file .partial SMh1 0112
	mkdir -p spool/tmp
	webhook_file a SMh2 0113
	mv spool/new/a spool/tmp/a
	mkdir spool/new/subdir
	run --separate-stderr convo-ingest -q --spool spool
	assert_success
	assert_output ""
	assert_equal "$stderr" 'convo-ingest: "spool/new/subdir" is not a regular file, so it stays in new; remove it or move it away'
	[ -f spool/new/.partial ]
	[ -f spool/tmp/a ]
	run messages
	assert_output 0
}

@test "links and pipes are named and left" {
	webhook_file a SMh3 0114
	ln -s a spool/new/b
	mkfifo spool/new/c
	run --separate-stderr convo-ingest -q --spool spool
	assert_success
	run jq -r '[.file, .result] | join(" ")' <<<"$output"
	assert_output 'spool/new/a inserted'
	[[ $stderr == *'"spool/new/b" is not a regular file'* ]]
	[[ $stderr == *'"spool/new/c" is not a regular file'* ]]
	[ -L spool/new/b ]
	[ -p spool/new/c ]
	[ -f spool/cur/a ]
}

@test "results keep file order with bad bodies" {
	webhook_file 001 SMo1 0115
	echo 'Body=%FF' >spool/new/002
	webhook_file 003 SMo3 0116
	run --separate-stderr convo-ingest -q --spool spool
	assert_failure 65
	run jq -r '[.file, .result] | join(" ")' <<<"$output"
	assert_output "$(printf 'spool/new/001 inserted\nspool/new/002 rejected\nspool/new/003 inserted')"
	[ -f spool/failed/002 ]
}

@test "control characters of names are not printed" {
	echo 'Body=%FF' >"spool/new/x"$'\e'"[2J"$'\n'"fake"
	run --separate-stderr convo-ingest -q --spool spool
	assert_failure 65
	[[ $stderr == 'convo-ingest: spool/new/x?[2J?fake: line 1: '* ]] ||
	    fail "$stderr"
}

@test "bad line in a file not named in UTF-8 fails it" {
	printf '{"type":"profile","phone":"bad"}\n' >spool/new/$'caf\xe9'
	run --separate-stderr convo-ingest -q --spool spool
	assert_failure 65
	run jq -r '[.file, .result] | join(" ")' <<<"$output"
	assert_output 'spool/new/caf? rejected'
	[ -f spool/failed/$'caf\xe9' ]
	[ -f spool/failed/$'caf\xe9'.reason ]
	[ "$(count new)" = 0 ]
}

@test "long failed names keep their reasons" {
	local name length hash short

	# Names of 248 bytes still fit NAME.reason in NAME_MAX (255) bytes;
	# longer ones get a shortened reason name. The 249-byte name is 124
	# two-byte characters and one more byte, so that a cut at byte 231
	# would split a character.
	for length in 248 249 255; do
		name=$(printf 'é%.0s' $(seq 124))
		name=$name$(printf 'x%.0s' $(seq $((length - 248))))
		[ "$length" = 248 ] && name=$(printf 'x%.0s' $(seq 248))
		[ "${#name}" -gt 0 ]
		[ "$(printf %s "$name" | wc -c)" = "$length" ]
		echo 'Body=%FF' >"spool/new/$name"
		run --separate-stderr convo-ingest -q --spool spool
		assert_failure 65
		[ -f "spool/failed/$name" ] || fail "$length bytes: not in failed"
		[ "$(count new)" = 0 ] || fail "$length bytes: still in new"
		if [ "$length" = 248 ]; then
			run cat "spool/failed/$name.reason"
			assert_output --partial 'line 1: '
			[[ $stderr != *'reason file'* ]] || fail "$stderr"
			continue
		fi
		hash=$(printf %s "$name" | sha256sum | cut -c 1-16)
		short=$(printf 'é%.0s' $(seq 115))~$hash.reason
		[ -f "spool/failed/$short" ] ||
		    fail "$length bytes: no $short in: $(ls spool/failed)"
		run cat "spool/failed/$short"
		assert_output --partial 'line 1: '
		[[ $stderr == *"the reason file of \"spool/failed/$name\" is \"spool/failed/$short\""* ]] ||
		    fail "$stderr"
	done
	run messages
	assert_output 0
}

# Hold a SHARE lock on convo.profiles, which blocks the inserts of
# convo-ingest, until the file "release" exists or a minute has passed.
hold_profiles() {
	local i

	psql -X -q "$CONVO_DB" >hold.out 2>&1 <<'EOF' &
BEGIN;
LOCK TABLE convo.profiles IN SHARE MODE;
\! touch locked
\! timeout 60 sh -c 'until [ -e release ]; do sleep 0.05; done'
COMMIT;
EOF
	HOLD_PID=$!
	for i in $(seq 100); do
		[ -e locked ] && return 0
		sleep 0.05
	done
	fail "the lock was not taken: $(cat hold.out)"
}

# Wait until a convo-ingest waits for a lock, for at most 10 seconds.
wait_for_blocked_ingest() {
	local i

	for i in $(seq 200); do
		[ "$(sql "SELECT count(*) FROM pg_stat_activity
		    WHERE application_name = 'convo-ingest'
		    AND wait_event_type = 'Lock'")" = 1 ] && return 0
		sleep 0.05
	done
	fail "convo-ingest did not wait for the lock"
}

@test "entries changed after listing are named" {
	local rc=0

	webhook_file a SMw1 0117
	webhook_file b SMw2 0118
	webhook_file c SMw3 0119
	webhook_file d SMw4 0120
	webhook_file e SMw5 0121
	hold_profiles
	convo-ingest -q -b 1 --spool spool >out 2>err &
	local pid=$!
	wait_for_blocked_ingest
	# The run listed every file and waits to record the first one.
	rm spool/new/b spool/new/c spool/new/d
	mkdir spool/new/b
	ln -s a spool/new/c
	mkfifo spool/new/d
	touch release
	wait "$pid" || rc=$?
	wait "$HOLD_PID"
	[ "$rc" = 0 ] || fail "exit status $rc: $(cat err)"
	run cat err
	refute_output --partial 'Success'
	assert_line 'convo-ingest: "spool/new/b" is not a regular file, so it stays in new; remove it or move it away'
	assert_line 'convo-ingest: "spool/new/c" is not a regular file, so it stays in new; remove it or move it away'
	assert_line 'convo-ingest: "spool/new/d" is not a regular file, so it stays in new; remove it or move it away'
	assert_equal "${#lines[@]}" 3
	run jq -r '[.file, .result] | join(" ")' out
	assert_output "$(printf 'spool/new/a inserted\nspool/new/e inserted')"
	[ -d spool/new/b ]
	[ -L spool/new/c ]
	[ -p spool/new/d ]
	[ -f spool/cur/a ]
	[ -f spool/cur/e ]
}

@test "entry removed after listing is skipped" {
	local rc=0

	webhook_file a SMv1 0122
	webhook_file b SMv2 0123
	hold_profiles
	convo-ingest -q -b 1 --spool spool >out 2>err &
	local pid=$!
	wait_for_blocked_ingest
	rm spool/new/b
	touch release
	wait "$pid" || rc=$?
	wait "$HOLD_PID"
	[ "$rc" = 0 ] || fail "exit status $rc: $(cat err)"
	run cat err
	assert_output ''
	run jq -r '[.file, .result] | join(" ")' out
	assert_output 'spool/new/a inserted'
}

@test "empty spool records nothing" {
	run convo-ingest --spool spool
	assert_success
	assert_output --partial "0 records"
}

@test "held lock exits 75" {
	webhook_file a SMl1 0114
	exec 9>spool/.lock
	flock -n 9
	run --separate-stderr convo-ingest -q --spool spool
	exec 9>&-
	assert_failure 75
	[[ $stderr == *'spool "spool" is locked by another convo-ingest'* ]]
	[ -f spool/new/a ]
	run convo-ingest -q --spool spool
	assert_success
	[ -f spool/cur/a ]
}

@test "spool usage errors" {
	run convo-ingest --spool spool input.ndjson
	assert_failure 64
	assert_output --partial "takes no FILE arguments"
	run convo-ingest --spool spool --rejects rejects.ndjson
	assert_failure 64
	run convo-ingest --spool missing
	assert_failure 66
	assert_output --partial 'cannot open spool directory "missing"'
}

@test "concurrent runs record each file once" {
	many_files 300
	convo-ingest -q -b 20 --spool spool >out1 2>err1 &
	local p1=$! rc1=0 rc2=0
	convo-ingest -q -b 20 --spool spool >out2 2>err2 &
	local p2=$!
	wait "$p1" || rc1=$?
	wait "$p2" || rc2=$?
	[[ $rc1 == 0 || $rc1 == 75 ]] || fail "first run: $rc1: $(cat err1)"
	[[ $rc2 == 0 || $rc2 == 75 ]] || fail "second run: $rc2: $(cat err2)"
	[ "$(count new)" = 0 ]
	[ "$(count cur)" = 300 ]
	run jq -r '.file' out1 out2
	[ "$(sort <<<"$output" | uniq -d | wc -l)" = 0 ]
	[ "$(wc -l <<<"$output")" = 300 ]
	run jq -r '.result' out1 out2
	[ "$(sort -u <<<"$output")" = inserted ]
	run messages
	assert_output 300
}

@test "kill -9 mid-run then rerun" {
	many_files 1500
	convo-ingest -q -b 1 --spool spool >out1 2>err1 &
	local pid=$! i rc=0
	for i in $(seq 300); do
		[ "$(count cur)" -ge 50 ] && break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	[ "$rc" = 137 ] || skip "the first run ended before it was killed"
	[ "$(count new)" -gt 0 ]
	run convo-ingest -q --spool spool
	assert_success
	[ "$(count new)" = 0 ]
	[ "$(count cur)" = 1500 ]
	run messages
	assert_output 1500
	run sql "SELECT count(DISTINCT provider_message_id) FROM convo.messages"
	assert_output 1500
	run grep -c '"result":"conflict"' out1
	assert_output 0
}
