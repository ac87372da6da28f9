#!/usr/bin/env bats
# Programs killed with SIGKILL part-way and run again on the same input:
# convo-ingest records every record exactly once, and convo-send sends
# no message twice and loses none, reporting the ones in doubt as
# unknown.

load helper
load consistency

# Start convo-ingest on input.ndjson and kill it once the database holds
# N messages, so that some batches are committed and one is likely half
# done.
kill_ingest_at() {
	local n=$1 pid
	timeout 600 convo-ingest -q --batch-size 300 input.ndjson \
	    >>killed.out 2>>killed.err 3>&- &
	pid=$!
	wait_until "SELECT count(*) FROM convo.messages" "$n" 120
	kill -9 "$pid"
	wait "$pid" || true
	KILLED_AT+=("$(sql "SELECT count(*) FROM convo.messages")")
}

@test "killed ingest records everything once" {
	local expected_messages
	"$GEN_INPUT" 12000 400 41 >input.ndjson
	reference_state input.ndjson >expected.json
	expected_messages=$(input_messages input.ndjson)
	KILLED_AT=()
	kill_ingest_at $((expected_messages / 5))
	kill_ingest_at $((expected_messages / 2))
	kill_ingest_at $((expected_messages * 4 / 5))
	run convo-ingest -q --batch-size 300 input.ndjson
	assert_success
	run sql "SELECT count(*) FROM convo.messages"
	assert_output "$expected_messages"
	run duplicates
	assert_output "0"
	# Unread counts, summaries and consent equal those of one run.
	state >actual.json
	run jq -n --slurpfile a actual.json --slurpfile e expected.json \
	    '$a == $e'
	assert_output "true"
	run jq -r .counts.unread_total actual.json
	assert_output "$(jq -r .counts.unread_total expected.json)"
	run convo-db verify
	assert_success
	assert_output --partial ": 0 mismatches"
	echo "# $(wc -l <input.ndjson) lines, killed at" \
	    "${KILLED_AT[*]} messages; $expected_messages messages," \
	    "$(duplicates) duplicates, unread $(jq .counts.unread_total \
	    actual.json) as recounted; ${lines[-1]#convo-db: }" >&3
}

@test "killed ingest leaves no half batch" {
	"$GEN_INPUT" 6000 200 43 >input.ndjson
	KILLED_AT=()
	kill_ingest_at 1000
	# Every committed batch is whole: the summaries match the messages.
	run convo-db verify
	assert_success
	run convo-ingest -q --batch-size 300 input.ndjson
	assert_success
	run sql "SELECT count(*) FROM convo.messages"
	assert_output "$(input_messages input.ndjson)"
	run convo-db verify
	assert_success
}

# Send to N customers with the fake API answering OK requests at once
# and holding the next SLOW ones for a minute, kill convo-send once those
# are in flight, then send again to everyone.
kill_send_at() {
	local n=$1 ok=$2 slow=$3 rules=() i pid
	for i in $(seq "$ok"); do
		rules+=(ok)
	done
	for i in $(seq "$slow"); do
		rules+=("slow 60")
	done
	rules+=("always ok")
	start_fake "${rules[@]}"
	customers "$n"
	# convo-send itself, not a subshell around it, is the process
	# to kill.
	convo-send -q --rate 0 --parallel 4 --body "Your order has shipped" \
	    <recipients.ndjson >killed.out 2>killed.err 3>&- &
	pid=$!
	for i in $(seq 100); do
		[ "$(requests)" -ge $((ok + slow)) ] && break
		sleep 0.1
	done
	kill -9 "$pid"
	wait "$pid" || true
	# In doubt: requests that reached the fake but whose rows are not
	# sent. With more parallel slots than slow rules, one more request
	# can reach the fake and get its answer just before the kill.
	jq -r .form.To log.ndjson | sort -u >received.txt
	sql "SELECT to_address FROM convo.outbox WHERE state <> 'sent'" |
	    sort >unsent.txt
	comm -12 received.txt unsent.txt >in_flight.txt
	run --separate-stderr send_replies
	echo "$output" >rerun.out
}

@test "killed bulk send sends nothing twice" {
	kill_send_at 40 5 4
	assert_failure 75
	assert_sent_once 40
	# The replies in flight at the kill are the ones in doubt.
	run cat unknown.txt
	assert_output "$(cat in_flight.txt)"
	run jq -s -c 'group_by(.status) | map({(.[0].status): length}) | add' \
	    rerun.out
	assert_output '{"duplicate":5,"sent":31,"unknown":4}'
	echo "# 40 replies killed after $(wc -l <in_flight.txt) in flight:" \
	    "$(requests) requests, $(wc -l <unknown.txt) unknown" >&3
}

@test "bulk send killed later resumes" {
	kill_send_at 40 27 3
	assert_failure 75
	assert_sent_once 40
	run cat unknown.txt
	assert_output "$(cat in_flight.txt)"
	[ "$(wc -l <in_flight.txt)" -ge 3 ]
	run sql "SELECT count(*) FROM convo.outbox WHERE state = 'sent'"
	assert_output "$((40 - $(wc -l <in_flight.txt)))"
}

@test "bulk send killed at full speed" {
	local pid i
	start_fake "always ok"
	# Enough replies that the run is still sending when it is killed.
	customers 1000
	# convo-send itself, not a subshell around it, is the process
	# to kill.
	convo-send -q --rate 0 --parallel 4 --body "Your order has shipped" \
	    <recipients.ndjson >killed.out 2>killed.err 3>&- &
	pid=$!
	for i in $(seq 100); do
		[ "$(requests)" -ge 20 ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	killed_at=$(requests)
	run --separate-stderr send_replies
	echo "$output" >rerun.out
	assert_sent_once 1000
	echo "# 1000 replies killed after $killed_at requests: $(requests)" \
	    "requests, $(wc -l <unknown.txt) unknown" >&3
}
