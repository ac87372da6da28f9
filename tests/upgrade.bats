#!/usr/bin/env bats
# Programs that are running while the schema is migrated under them.

load helper

BRAND=+12025550140

# Print a STOP message from PHONE, sent now, as an NDJSON line.
stop_line() {
	printf '{"type":"message","direction":"inbound","from":"%s",' "$1"
	printf '"to":"%s","body":"STOP","provider_message_id":"%s",' \
	    "$BRAND" "$2"
	printf '"sent_at":"%s"}\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

# Create database "${TEST_DB}_old" at the schema of migrations 001 to
# LAST only, with those migrations in directory $SHARE/migrations. Sets
# OLD to its connection string.
old_database() {
	local last=$1 f n

	SHARE=$BATS_TEST_TMPDIR/share
	OLD="$CONVO_TEST_SERVER dbname=${TEST_DB}_old"
	mkdir -p "$SHARE/migrations"
	for f in "$CONVO_SOURCE"/share/convo/migrations/[0-9]*.sql; do
		n=$(basename "$f")
		n=${n%%_*}
		if ((10#$n <= 10#$last)); then
			cp "$f" "$SHARE/migrations/"
		fi
	done
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "CREATE DATABASE ${TEST_DB}_old" >/dev/null
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-db -q migrate
}

drop_old_database() {
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE ${TEST_DB}_old WITH (FORCE)" >/dev/null
}

@test "batch of a program older than the schema fails" {
	# A convo-ingest built before the schema's latest migration sets no
	# convo.client_schema, as this session does not.
	run psql -X -qAt -v ON_ERROR_STOP=1 "$CONVO_DB" <<EOF
BEGIN;
SELECT convo.ingest_prepare(), convo.outbox_receipts_prepare();
INSERT INTO pg_temp.ingest_messages (line, provider, provider_message_id,
    direction, channel, phone, from_address, to_address, body, media,
    sent_at, keyword, keyword_action, keyword_conditional,
    possible_opt_out)
VALUES (1, 'twilio', 'SMold1', 'inbound', 'sms', '+12015550123',
    '+12015550123', '$BRAND', 'STOP', '[]', now(), 'stop', 'opt_out',
    false, false);
SELECT convo.lock_account(1);
SELECT count(*) FROM convo.ingest_batch(1);
COMMIT;
EOF
	assert_failure
	assert_output --partial "database schema migrated to version"
	assert_output --partial "run the upgraded program"
	run sql "SELECT count(*) FROM convo.messages"
	assert_output 0
	run sql "SELECT count(*) FROM convo.outbox"
	assert_output 0
}

@test "ingest running across a migration stops" {
	local latest

	latest=$(sql "SELECT max(version) FROM convo.schema_version")
	mkfifo input
	convo-ingest -q <input >out 2>err &
	local pid=$!
	exec 7>input
	stop_line +12015550123 SMrun1 >&7
	local i
	for i in $(seq 50); do
		[ "$(sql "SELECT count(*) FROM convo.messages")" = 1 ] && break
		sleep 0.1
	done
	run sql "SELECT count(*) FROM convo.messages"
	assert_output 1
	# What convo-db migrate of a later convo records.
	sql "INSERT INTO convo.schema_version (version, name)
	    VALUES ($latest + 1, 'later.sql')"
	stop_line +12015550124 SMrun2 >&7
	exec 7>&-
	local status=0
	wait "$pid" || status=$?
	assert_equal "$status" 78
	run cat err
	assert_output --partial "database schema migrated to version $((latest + 1)) after this program started"
	run sql "SELECT provider_message_id FROM convo.messages"
	assert_output SMrun1
	run sql "SELECT reply_to FROM convo.outbox"
	assert_output SMrun1
}

@test "ingest records batches at the current schema" {
	stop_line +12015550123 SMnow1 >in.ndjson
	run convo-ingest -q in.ndjson
	assert_success
	run sql "SELECT reply_to, state FROM convo.outbox"
	assert_output "SMnow1|queued"
}

@test "migration unsubscribes on receipts recorded before" {
	# The schema before receipts that resolve an outbox row applied
	# error 21610.
	old_database 021
	# Ada's reply was resolved by a receipt with error 21610 that left
	# her subscribed. Ben's receipt named him, so his opt-out is
	# recorded already.
	psql -X -qAt -v ON_ERROR_STOP=1 "$OLD" <<'SQL'
INSERT INTO convo.profiles (account_id, profile_id, phone)
VALUES (1, 1, '+12015550123'), (1, 2, '+12015550124');
INSERT INTO convo.consent_changes (account_id, profile_id, channel,
    status, method, at, provider_message_id, error_code)
VALUES (1, 1, 'sms', 'subscribed', 'import', '2026-11-01Z', NULL, NULL),
    (1, 2, 'sms', 'unsubscribed', 'provider_error',
        '2026-11-02T10:00:05Z', 'SMben', '21610');
INSERT INTO convo.consent (account_id, profile_id, channel, status,
    changed_at, change_id)
SELECT account_id, profile_id, channel, status, at, change_id
FROM convo.consent_changes;
INSERT INTO convo.outbox (account_id, idempotency_key, profile_id,
    channel, to_address, body, origin, state, provider,
    provider_message_id)
VALUES (1, 'k1', 1, 'sms', '+12015550123', 'Thanks', 'conversation',
        'sent', 'twilio', 'SMada'),
    (1, 'k2', 2, 'sms', '+12015550124', 'Thanks', 'conversation',
        'sent', 'twilio', 'SMben');
INSERT INTO convo.status_events (account_id, provider,
    provider_message_id, status, error_code, at)
VALUES (1, 'twilio', 'SMada', 'undelivered', '21610',
        '2026-11-02T10:00:00Z'),
    (1, 'twilio', 'SMben', 'undelivered', '21610',
        '2026-11-02T10:00:05Z');
SQL
	CONVO_DB=$OLD convo-db -q migrate
	run psql -X -qAt "$OLD" -c "SELECT p.phone, s.status,
	    convo.rfc3339(s.changed_at) FROM convo.consent s
	    JOIN convo.profiles p USING (account_id, profile_id) ORDER BY 1"
	assert_line --index 0 "+12015550123|unsubscribed|2026-11-02T10:00:00Z"
	assert_line --index 1 "+12015550124|unsubscribed|2026-11-02T10:00:05Z"
	run psql -X -qAt "$OLD" -c "SELECT count(*) FROM convo.consent_changes
	    WHERE method = 'provider_error'"
	assert_output 2
	run env CONVO_DB="$OLD" convo-db verify
	assert_success
	drop_old_database
}

@test "migration lets STOP after future START win" {
	local future now

	# The schema before consent changes took effect by their recording.
	old_database 026
	future=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
	printf '{"type":"message","direction":"inbound","from":"+12015550125","to":"+12025550140","body":"START","provider_message_id":"SMup1","sent_at":"%s"}\n' \
	    "$future" | CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-ingest -q >/dev/null
	# Times have whole seconds: the STOP is sent in a later second than
	# the one in which the START was recorded.
	sleep 1
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	printf '{"type":"message","direction":"inbound","from":"+12015550125","to":"+12025550140","body":"STOP","provider_message_id":"SMup2","sent_at":"%s"}\n' \
	    "$now" | CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-ingest -q >/dev/null
	run psql -X -qAt "$OLD" -c "SELECT status FROM convo.consent"
	assert_output "subscribed"

	CONVO_DB=$OLD convo-db -q migrate
	run psql -X -qAt "$OLD" -c "SELECT status,
	    convo.rfc3339(changed_at) FROM convo.consent"
	assert_output "unsubscribed|$now"
	run env CONVO_DB="$OLD" convo-db verify
	assert_success
	drop_old_database
}

@test "migration notes consent changes dated ahead of their recording" {
	local ahead
	local at='{"type":"consent","phone":"%s","status":"%s","at":"%s"}\n'

	# The schema before the latest time of such changes was kept.
	old_database 031
	ahead=$(date -u -d '+200 days' +%Y-%m-%dT%H:%M:%SZ)
	{
		printf "$at" +12015550126 subscribed 2026-11-01T00:00:00Z
		printf "$at" +12015550126 unsubscribed "$ahead"
		printf "$at" +12015550127 subscribed 2026-11-02T00:00:00Z
	} | CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-ingest -q >/dev/null

	CONVO_DB=$OLD convo-db -q migrate
	run psql -X -qAt "$OLD" -c "SELECT p.phone, a.channel,
	    convo.rfc3339(a.at) FROM convo.consent_ahead a
	    JOIN convo.profiles p USING (account_id, profile_id)"
	assert_output "+12015550126|sms|$ahead"
	drop_old_database
}

@test "migration keeps a STOP archived before it in force" {
	local file=$BATS_TEST_TMPDIR/in
	local archive=$BATS_TEST_TMPDIR/archive

	# The schema before archived consent was marked.
	old_database 034
	printf '%s\n' '{"type":"consent","phone":"+12015550128","status":"subscribed","at":"2025-01-02T09:00:00Z"}' \
	    '{"type":"message","direction":"inbound","from":"+12015550128","to":"+12025550140","body":"STOP","provider_message_id":"SMup3","sent_at":"2025-01-05T09:00:00Z"}' \
	    >"$file"
	mkdir "$archive"
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-ingest -q "$file" >/dev/null
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-db -q maintain >/dev/null
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-db -q archive --before 2025-02 \
	    --dir "$archive" >/dev/null

	CONVO_DB=$OLD convo-db -q migrate
	run psql -X -qAt "$OLD" -c "SELECT status, archived FROM convo.consent"
	assert_output "unsubscribed|t"
	CONVO_DB=$OLD convo-ingest -q "$file" >/dev/null
	run psql -X -qAt "$OLD" -c "SELECT status, archived FROM convo.consent"
	assert_output "unsubscribed|t"
	drop_old_database
}

@test "migration verifies an archived STOP in force" {
	local file=$BATS_TEST_TMPDIR/in
	local archive=$BATS_TEST_TMPDIR/archive

	# The schema before verify accepted archived consent.
	old_database 035
	printf '%s\n' '{"type":"consent","phone":"+12015550129","status":"subscribed","at":"2025-01-02T09:00:00Z"}' \
	    '{"type":"message","direction":"inbound","from":"+12015550129","to":"+12025550140","body":"STOP","provider_message_id":"SMup4","sent_at":"2025-01-05T09:00:00Z"}' \
	    >"$file"
	mkdir "$archive"
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-ingest -q "$file" >/dev/null
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-db -q maintain >/dev/null
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-db -q archive --before 2025-02 \
	    --dir "$archive" >/dev/null
	run env CONVO_SHARE="$SHARE" CONVO_DB="$OLD" convo-db -q verify
	assert_failure 1

	CONVO_DB=$OLD convo-db -q migrate
	run env CONVO_DB="$OLD" convo-db -q verify
	assert_success
	drop_old_database
}

@test "migration clears archived flags of consent replaced since" {
	local file=$BATS_TEST_TMPDIR/in
	local archive=$BATS_TEST_TMPDIR/archive

	# The schema whose receipt opt-outs kept the archived flag.
	old_database 035
	printf '{"type":"consent","phone":"%s","status":"subscribed","at":"2025-01-02T09:00:00Z"}\n' \
	    +12015550130 +12015550131 >"$file"
	mkdir "$archive"
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-ingest -q "$file" >/dev/null
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-db -q maintain >/dev/null
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-db -q archive --before 2025-02 \
	    --dir "$archive" >/dev/null
	# A receipt with error 21610 unsubscribes the first customer, and
	# a send that failed with it the second.
	psql -X -qAt -v ON_ERROR_STOP=1 "$OLD" >/dev/null <<'SQL'
INSERT INTO convo.outbox (account_id, idempotency_key, profile_id,
    channel, to_address, body, origin, state, provider,
    provider_message_id, encoding, segments, units)
SELECT account_id, phone, profile_id, 'sms', phone, 'Thanks',
    'conversation', 'sent', 'twilio', 'SM' || phone, 'GSM-7', 1, 1
FROM convo.profiles;
SELECT convo.outbox_failed(o.account_id, o.outbox_id, '21610',
    'Attempt to send to unsubscribed recipient')
FROM convo.outbox o WHERE o.to_address = '+12015550131';
SQL
	printf '{"type":"status","provider_message_id":"SM+12015550130","status":"failed","error_code":21610,"at":"2025-03-01T09:00:00Z","outbox_id":"o_%s"}\n' \
	    "$(psql -X -qAt "$OLD" -c "SELECT outbox_id FROM convo.outbox
	        WHERE to_address = '+12015550130'")" |
	    CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-ingest -q >/dev/null
	run psql -X -qAt "$OLD" -c "SELECT count(*) FROM convo.consent
	    WHERE archived AND status = 'unsubscribed'"
	assert_output 2

	CONVO_DB=$OLD convo-db -q migrate
	run psql -X -qAt "$OLD" -c "SELECT p.phone, s.status, s.archived,
	    k.method FROM convo.consent s
	    JOIN convo.profiles p USING (account_id, profile_id)
	    LEFT JOIN convo.consent_changes k ON k.account_id = s.account_id
	        AND k.change_id = s.change_id
	    ORDER BY 1"
	assert_line --index 0 '+12015550130|unsubscribed|f|provider_error'
	assert_line --index 1 '+12015550131|unsubscribed|f|provider_error'
	drop_old_database
}

@test "migration inserts setting values once in replies" {
	old_database 035
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-keywords settings \
	    --brand 'B{frequency}' >/dev/null

	CONVO_DB=$OLD convo-db -q migrate
	stop_line +12015550129 SMup4 | CONVO_DB=$OLD convo-ingest -q >out.ndjson
	run jq -r 'select(.type == "send") | .body' out.ndjson
	assert_output 'B{frequency}: You are unsubscribed and will receive no more messages. Reply START to resubscribe.'
	drop_old_database
}

@test "migration takes over archived summaries" {
	local file=$BATS_TEST_TMPDIR/in
	local archive=$BATS_TEST_TMPDIR/archive
	local text='{"type":"message","direction":"inbound","from":"%s","to":"+12025550140","body":"%s","provider_message_id":"%s","sent_at":"%s"}\n'

	# The schema before archive recorded what it removed from summaries.
	old_database 038
	{
		printf "$text" +12015550132 'where is my order?' SMup5 \
		    2025-01-10T09:00:00Z
		printf "$text" +12015550132 'Please stop texting me' SMup6 \
		    2025-01-11T09:00:00Z
		printf "$text" +12015550133 'january question' SMup7 \
		    2025-01-12T09:00:00Z
		printf "$text" +12015550133 'february question' SMup8 \
		    2025-02-12T09:00:00Z
	} >"$file"
	mkdir "$archive"
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-ingest -q "$file" >/dev/null
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-db -q maintain >/dev/null
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-db -q archive --before 2025-02 \
	    --dir "$archive" >/dev/null
	run env CONVO_SHARE="$SHARE" CONVO_DB="$OLD" convo-db -q verify
	assert_failure 1

	CONVO_DB=$OLD convo-db -q migrate
	run env CONVO_DB="$OLD" convo-db -q verify
	assert_success
	# What was taken over is checked from then on.
	psql -X -q "$OLD" -c "UPDATE convo.conversations SET unread_count = 9,
	    last_body = 'old text'"
	run env CONVO_DB="$OLD" convo-db -q verify
	assert_failure 1
	run jq -r '[.phone, .field, (.stored | tojson), (.expected | tojson)]
	    | join(" ")' <<<"$output"
	assert_line '+12015550132 last_body "old text" "Please stop texting me"'
	assert_line '+12015550132 unread_count 9 2'
	assert_line '+12015550133 last_body "old text" "february question"'
	assert_line '+12015550133 unread_count 9 2'
	assert_equal "${#lines[@]}" 4
	drop_old_database
}

@test "migration records a month left detached" {
	local file=$BATS_TEST_TMPDIR/in
	local text='{"type":"message","direction":"inbound","from":"%s","to":"+12025550140","body":"%s","provider_message_id":"%s","sent_at":"%s"}\n'

	old_database 038
	{
		printf "$text" +12015550134 'january question' SMup9 \
		    2025-01-10T09:00:00Z
		printf "$text" +12015550134 'february question' SMup10 \
		    2025-02-12T09:00:00Z
	} >"$file"
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-ingest -q "$file" >/dev/null
	CONVO_SHARE=$SHARE CONVO_DB=$OLD convo-db -q maintain >/dev/null
	# An archive run stopped after it detached January.
	psql -X -q "$OLD" -c "SELECT convo.partition_detach('messages_2025_01')" \
	    >/dev/null

	CONVO_DB=$OLD convo-db -q migrate
	run psql -X -qAt "$OLD" -c "SELECT month, conversation_messages,
	    last_body, unread FROM convo.messages_archived"
	assert_output '2025-01-01|1|january question|1'
	run env CONVO_DB="$OLD" convo-db -q verify
	assert_success
	drop_old_database
}
