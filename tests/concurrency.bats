#!/usr/bin/env bats
# Programs at the same time: convo-ingest processes on overlapping input,
# convo-read marking threads read while convo-ingest records, and races
# made certain by holding a row lock from a psql session, so that one
# run waits half-way through its batch while another records.

load helper
load consistency

inbound() {
	printf '{"type":"message","direction":"inbound","from":"%s",' "$1"
	printf '"to":"+12025550140","body":"%s",' "$2"
	printf '"provider_message_id":"%s","sent_at":"%s"}\n' "$3" "$4"
}

consent() {
	printf '{"type":"consent","phone":"%s","status":"%s","at":"%s"}\n' \
	    "$1" "$2" "$3"
}

lock_conversation_of() {
	hold "SELECT 1 FROM convo.conversations c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '$1' FOR UPDATE OF c;"
}

@test "racing receipts keep the best status" {
	{
		inbound +12015550001 hello SMz1 2026-11-01T10:00:00Z
		inbound +12015550002 hi SMx1 2026-11-01T10:00:00Z
		echo '{"type":"message","direction":"outbound","from":"+12025550140","to":"+12015550002","body":"Sale","origin":"campaign","provider_message_id":"SMm1","sent_at":"2026-11-01T11:00:00Z","status":"queued"}'
	} | convo-ingest -q >/dev/null
	# The first run records "delivered", then waits for the held
	# conversation; the second records "sent" meanwhile.
	lock_conversation_of +12015550001
	{
		consent +12015550001 subscribed 2026-11-01T00:00:00Z
		echo '{"type":"status","provider_message_id":"SMm1","status":"delivered","at":"2026-11-01T11:00:05Z"}'
	} | convo-ingest -q >first.out 3>&- &
	first=$!
	wait_for_waiters 1
	echo '{"type":"status","provider_message_id":"SMm1","status":"sent","at":"2026-11-01T11:00:01Z"}' |
	    convo-ingest -q >second.out 3>&- &
	second=$!
	wait_for_waiters 2
	release
	wait "$first"
	wait "$second"
	run sql "SELECT status FROM convo.messages
	    WHERE provider_message_id = 'SMm1'"
	assert_output "delivered"
	run convo-db -q verify
	assert_success
	assert_output ""
}

@test "racing consent changes keep the latest" {
	{
		inbound +12015550001 hello SMz1 2026-11-01T10:00:00Z
		echo '{"type":"profile","phone":"+12015550003"}'
	} | convo-ingest -q >/dev/null
	lock_conversation_of +12015550001
	{
		consent +12015550001 subscribed 2026-11-01T00:00:00Z
		consent +12015550003 subscribed 2026-11-01T10:00:00Z
	} | convo-ingest -q >first.out 3>&- &
	first=$!
	wait_for_waiters 1
	consent +12015550003 unsubscribed 2026-11-01T09:00:00Z |
	    convo-ingest -q >second.out 3>&- &
	second=$!
	wait_for_waiters 2
	release
	wait "$first"
	wait "$second"
	run sql "SELECT s.status FROM convo.consent s
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '+12015550003'"
	assert_output "subscribed"
	run convo-db -q verify
	assert_success
	assert_output ""
}

@test "message recorded during a read stays unread" {
	# The customer exists, without a conversation.
	{
		inbound +12015550001 hello SMz1 2026-11-01T10:00:00Z
		echo '{"type":"profile","phone":"+12015550002"}'
	} | convo-ingest -q >/dev/null
	# The first run records SMx1, then waits for the held profile of
	# the other customer before it records its consent change.
	hold "SELECT 1 FROM convo.profiles
	    WHERE phone = '+12015550001' FOR UPDATE;"
	{
		inbound +12015550002 first SMx1 2026-11-01T10:00:00Z
		consent +12015550001 subscribed 2026-11-01T00:00:00Z
	} | convo-ingest -q >first.out 3>&- &
	first=$!
	wait_for_waiters 1
	inbound +12015550002 second SMx2 2026-11-01T10:01:00Z |
	    convo-ingest -q >second.out 3>&- &
	second=$!
	# The second run records at once, or waits for the first.
	for i in $(seq 50); do
		kill -0 "$second" 2>/dev/null || break
		[ "$(sql "SELECT count(*) FROM pg_stat_activity
		    WHERE datname = current_database()
		    AND application_name = 'convo-ingest'
		    AND wait_event_type = 'Lock'")" -ge 2 ] && break
		sleep 0.1
	done
	convo-read --json +12015550002 >read.out 2>read.err || true
	release
	wait "$first"
	wait "$second"
	shown=$(jq -r 'select(.type == "message") | .id' read.out | wc -l)
	run sql "SELECT c.unread_count FROM convo.conversations c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '+12015550002'"
	assert_output "$((2 - shown))"
	run convo-db -q verify
	assert_success
}

# Record input.ndjson with N processes at once, each reading all of it
# in its own order, and compare with one run.
parallel_ingest() {
	local n=$1 k pids=()
	"$GEN_INPUT" 8000 300 "$n" >input.ndjson
	reference_state input.ndjson >expected.json
	for k in $(seq "$n"); do
		shuf --random-source=<(yes "$k") input.ndjson >"in$k.ndjson"
	done
	for k in $(seq "$n"); do
		timeout 600 convo-ingest -q --batch-size 200 "in$k.ndjson" \
		    >"out$k.ndjson" 2>"err$k.txt" 3>&- &
		pids+=($!)
	done
	for k in $(seq "$n"); do
		wait "${pids[$((k - 1))]}" ||
		    fail "run $k failed: $(cat "err$k.txt")"
	done
	run cat err*.txt
	assert_output ""
	state >actual.json
	run jq -n --slurpfile a actual.json --slurpfile e expected.json \
	    '$a == $e'
	assert_output "true"
	run duplicates
	assert_output "0"
	# Each message was inserted by exactly one of the runs.
	inserted=$(cat out*.ndjson | jq -c 'select(.kind == "message"
	    and .result == "inserted")' | wc -l)
	run sql "SELECT count(*) FROM convo.messages"
	assert_output "$inserted"
	run convo-db verify
	assert_success
	echo "# $n runs of $(wc -l <input.ndjson) lines: $inserted" \
	    "messages, $(duplicates) duplicates; ${lines[-1]#convo-db: }" >&3
}

@test "two parallel runs equal one run" {
	parallel_ingest 2
}

@test "four parallel runs equal one run" {
	parallel_ingest 4
}

@test "reading while recording loses no unread" {
	local reads=0 pid
	"$GEN_INPUT" 8000 200 31 >input.ndjson
	head -n 3000 input.ndjson | convo-ingest -q --batch-size 500 \
	    >/dev/null
	tail -n +3001 input.ndjson >rest.ndjson
	timeout 600 convo-ingest -q --batch-size 50 rest.ndjson \
	    >ingest.out 2>ingest.err 3>&- &
	pid=$!
	while kill -0 "$pid" 2>/dev/null && [ "$reads" -lt 300 ]; do
		convo-list --unread --limit 10 |
		    convo-read --limit 0 >>read.out 2>>read.err || true
		reads=$((reads + 1))
	done
	wait "$pid"
	run grep -i deadlock ingest.err read.err
	assert_failure 1
	# A message that was never printed must still count as unread.
	jq -r 'select(.type == "message") | .id | ltrimstr("m_")' read.out |
	    sort -u >shown.txt
	run psql -X -qAt -v ON_ERROR_STOP=1 "$CONVO_DB" \
	    -c "CREATE TEMP TABLE shown (id bigint)" \
	    -c "\\copy shown FROM 'shown.txt'" \
	    -c "SELECT count(*) FROM convo.messages m
	        JOIN convo.conversations c USING (account_id, profile_id,
	            channel)
	        WHERE m.direction = 'inbound' AND m.keyword_action IS NULL
	        AND m.counts_unread AND m.recorded_at <= c.last_read_at
	        AND m.message_id NOT IN (SELECT id FROM shown)"
	assert_output "0"
	run convo-db verify
	assert_success
	echo "# $reads reads of $(wc -l <shown.txt) messages while" \
	    "recording $(wc -l <rest.ndjson) lines; ${lines[-1]#convo-db: }" \
	    >&3
}

@test "block racing a send takes no deadlock" {
	{
		consent +12015550001 subscribed 2026-11-01T00:00:00Z
		echo '{"type":"consent","phone":"+12015550001","channel":"whatsapp","status":"subscribed","at":"2026-11-01T00:00:00Z"}'
		inbound +12015550001 hello SMd1 2026-11-02T10:00:00Z
		echo '{"type":"message","direction":"inbound","channel":"whatsapp","from":"whatsapp:+12015550001","to":"whatsapp:+12025550140","body":"hello","provider_message_id":"SMd2","sent_at":"2026-11-02T10:00:01Z"}'
	} | convo-ingest -q >/dev/null
	start_fake "always ok"
	# convo-mark locks the WhatsApp conversation that it blocks, and
	# then the customer's others. convo-send, marking the SMS reply
	# sending, locks the customer's conversations in channel order.
	hold "SELECT 1 FROM convo.conversations
	    WHERE channel = 'whatsapp' FOR UPDATE;"
	convo-mark -q --block whatsapp:+12015550001 >mark.out 2>mark.err 3>&- &
	mark=$!
	wait_for_waiters 1
	convo-send -q -t +12015550001 -b "Your order has shipped" \
	    >send.out 2>send.err 3>&- &
	send=$!
	wait_for_waiters 2
	release
	mark_status=0
	wait "$mark" || mark_status=$?
	send_status=0
	wait "$send" || send_status=$?
	run cat mark.err send.err
	refute_output --partial "deadlock"
	assert_equal "$mark_status" 0
	# The reply goes out before the block, or is rejected after it.
	if [ "$send_status" -eq 0 ]; then
		assert_equal "$(jq -r .status send.out)" "sent"
	else
		assert_equal "$send_status" 65
		assert_equal "$(jq -r .reason send.out)" "blocked"
	fi
	run sql "SELECT count(*) FROM convo.outbox WHERE state = 'queued'"
	assert_output "0"
}

@test "maintain racing new customers takes no deadlock" {
	local w i k pids=() status=0
	# Consent changes of 24 past months wait in the default partition,
	# so that maintain creates and fills a partition for each.
	for i in $(seq 1 24); do
		printf -v k '%02d' $(((i - 1) % 12 + 1))
		consent +12015550001 subscribed "$((2022 + (i - 1) / 12))-$k-15T00:00:00Z"
	done | convo-ingest -q >/dev/null
	# Four writers record consent for new customers in batches of five,
	# each batch inserting profiles, while maintain runs.
	for w in 1 2 3 4; do
		for i in $(seq 1 60); do
			printf -v k '+1%d55%05d' $((300 + w)) "$i"
			consent "$k" subscribed 2026-11-01T00:00:00Z
		done >"writer$w.ndjson"
		convo-ingest -q -b 5 "writer$w.ndjson" >/dev/null \
		    2>"writer$w.err" 3>&- &
		pids+=($!)
	done
	sleep 0.5
	convo-db -q maintain >maintain.out 2>maintain.err || status=$?
	for k in "${pids[@]}"; do
		wait "$k"
	done
	run cat maintain.err
	refute_output --partial "deadlock"
	assert_equal "$status" 0
	# Nor did the server cancel either side for a retry: it counted no
	# deadlock once the sessions had ended and reported.
	wait_until "SELECT (count(*) = 0)::int FROM pg_stat_activity
	    WHERE datname = current_database()
	    AND application_name LIKE 'convo-%'" 1
	run sql "SELECT deadlocks FROM pg_stat_database
	    WHERE datname = current_database()"
	assert_output 0
}
