#!/usr/bin/env bats
# Monthly partitions of messages and consent changes: idempotent ingest
# across months, convo-db maintain and convo-db archive.

load helper

# An inbound text of +12015550123 with provider id ID sent at AT.
text() {
	printf '{"type":"message","direction":"inbound","channel":"sms",'
	printf '"from":"+12015550123","to":"+12025550140","body":"%s",' "$3"
	printf '"provider":"twilio","provider_message_id":"%s",' "$1"
	printf '"sent_at":"%s"}\n' "$2"
}

# The partition that holds message ID, without the schema.
partition_of() {
	sql "SELECT m.tableoid::regclass FROM convo.messages m
	    WHERE m.provider_message_id = '$1'"
}

@test "migration creates this month and three ahead" {
	run sql "SELECT p.parent, count(*) FROM convo.partitions() p
	    WHERE p.attached AND p.month >= date_trunc('month',
	        now() AT TIME ZONE 'UTC')
	    GROUP BY 1 ORDER BY 1"
	assert_output "$(printf 'consent_changes|4\nmessages|4')"
	run sql "SELECT count(*) FROM pg_inherits
	    WHERE inhrelid = 'convo_partitions.messages_default'::regclass"
	assert_output 1
}

@test "redelivery in the next month is a duplicate" {
	convo-db -q maintain
	sql "SELECT convo.partition_create('messages', '2026-01-01'),
	    convo.partition_create('messages', '2026-02-01')" >/dev/null
	text SMredeliver1 2026-01-31T23:59:59Z 'late order question' >in
	text SMredeliver1 2026-02-01T00:00:01Z 'late order question' >>in
	run convo-ingest -q -a default in
	assert_success
	run jq -r .result <<<"$output"
	assert_output "$(printf 'inserted\nduplicate')"
	text SMredeliver1 2026-02-01T00:00:05Z 'late order question' >again
	run convo-ingest -q -a default again
	assert_success
	[ "$(jq -r .result <<<"$output")" = duplicate ]
	run sql "SELECT count(*), min(sent_at) FROM convo.messages
	    WHERE provider_message_id = 'SMredeliver1'"
	assert_output '1|2026-01-31 23:59:59+00'
	run partition_of SMredeliver1
	assert_output convo_partitions.messages_2026_01
	run convo-db -q verify
	assert_success
}

@test "message of a month without a partition waits in the default" {
	text SMold1 2019-05-03T10:00:00Z 'an old question' >in
	text SMold2 2019-05-20T10:00:00Z 'another old one' >>in
	text SMold3 2019-07-01T00:00:00Z 'and a later one' >>in
	convo-ingest -q -a default in >/dev/null
	run partition_of SMold1
	assert_output convo_partitions.messages_default
	run convo-db maintain
	assert_success
	assert_line '{"type":"partition","table":"messages","month":"2019-05","partition":"convo_partitions.messages_2019_05","moved":2}'
	assert_line '{"type":"partition","table":"messages","month":"2019-07","partition":"convo_partitions.messages_2019_07","moved":1}'
	assert_line 'convo-db: created 2 partitions'
	run partition_of SMold2
	assert_output convo_partitions.messages_2019_05
	run sql "SELECT count(*) FROM convo_partitions.messages_default"
	assert_output 0
	run convo-read --no-mark-read +12015550123
	assert_success
	run jq -r 'select(.type == "message") | .body' <<<"$output"
	assert_output "$(printf 'an old question\nanother old one\nand a later one')"
}

@test "maintain twice creates nothing the second time" {
	convo-db -q maintain --ahead 5 >/dev/null
	run convo-db maintain --ahead 5
	assert_success
	assert_output 'convo-db: created 0 partitions'
	run sql "SELECT count(*) FROM convo.partitions() p
	    WHERE p.parent = 'messages' AND p.month >= date_trunc('month',
	        now() AT TIME ZONE 'UTC')"
	assert_output 6
}

@test "two maintain runs at once create each partition once" {
	convo-db -q maintain --ahead 24 >a &
	convo-db -q maintain --ahead 24 >b &
	wait %1 && wait %2
	run sort a b
	[ "$(grep -c '"table":"messages"' <<<"$output")" -eq 21 ]
	run sql "SELECT count(*) FROM convo.partitions() p
	    WHERE p.parent = 'messages' AND p.month >= date_trunc('month',
	        now() AT TIME ZONE 'UTC')"
	assert_output 25
}

@test "a far-future message stays in the default partition" {
	text SMfar 9999-12-31T00:00:00Z 'from the future' >in
	convo-ingest -q -a default in >/dev/null
	convo-db -q maintain >/dev/null
	run partition_of SMfar
	assert_output convo_partitions.messages_default
}

@test "maintain rejects a bad month count" {
	run convo-db maintain --ahead 500
	assert_failure 64
	assert_output --partial 'months must be a number from 0 to 120, not "500"'
	run convo-db maintain --ahead ' 3'
	assert_failure 64
	run convo-db maintain --ahead +5
	assert_failure 64
}

# Ingest two months of texts and consent changes of 2025 and keep
# their partitions.
# Run the SQL on standard input in another session that first takes the
# partition lock, as a run of convo-db archive does, and return once it
# holds the lock.
other_run() {
	local i
	{
		printf 'BEGIN;\nSELECT convo.partitions_lock();\n\\! touch locked\n'
		cat
	} | psql -X -q "$CONVO_DB" >other.out 2>&1 &
	for i in $(seq 100); do
		[ -e locked ] && return 0
		sleep 0.05
	done
	fail "the lock was not taken: $(cat other.out)"
}

two_old_months() {
	text SMjan1 2025-01-10T09:00:00Z 'january question' >in
	text SMjan2 2025-01-11T09:00:00Z 'january follow-up' >>in
	text SMfeb1 2025-02-10T09:00:00Z 'february question' >>in
	convo-ingest -q -a default in >/dev/null
	convo-db -q maintain >/dev/null
}

@test "archive copies old months to files and drops them" {
	two_old_months
	mkdir archive
	run convo-db archive --before 2025-02 --dir archive
	assert_success
	assert_line '{"type":"archive","table":"messages","month":"2025-01","partition":"convo_partitions.messages_2025_01","rows":2,"file":"archive/messages_2025_01.copy"}'
	assert_line 'convo-db: archived 1 partition before 2025-02'
	[ "$(wc -l <archive/messages_2025_01.copy)" -eq 2 ]
	grep -q 'january follow-up' archive/messages_2025_01.copy
	run sql "SELECT to_regclass('convo_partitions.messages_2025_01'),
	    (SELECT count(*) FROM convo.messages)"
	assert_output '|1'
	run partition_of SMfeb1
	assert_output convo_partitions.messages_2025_02
}

@test "archive takes the rows waiting in the default partition" {
	text SMold4 2019-05-03T10:00:00Z 'an old question' >in
	text SMold5 2019-05-20T10:00:00Z 'another old one' >>in
	text SMold6 2019-07-01T00:00:00Z 'a month later' >>in
	convo-ingest -q -a default in >/dev/null
	mkdir archive
	run convo-db archive --before 2019-06 --dir archive
	assert_success
	assert_line --index 0 '{"type":"partition","table":"messages","month":"2019-05","partition":"convo_partitions.messages_2019_05","moved":2}'
	assert_line --index 1 '{"type":"archive","table":"messages","month":"2019-05","partition":"convo_partitions.messages_2019_05","rows":2,"file":"archive/messages_2019_05.copy"}'
	assert_line 'convo-db: archived 1 partition before 2019-06'
	grep -q 'another old one' archive/messages_2019_05.copy
	run sql "SELECT provider_message_id FROM convo.messages"
	assert_output SMold6
	run partition_of SMold6
	assert_output convo_partitions.messages_default
}

@test "archived message redelivered is still a duplicate" {
	two_old_months
	convo-db -q archive --before 2025-02 >/dev/null
	text SMjan1 2025-01-10T09:00:00Z 'january question' >again
	run convo-ingest -q -a default again
	assert_success
	run jq -r '[.result, .note] | join(": ")' <<<"$output"
	assert_output 'duplicate: message archived'
	run sql "SELECT count(*) FROM convo.messages
	    WHERE provider_message_id = 'SMjan1'"
	assert_output 0
}

@test "archived month restores with copy" {
	two_old_months
	convo-db -q archive --before 2025-02 >/dev/null
	psql -X -q -v ON_ERROR_STOP=1 "$CONVO_DB" \
	    -c '\copy convo.messages FROM messages_2025_01.copy'
	convo-db -q maintain >/dev/null
	run partition_of SMjan2
	assert_output convo_partitions.messages_2025_01
	run convo-db -q verify
	assert_success
}

@test "archive never replaces an existing file" {
	two_old_months
	echo 'kept' >messages_2025_01.copy
	run convo-db archive --before 2025-02
	assert_failure 73
	assert_output --partial 'messages_2025_01.copy exists; move it away and run again'
	[ "$(cat messages_2025_01.copy)" = kept ]
	# The partition was detached, not dropped: the next run archives it.
	rm messages_2025_01.copy
	run convo-db -q archive --before 2025-02
	assert_success
	[ "$(jq -r .rows <<<"$output")" = 2 ]
}

@test "archive needs a month as YYYY-MM" {
	run convo-db archive --before 2025-13
	assert_failure 64
	assert_output --partial 'expected a month as YYYY-MM, not "2025-13"'
	run convo-db archive
	assert_failure 64
	assert_output --partial 'archive needs --before YYYY-MM'
}

@test "verify reports a key whose time differs from its message" {
	convo-ingest -q "$SAMPLE" >/dev/null
	sql "UPDATE convo.message_keys SET sent_at = sent_at + interval '1 day'
	    WHERE provider_message_id = (SELECT min(provider_message_id)
	        FROM convo.message_keys)"
	run convo-db -q verify
	assert_failure 1
	run jq -r .field <<<"$output"
	assert_output message_key
}

@test "consent changes move to the partitions of their months" {
	convo-ingest -q "$SAMPLE" >/dev/null
	[ "$(sql "SELECT count(*) FROM convo_partitions.consent_changes_default")" -gt 0 ]
	convo-db -q maintain >/dev/null
	run sql "SELECT count(*) FROM convo_partitions.consent_changes_default"
	assert_output 0
	run sql "SELECT bool_and(c.tableoid::regclass::text =
	    'convo_partitions.consent_changes_' || to_char(c.at AT TIME ZONE 'UTC',
	        'YYYY_MM')) FROM convo.consent_changes c"
	assert_output t
	run convo-db -q verify
	assert_success
}

@test "pg_partman takes over the monthly partitions" {
	[ -e "$(pg_config --sharedir 2>/dev/null)/extension/pg_partman.control" ] ||
	    [ -e /usr/share/postgresql/15/extension/pg_partman.control ] ||
	    skip "pg_partman is not installed (Debian: postgresql-15-partman)"
	sql "CREATE SCHEMA partman;
	    CREATE EXTENSION pg_partman SCHEMA partman" >/dev/null
	psql -X -q -v ON_ERROR_STOP=1 "$CONVO_DB" >/dev/null <<-'SQL'
	BEGIN;
	SELECT convo.partitions_release();
	SELECT partman.create_parent(p_parent_table => 'convo.messages',
	    p_control => 'sent_at', p_type => 'native',
	    p_interval => 'monthly', p_premake => 3);
	SELECT partman.create_parent(p_parent_table => 'convo.consent_changes',
	    p_control => 'at', p_type => 'native',
	    p_interval => 'monthly', p_premake => 3);
	COMMIT;
	SQL
	text SMpm1 "$(date -u +%Y-%m-%dT%H:%M:%SZ)" 'a question today' >in
	run convo-ingest -q -a default in
	assert_success
	[ "$(jq -r .result <<<"$output")" = inserted ]
	run partition_of SMpm1
	assert_output "convo.messages_p$(date -u +%Y_%m)"
	run convo-ingest -q -a default in
	[ "$(jq -r .result <<<"$output")" = duplicate ]
	run sql "SELECT convo.partitions_release()"
	assert_success
	assert_output 0
	run convo-db maintain
	assert_failure 78
	assert_output --partial 'managed by pg_partman: run partman.run_maintenance() instead'
	run convo-db archive --before 2020-01
	assert_failure 78
	run sql "SELECT partman.run_maintenance()"
	assert_success
	run convo-db -q verify
	assert_success
}

@test "release needs pg_partman" {
	run sql "SELECT convo.partitions_release()"
	assert_failure
	assert_output --partial 'pg_partman is not installed'
	run sql "SELECT count(*) FROM convo.partitions()"
	[ "$output" -gt 0 ]
}

@test "maintain restores missing default partitions" {
	sql "DROP TABLE convo_partitions.messages_default" >/dev/null
	run convo-db -q maintain
	assert_success
	text SMdef 2019-01-05T10:00:00Z 'back again' >in
	run convo-ingest -q -a default in
	assert_success
	run partition_of SMdef
	assert_output convo_partitions.messages_default
}

@test "maintain waits for a running batch instead of deadlocking" {
	convo-ingest -q "$SAMPLE" >/dev/null
	text SMwait 2019-02-05T10:00:00Z 'waiting in the default' >in
	convo-ingest -q -a default in >/dev/null
	# A batch that wrote a profile and reads messages after maintain
	# has started.
	psql -X -q -v ON_ERROR_STOP=1 "$CONVO_DB" >batch.out 2>&1 <<-'SQL' &
	BEGIN;
	UPDATE convo.profiles SET first_name = first_name
	    WHERE phone = '+12015550123';
	SELECT pg_sleep(1.5);
	SELECT count(*) FROM convo.messages;
	COMMIT;
	SQL
	local batch=$!
	sleep 0.5
	run convo-db maintain --ahead 6
	assert_success
	assert_line --partial '"month":"2019-02"'
	wait "$batch"
	run cat batch.out
	refute_output --partial 'deadlock'
}

@test "maintain stops at a detached month" {
	two_old_months
	sql "SELECT convo.partition_detach('messages_2025_01')" >/dev/null
	text SMjan9 2025-01-20T09:00:00Z 'after the detach' >in
	convo-ingest -q -a default in >/dev/null
	run convo-db maintain
	assert_failure
	assert_output --partial 'partition convo_partitions.messages_2025_01 is detached'
	run convo-db -q archive --before 2025-02
	assert_failure 73
	[ "$(jq -r .rows <<<"${lines[0]}")" = 2 ]
	assert_line --index 1 'convo-db: rows of messages of 2025-01 reached the default partition after the month was detached, so ./messages_2025_01.copy, which this run wrote, does not contain them. Move that file away and run archive again to archive them'
	run convo-db -q maintain
	assert_success
	run partition_of SMjan9
	assert_output convo_partitions.messages_2025_01
}

@test "rows of an archived month wait for its file to move" {
	two_old_months
	convo-db -q archive --before 2025-02 >/dev/null
	text SMjan8 2025-01-21T09:00:00Z 'after the archive' >in
	convo-ingest -q -a default in >/dev/null
	run convo-db archive --before 2025-02
	assert_failure 73
	assert_line 'convo-db: rows of messages of 2025-01 wait in the default partition, and ./messages_2025_01.copy exists; move it away and run archive again'
	run partition_of SMjan8
	assert_output convo_partitions.messages_default
	mkdir kept
	mv messages_2025_01.copy kept/
	run convo-db archive --before 2025-02
	assert_success
	assert_line --index 0 '{"type":"partition","table":"messages","month":"2025-01","partition":"convo_partitions.messages_2025_01","moved":1}'
	assert_line --index 1 '{"type":"archive","table":"messages","month":"2025-01","partition":"convo_partitions.messages_2025_01","rows":1,"file":"./messages_2025_01.copy"}'
	grep -q 'after the archive' messages_2025_01.copy
	run sql "SELECT count(*) FROM convo.messages WHERE sent_at < '2025-02-01'"
	assert_output 0
}

@test "archive checks its file before detaching" {
	two_old_months
	echo 'kept' >messages_2025_01.copy
	run convo-db archive --before 2025-02
	assert_failure 73
	run sql "SELECT count(*) FROM convo.partitions()
	    WHERE partition = 'messages_2025_01' AND attached"
	assert_output 1
	echo 'not a directory' >afile
	chmod +x afile
	run convo-db archive --before 2025-02 --dir afile
	assert_failure 64
	assert_output --partial 'afile is not a directory'
	run convo-read --no-mark-read +12015550123
	[ "$(grep -c 'january' <<<"$output")" -eq 2 ]
}

@test "archive waits for another run's drop" {
	two_old_months
	# Another run has written the month's file and not yet committed
	# the drop, so it still holds the partition lock.
	echo 'written by the other run' >messages_2025_01.copy
	other_run <<'EOF'
SELECT pg_sleep(1);
SELECT convo.partition_detach('messages_2025_01');
SELECT convo.partition_drop('messages_2025_01');
COMMIT;
EOF
	run --separate-stderr convo-db archive --before 2025-02
	assert_success
	assert_output ""
	assert_equal "$stderr" 'convo-db: archived 0 partitions before 2025-02'
	wait
	assert_equal "$(cat messages_2025_01.copy)" 'written by the other run'
	run sql "SELECT count(*) FROM convo.partitions()
	    WHERE partition = 'messages_2025_01'"
	assert_output 0
}

@test "archive after another run failed" {
	two_old_months
	# Another run wrote the month's file, then failed to drop the month:
	# it removes the file and rolls back.
	echo 'written by the other run' >messages_2025_01.copy
	other_run <<'EOF'
SELECT pg_sleep(1);
\! rm messages_2025_01.copy
ROLLBACK;
EOF
	run --separate-stderr convo-db archive --before 2025-02
	assert_success
	assert_equal "$stderr" 'convo-db: archived 1 partition before 2025-02'
	wait
	[ "$(wc -l <messages_2025_01.copy)" -eq 2 ]
	run sql "SELECT count(*) FROM convo.partitions()
	    WHERE partition = 'messages_2025_01'"
	assert_output 0
}

@test "archive goes on past a month whose file exists" {
	two_old_months
	convo-db -q archive --before 2025-02 >/dev/null
	text SMjan6 2025-01-22T09:00:00Z 'late and given a partition' >in
	convo-ingest -q -a default in >/dev/null
	convo-db -q maintain >/dev/null
	run partition_of SMjan6
	assert_output convo_partitions.messages_2025_01
	run convo-db archive --before 2025-03
	assert_failure 73
	assert_line --index 0 'convo-db: ./messages_2025_01.copy exists; move it away and run again'
	assert_line --index 1 --partial '"month":"2025-02","partition":"convo_partitions.messages_2025_02","rows":1'
	assert_line --index 2 'convo-db: archived 1 partition before 2025-03'
	run partition_of SMjan6
	assert_output convo_partitions.messages_2025_01
}

@test "rows that arrive during an archive are reported" {
	two_old_months
	# A month-old message lands in the default partition while the
	# archive waits for the partition lock.
	other_run <<'EOF'
SELECT pg_sleep(1);
INSERT INTO convo.messages SELECT (jsonb_populate_record(m,
    jsonb_build_object('message_id', m.message_id + 1000,
    'provider_message_id', 'SMjan7', 'sent_at', '2024-12-03T10:00:00Z'))).*
FROM convo.messages m WHERE m.provider_message_id = 'SMfeb1';
COMMIT;
EOF
	run convo-db archive --before 2025-02
	assert_failure 75
	assert_line --index 0 --partial '"month":"2025-01"'
	assert_line 'convo-db: rows of messages of 2024-12 reached the default partition during the run; run archive again'
	wait
	run convo-db -q archive --before 2025-02
	assert_success
	assert_line --partial '"month":"2024-12","partition":"convo_partitions.messages_2024_12","rows":1'
}

@test "archive reports rows its file missed" {
	two_old_months
	# A January message lands in the default partition once the month
	# is detached, while the archive waits for the partition lock.
	other_run <<'EOF'
SELECT pg_sleep(1);
SELECT convo.partition_detach('messages_2025_01');
INSERT INTO convo.messages SELECT (jsonb_populate_record(m,
    jsonb_build_object('message_id', m.message_id + 1000,
    'provider_message_id', 'SMjan7', 'sent_at', '2025-01-20T10:00:00Z'))).*
FROM convo.messages m WHERE m.provider_message_id = 'SMfeb1';
COMMIT;
EOF
	run convo-db archive --before 2025-02
	assert_failure 73
	assert_line --index 0 --partial '"month":"2025-01","partition":"convo_partitions.messages_2025_01","rows":2'
	assert_line --index 1 'convo-db: rows of messages of 2025-01 reached the default partition after the month was detached, so ./messages_2025_01.copy, which this run wrote, does not contain them. Move that file away and run archive again to archive them'
	wait
	run partition_of SMjan7
	assert_output convo_partitions.messages_default
	mkdir kept
	mv messages_2025_01.copy kept/
	run convo-db -q archive --before 2025-02
	assert_success
	assert_line --partial '"month":"2025-01","partition":"convo_partitions.messages_2025_01","rows":1'
}

@test "archive names a missing directory" {
	two_old_months
	run convo-db archive --before 2025-02 --dir archive/2025
	assert_failure 73
	assert_output 'convo-db: --dir: archive/2025 does not exist. Create it with mkdir -p archive/2025'
	run sql "SELECT count(*) FROM convo.partitions()
	    WHERE partition = 'messages_2025_01' AND attached"
	assert_output 1
}

# The consent in force of +12015550123 on sms.
consent_of() {
	sql "SELECT c.status FROM convo.consent c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '+12015550123' AND c.channel = 'sms'"
}

# Record a consent record of STATUS on January 2, 2025 and a text ID
# with BODY on January 5 from +12015550123, as the file "in", and
# archive January.
archive_january() {
	printf '{"type":"consent","phone":"+12015550123","status":"%s","at":"2025-01-02T09:00:00Z"}\n' \
	    "$1" >in
	text "$2" 2025-01-05T09:00:00Z "$3" >>in
	convo-ingest -q -a default in >/dev/null
	convo-db -q maintain >/dev/null
	convo-db -q archive --before 2025-02 >/dev/null
}

@test "an archived STOP is not undone by a re-import" {
	archive_january subscribed SMjan5 STOP
	run convo-ingest -q -a default in
	assert_success
	run consent_of
	assert_output unsubscribed
	# A new text of the customer keeps the archived STOP in force too.
	text SMmar1 2025-03-01T09:00:00Z 'a question' | convo-ingest -q >/dev/null
	run consent_of
	assert_output unsubscribed
}

@test "an archived opt-in stays in force" {
	archive_january subscribed SMjan4 hello
	run sql "SELECT count(*) FROM convo.consent_changes"
	assert_output 0
	text SMmar2 2025-03-01T09:00:00Z 'a question' | convo-ingest -q >/dev/null
	run sql "SELECT count(*) FROM convo.messages"
	assert_output 1
	run consent_of
	assert_output subscribed
}

@test "a re-import while a month is detached keeps its STOP" {
	printf '{"type":"consent","phone":"+12015550123","status":"subscribed","at":"2025-01-02T09:00:00Z"}\n' >in
	text SMjan3 2025-01-05T09:00:00Z 'STOP' >>in
	convo-ingest -q -a default in >/dev/null
	convo-db -q maintain >/dev/null
	# An archive has detached the month and not yet dropped it.
	sql "SELECT convo.partition_detach('consent_changes_2025_01')" >/dev/null
	convo-ingest -q -a default in >/dev/null
	run consent_of
	assert_output unsubscribed
}

@test "a YES after an archived STOP opts in" {
	archive_january subscribed SMjan2 STOP
	convo-ingest -q -a default in >/dev/null
	text SMmar3 2025-03-01T09:00:00Z 'YES' | convo-ingest -q >/dev/null
	run sql "SELECT keyword_action FROM convo.messages"
	assert_output opt_in
	run consent_of
	assert_output subscribed
}

@test "a YES after an archived STOP stays an opt-in" {
	archive_january subscribed SMjan2 STOP
	# The re-import brings back the opt-in of January 2, before the STOP.
	convo-ingest -q -a default in >/dev/null
	text SMmar3 2025-03-01T09:00:00Z 'YES' | convo-ingest -q >/dev/null
	# The next text of the customer judges the YES again.
	text SMmar6 2025-03-02T09:00:00Z 'thanks' | convo-ingest -q >/dev/null
	run sql "SELECT provider_message_id, coalesce(keyword_action, 'none')
	    FROM convo.messages ORDER BY sent_at"
	assert_output "$(printf 'SMmar3|opt_in\nSMmar6|none')"
	run sql "SELECT status, convo.rfc3339(changed_at), archived
	    FROM convo.consent"
	assert_output 'subscribed|2025-03-01T09:00:00Z|f'
	run convo-db -q verify
	assert_success
}

@test "a YES after an archived START is a text" {
	archive_january unsubscribed SMjan1 START
	text SMmar4 2025-03-01T09:00:00Z 'YES' | convo-ingest -q >/dev/null
	run sql "SELECT coalesce(keyword_action, 'none') FROM convo.messages"
	assert_output none
	run sql "SELECT count(*) FROM convo.conversations"
	assert_output 1
	run consent_of
	assert_output subscribed
}

@test "verify accepts an archived consent in force" {
	archive_january subscribed SMjan5 STOP
	run convo-db -q verify
	assert_success
	# The re-import adds the opt-in of January 2 again, older than the
	# archived STOP.
	convo-ingest -q -a default in >/dev/null
	run convo-db -q verify
	assert_success
}

@test "restored consent month clears the archived flag" {
	archive_january subscribed SMjan5 STOP
	run sql "SELECT archived FROM convo.consent"
	assert_output t
	psql -X -q -v ON_ERROR_STOP=1 "$CONVO_DB" \
	    -c '\copy convo.consent_changes FROM consent_changes_2025_01.copy'
	convo-db -q maintain >/dev/null
	run sql "SELECT status, archived FROM convo.consent"
	assert_output unsubscribed\|f
	run convo-db -q verify
	assert_success
}

@test "a restored month keeps older archived consent" {
	{
		text SMx1 2025-01-10T09:00:00Z START
		text SMx2 2025-02-05T09:00:00Z YES
		text SMx3 2025-02-20T09:00:00Z START
		text SMx4 2025-04-20T09:00:00Z thanks
	} | convo-ingest -q >/dev/null
	convo-db -q maintain >/dev/null
	convo-db -q archive --before 2025-03 >/dev/null
	psql -X -q -v ON_ERROR_STOP=1 "$CONVO_DB" \
	    -c '\copy convo.messages FROM messages_2025_02.copy' \
	    -c '\copy convo.consent_changes FROM consent_changes_2025_02.copy'
	convo-db -q maintain >/dev/null
	# The YES came after the archived START of January: no opt-in.
	run sql "SELECT coalesce(keyword_action, 'none') FROM convo.messages
	    WHERE provider_message_id = 'SMx2'"
	assert_output none
	run convo-db -q verify
	assert_success
	text SMx5 2025-04-21T09:00:00Z 'and again' | convo-ingest -q >/dev/null
	run sql "SELECT coalesce(keyword_action, 'none') FROM convo.messages
	    WHERE provider_message_id = 'SMx2'"
	assert_output none
	run consent_of
	assert_output subscribed
}

@test "restore skips consent recorded again" {
	archive_january subscribed SMjan5 STOP
	convo-ingest -q -a default in >/dev/null
	run convo-db psql -c "\\copy convo.consent_changes FROM 'consent_changes_2025_01.copy'"
	assert_failure
	run convo-db psql -q \
	    -c "CREATE TEMP TABLE back (LIKE convo.consent_changes)" \
	    -c "\\copy back FROM 'consent_changes_2025_01.copy'" \
	    -c "INSERT INTO convo.consent_changes SELECT * FROM back
	        ON CONFLICT DO NOTHING"
	assert_success
	convo-db -q maintain >/dev/null
	run sql "SELECT status, method FROM convo.consent_changes
	    ORDER BY at"
	assert_output "$(printf 'subscribed|import\nunsubscribed|keyword')"
	run sql "SELECT status, archived FROM convo.consent"
	assert_output 'unsubscribed|f'
	run convo-db -q verify
	assert_success
}

@test "reading a thread of archived months marks it read" {
	text SMjan7 2025-01-07T09:00:00Z 'where is my order?' | convo-ingest -q >/dev/null
	convo-db -q maintain >/dev/null
	convo-db -q archive --before 2025-02 >/dev/null
	run convo-list --unread
	run jq -r '.unread_count' <<<"$output"
	assert_output 1
	run convo-read c_1
	assert_success
	assert_output ""
	run convo-list --unread
	assert_output ""
}

# Add a consent change of STATUS at AT for +12015550123 on sms, leaving
# the consent in force as it is.
add_change() {
	sql "INSERT INTO convo.consent_changes (account_id, profile_id,
	    channel, status, method, at)
	SELECT account_id, profile_id, 'sms', '$1', 'import', '$2'
	FROM convo.profiles WHERE phone = '+12015550123'" >/dev/null
}

@test "verify reports replaced archived consent" {
	archive_january subscribed SMjan5 STOP
	add_change subscribed 2025-03-01T09:00:00Z
	run convo-db -q verify
	assert_failure 1
	run jq -r '[.field, .stored, .expected] | join(" ")' <<<"$output"
	assert_line 'consent unsubscribed subscribed'
	assert_line 'consent_changed_at 2025-01-05T09:00:00Z 2025-03-01T09:00:00Z'
}

@test "verify reports archived opt-in tied with STOP" {
	archive_january unsubscribed SMjan1 START
	add_change unsubscribed 2025-01-05T09:00:00Z
	run convo-db -q verify
	assert_failure 1
	run jq -r '[.field, .stored, .expected] | join(" ")' <<<"$output"
	assert_output 'consent subscribed unsubscribed'
}

@test "verify judges YES by archived consent" {
	archive_january unsubscribed SMjan1 START
	text SMmar5 2025-03-01T09:00:00Z 'YES' | convo-ingest -q >/dev/null
	run convo-db -q verify
	refute_output --partial '"field":"keyword_action"'
	assert_success
}

# Store a sent reply to +12015550123 with idempotency key KEY and
# provider message id ID.
sent_reply() {
	sql "INSERT INTO convo.outbox (account_id, idempotency_key, profile_id,
	    channel, to_address, body, origin, state, provider,
	    provider_message_id, encoding, segments, units)
	SELECT account_id, '$1', profile_id, 'sms', phone, 'Thanks',
	    'conversation', 'sent', 'twilio', '$2', 'GSM-7', 1, 1
	FROM convo.profiles WHERE phone = '+12015550123'" >/dev/null
}

# The consent in force of +12015550123 on sms, whether it is marked
# archived, and whether its change is among the changes left.
consent_row() {
	sql "SELECT c.status, c.archived, EXISTS (SELECT 1
	    FROM convo.consent_changes k WHERE k.account_id = c.account_id
	        AND k.change_id = c.change_id)
	FROM convo.consent c JOIN convo.profiles p USING (account_id, profile_id)
	WHERE p.phone = '+12015550123' AND c.channel = 'sms'"
}

@test "receipt opt-out replaces an archived consent in force" {
	archive_january unsubscribed SMjan4 START
	sent_reply k1 SMout1
	printf '{"type":"status","provider_message_id":"SMout1","status":"failed","error_code":21610,"at":"2025-03-01T09:00:00Z","outbox_id":"o_%s"}\n' \
	    "$(sql "SELECT outbox_id FROM convo.outbox
	        WHERE idempotency_key = 'k1'")" | convo-ingest -q >/dev/null
	run consent_row
	assert_output 'unsubscribed|f|t'
	run convo-db -q verify
	assert_success
}

@test "send error 21610 replaces an archived consent in force" {
	archive_january unsubscribed SMjan4 START
	sent_reply k1 SMout2
	sql "SELECT convo.outbox_failed(account_id, outbox_id, '21610',
	    'Attempt to send to unsubscribed recipient') FROM convo.outbox
	    WHERE idempotency_key = 'k1'" >/dev/null
	run consent_row
	assert_output 'unsubscribed|f|t'
	run convo-db -q verify
	assert_success
}

@test "archive keeps the current month" {
	run convo-db archive --before 2099-01
	assert_failure 64
	assert_output --partial 'archive keeps the current month and later ones'
	run sql "SELECT count(*) FROM convo.partitions() WHERE NOT attached"
	assert_output 0
}

@test "two archive runs at once archive each month once" {
	local i
	for ((i = 1; i <= 3000; i++)); do
		text "SMbulk$i" "2025-01-$(printf '%02d' $((i % 28 + 1)))T09:00:00Z" \
		    "question $i"
	done >bulk
	convo-ingest -q -a default bulk >/dev/null
	convo-db -q maintain >/dev/null
	convo-db -q archive --before 2025-02 >a.out 2>a.err &
	convo-db -q archive --before 2025-02 >b.out 2>b.err &
	wait %1 && wait %2 || {
		cat a.err b.err
		false
	}
	run cat a.out b.out
	[ "${#lines[@]}" -eq 1 ]
	[ "$(jq -r .rows <<<"$output")" = 3000 ]
	[ "$(wc -l <messages_2025_01.copy)" -eq 3000 ]
	run ls -A
	refute_output --partial '.copy.'
	psql -X -q -v ON_ERROR_STOP=1 "$CONVO_DB" \
	    -c '\copy convo.messages FROM messages_2025_01.copy'
	run sql "SELECT count(*) FROM convo.messages
	    WHERE provider_message_id LIKE 'SMbulk%'"
	assert_output 3000
}

# An inbound text from PHONE with provider id ID sent at AT.
text_from() {
	printf '{"type":"message","direction":"inbound","channel":"sms",'
	printf '"from":"%s","to":"+12025550140","body":"%s",' "$1" "$4"
	printf '"provider":"twilio","provider_message_id":"%s",' "$2"
	printf '"sent_at":"%s"}\n' "$3"
}

# The conversation id of PHONE on sms, without the prefix.
conversation_of() {
	sql "SELECT c.conversation_id FROM convo.conversations c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '$1' AND c.channel = 'sms'"
}

# Print the mismatches of verify as "conversation field stored expected".
mismatches() {
	convo-db -q verify | jq -r '[.conversation_id, .field,
	    (.stored | tojson), (.expected | tojson)] | join(" ")'
}

# Record three threads and archive January 2025: +12015550123 wrote in
# January only, last a text that reads like an opt-out; +12015550124 in
# January and February; +12015550125 in February only.
archive_three_threads() {
	{
		text_from +12015550123 SMt1 2025-01-10T09:00:00Z 'where is my order?'
		text_from +12015550123 SMt2 2025-01-11T09:00:00Z 'Please stop texting me'
		text_from +12015550124 SMt3 2025-01-12T09:00:00Z 'january question'
		text_from +12015550124 SMt4 2025-02-12T09:00:00Z 'february question'
		text_from +12015550125 SMt5 2025-02-13T09:00:00Z 'february only'
	} | convo-ingest -q >/dev/null
	convo-db -q maintain >/dev/null
	convo-db -q archive --before 2025-02 >/dev/null
}

# Copy January 2025 back from its archive file and give it its partition.
restore_january() {
	psql -X -q -v ON_ERROR_STOP=1 "$CONVO_DB" \
	    -c '\copy convo.messages FROM messages_2025_01.copy'
	convo-db -q maintain >/dev/null
}

@test "verify accepts summaries of archived months" {
	archive_three_threads
	run convo-db verify
	assert_success
	assert_output 'convo-db: verified 3 conversations, 0 consent states and 2 messages in 1 account: 0 mismatches'
}

@test "verify finds changed archived summaries" {
	local a b
	archive_three_threads
	a=$(conversation_of +12015550123)
	b=$(conversation_of +12015550124)
	sql "UPDATE convo.conversations SET last_body = 'old text',
	    brand_address = '+12025550199', unread_count = 7
	    WHERE conversation_id = $a"
	sql "UPDATE convo.conversations SET unread_count = 0
	    WHERE conversation_id = $b"
	run convo-db -q verify
	assert_failure 1
	run mismatches
	assert_line "c_$a last_body \"old text\" \"Please stop texting me\""
	assert_line "c_$a brand_address \"+12025550199\" \"+12025550140\""
	assert_line "c_$a unread_count 7 2"
	assert_line "c_$b unread_count 0 1"
	assert_equal "${#lines[@]}" 4
}

@test "verify is exact without archived months" {
	local c
	archive_three_threads
	c=$(conversation_of +12015550125)
	sql "UPDATE convo.conversations SET unread_count = 2
	    WHERE conversation_id = $c"
	run mismatches
	assert_output "c_$c unread_count 2 1"
}

@test "verify reports dropped archived flag" {
	local a
	archive_three_threads
	a=$(conversation_of +12015550123)
	sql "UPDATE convo.conversations SET flagged_message_id = NULL
	    WHERE conversation_id = $a"
	run mismatches
	assert_output "c_$a flagged_message_id null \"m_2\""
	# A dismissal leaves the flag empty on purpose.
	convo-mark -q --dismiss-flag "c_$a" >/dev/null
	run convo-db -q verify
	assert_success
}

@test "restored month verifies clean" {
	archive_three_threads
	run sql "SELECT count(*) FROM convo.messages_archived"
	assert_output 2
	restore_january
	run sql "SELECT count(*) FROM convo.messages_archived"
	assert_output 0
	run convo-db verify
	assert_success
	assert_output 'convo-db: verified 3 conversations, 0 consent states and 5 messages in 1 account: 0 mismatches'
}

@test "read while archived verifies after restore" {
	local a b
	archive_three_threads
	a=$(conversation_of +12015550123)
	b=$(conversation_of +12015550124)
	convo-read "c_$a" >/dev/null
	convo-read "c_$b" >/dev/null
	run sql "SELECT unread_count FROM convo.conversations
	    ORDER BY conversation_id"
	assert_output "$(printf '0\n0\n1')"
	run convo-db -q verify
	assert_success
	restore_january
	# The thread of January alone had no text left to read, so it kept
	# no read mark, and its texts are unread again once they are back.
	run sql "SELECT unread_count FROM convo.conversations
	    WHERE conversation_id = $a"
	assert_output 2
	run convo-db -q verify
	assert_success
}

@test "new text on archived thread verifies" {
	local a
	archive_three_threads
	text_from +12015550123 SMt6 2025-03-01T09:00:00Z 'any news?' |
	    convo-ingest -q >/dev/null
	a=$(conversation_of +12015550123)
	run sql "SELECT unread_count, last_body FROM convo.conversations
	    WHERE conversation_id = $a"
	assert_output '3|any news?'
	run convo-db -q verify
	assert_success
}

@test "month archived twice keeps both records" {
	archive_three_threads
	text_from +12015550124 SMt7 2025-01-20T09:00:00Z 'a late january text' |
	    convo-ingest -q >/dev/null
	mkdir first
	mv messages_2025_01.copy first/
	run convo-db -q archive --before 2025-02
	assert_success
	run sql "SELECT a.conversation_messages, a.last_body, a.unread
	    FROM convo.messages_archived a
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '+12015550124'"
	assert_output '2|a late january text|2'
	run convo-db -q verify
	assert_success
}
