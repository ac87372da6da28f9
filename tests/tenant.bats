#!/usr/bin/env bats
# Tenant isolation: row-level security confines a database role to the
# accounts that convo-db grant maps it to. Two accounts, acme and bravo,
# hold the same sample data; the login role ana inherits the privileges
# of the NOLOGIN role that is mapped to acme, and runs every program and
# plain SQL against bravo's rows.

load helper

FAKE="$BATS_TEST_DIRNAME/fake-twilio"
BRAND=+12025550140
ADA=+12015550123

# Roles belong to the whole server, so their names carry the test's
# database name and teardown drops them.
setup_roles() {
	PREFIX="r${TEST_DB#t}"
	AGENTS="${PREFIX}_acme_agents"
	ANA="${PREFIX}_ana"
	ANA_DB="$CONVO_DB user=$ANA"
}

teardown() {
	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" >/dev/null
	psql -X -qAt "$CONVO_TEST_SERVER dbname=postgres" -c "SELECT
	    format('DROP ROLE %I;', rolname) FROM pg_roles
	    WHERE rolname LIKE 'r${TEST_DB#t}\_%' ORDER BY rolname DESC" |
	    psql -X -q "$CONVO_TEST_SERVER dbname=postgres" >/dev/null
}

# Build both accounts with the sample, an outbox row, a consent_ahead
# row and an audit event each, map the role AGENTS to acme and another
# role to bravo, and make the login role ANA a member of AGENTS. Sets
# ACME and BRAVO to the account ids and BEFORE to bravo's fingerprint.
tenants() {
	local a
	setup_roles
	convo-db -q account add acme
	convo-db -q account add bravo
	for a in acme bravo; do
		convo-ingest -q --account "$a" "$SAMPLE" >/dev/null
		convo-mark --account "$a" -o ops --assign bo "$ADA" >/dev/null
	done
	sql "INSERT INTO convo.outbox (account_id, idempotency_key,
	    profile_id, channel, to_address, from_address, body, origin,
	    provider, encoding, segments, units)
	    SELECT p.account_id, 'k1', p.profile_id, 'sms', p.phone,
	    '$BRAND', 'Shipped', 'conversation', 'twilio', 'GSM-7', 1, 7
	    FROM convo.profiles p WHERE p.phone = '$ADA'"
	sql "INSERT INTO convo.consent_ahead (account_id, profile_id, channel,
	    at) SELECT p.account_id, p.profile_id, 'sms', '2030-01-01Z'
	    FROM convo.profiles p WHERE p.phone = '$ADA'"
	sql "INSERT INTO convo.consent_archived (account_id, profile_id,
	    channel, month, status, effective_at, change_id)
	    SELECT p.account_id, p.profile_id, 'sms', '2020-01-01',
	    'subscribed', '2020-01-02Z', 0
	    FROM convo.profiles p WHERE p.phone = '$ADA'"
	sql "INSERT INTO convo.messages_archived (account_id, profile_id,
	    channel, month) SELECT p.account_id, p.profile_id, 'sms',
	    '2020-01-01' FROM convo.profiles p WHERE p.phone = '$ADA'"
	ACME=$(sql "SELECT account_id FROM convo.accounts WHERE name = 'acme'")
	BRAVO=$(sql "SELECT account_id FROM convo.accounts
	    WHERE name = 'bravo'")
	convo-db -q grant --account acme --role "$AGENTS"
	convo-db -q grant --account bravo --role "${PREFIX}_bravo_agents"
	sql "CREATE ROLE $ANA LOGIN IN ROLE $AGENTS"
	BEFORE=$(fingerprint "$BRAVO")
}

# Print one line per table with account_id: its name, the number of
# rows of account $1 and a digest of their contents, read as the owner.
fingerprint() {
	psql -X -qAt -v ON_ERROR_STOP=1 -v account="$1" "$CONVO_DB" <<'EOF'
SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(x::text, '','' '
    'ORDER BY x::text), '''')) FROM %s x WHERE account_id = %s',
    c.relname, c.oid::regclass, :'account')
FROM pg_class c
WHERE c.relnamespace = 'convo'::regnamespace AND c.relkind IN ('r', 'p')
    AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
        AND a.attname = 'account_id' AND NOT a.attisdropped)
ORDER BY c.relname
\gexec
EOF
}

# The tables of schema convo that have an account_id column.
account_tables() {
	sql "SELECT c.relname FROM pg_class c
	    WHERE c.relnamespace = 'convo'::regnamespace
	    AND c.relkind IN ('r', 'p') AND EXISTS (SELECT 1
	    FROM pg_attribute a WHERE a.attrelid = c.oid
	    AND a.attname = 'account_id' AND NOT a.attisdropped)
	    ORDER BY 1"
}

# Run a program or SQL as the restricted login role.
as_ana() {
	CONVO_DB="$ANA_DB" "$@"
}

ana_sql() {
	psql -X -qAt -v ON_ERROR_STOP=1 "$ANA_DB" -c "$1"
}

# Fail unless bravo's rows are as tenants() left them.
assert_bravo_unchanged() {
	local after
	after=$(fingerprint "$BRAVO")
	[ "$after" = "$BEFORE" ] || fail "bravo's rows changed:
$(diff <(echo "$BEFORE") <(echo "$after"))"
}

conversation_of() {
	sql "SELECT 'c_' || c.conversation_id FROM convo.conversations c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    JOIN convo.accounts a USING (account_id)
	    WHERE a.name = '$1' AND p.phone = '$2'"
}

@test "every convo table has row-level security" {
	run sql "SELECT c.relname FROM pg_class c
	    WHERE c.relnamespace = 'convo'::regnamespace
	    AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity"
	assert_success
	[ -z "$output" ] || fail "tables without row-level security: $output"
	run sql "SELECT c.relname FROM pg_class c
	    WHERE c.relnamespace = 'convo'::regnamespace
	    AND c.relkind IN ('r', 'p')
	    AND NOT EXISTS (SELECT 1 FROM pg_policy p
	        WHERE p.polrelid = c.oid)"
	[ -z "$output" ] || fail "tables without a policy: $output"
	# Each table with account_id filters and checks every command by
	# the accounts of the current role.
	run sql "SELECT c.relname FROM pg_class c
	    WHERE c.relnamespace = 'convo'::regnamespace
	    AND c.relkind IN ('r', 'p') AND c.relname <> 'account_roles'
	    AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
	        AND a.attname = 'account_id' AND NOT a.attisdropped)
	    AND NOT EXISTS (SELECT 1 FROM pg_policy p
	        WHERE p.polrelid = c.oid AND p.polcmd = '*' AND p.polpermissive
	        AND pg_get_expr(p.polqual, p.polrelid)
	            LIKE '%account_id = ANY%current_account_ids()%'
	        AND pg_get_expr(p.polwithcheck, p.polrelid)
	            LIKE '%account_id = ANY%current_account_ids()%')"
	[ -z "$output" ] || fail "tables without the account policy: $output"
	# Enabled, not forced: the owner keeps full access.
	run sql "SELECT count(*) FROM pg_class c
	    WHERE c.relnamespace = 'convo'::regnamespace
	    AND c.relforcerowsecurity"
	assert_output 0
	run sql "SELECT count(*) > 10 FROM pg_class c
	    WHERE c.relnamespace = 'convo'::regnamespace
	    AND c.relkind IN ('r', 'p') AND c.relrowsecurity"
	assert_output t
}

@test "migrate secures a table added later" {
	sql "CREATE TABLE convo.notes (account_id bigint NOT NULL,
	    body text NOT NULL)"
	sql "CREATE TABLE convo.lookup (code text NOT NULL)"
	run convo-db migrate
	assert_success
	run sql "SELECT c.relname, c.relrowsecurity, p.polname
	    FROM pg_class c LEFT JOIN pg_policy p ON p.polrelid = c.oid
	    WHERE c.oid IN ('convo.notes'::regclass, 'convo.lookup'::regclass)
	    ORDER BY 1"
	assert_output "$(printf 'lookup|t|\nnotes|t|account_isolation')"
}

@test "policy lookup runs once per query" {
	tenants
	run ana_sql "EXPLAIN (COSTS OFF) SELECT * FROM convo.conversations
	    WHERE account_id = $ACME ORDER BY last_at DESC LIMIT 20"
	assert_success
	[ "$(grep -c 'InitPlan' <<<"$output")" -eq 1 ] ||
	    fail "expected one InitPlan: $output"
	refute_output --partial "SubPlan"
	assert_output --regexp "Index Cond: .*account_id = ANY"
	run ana_sql "EXPLAIN (COSTS OFF) SELECT * FROM convo.messages m
	    JOIN convo.profiles p USING (account_id, profile_id)"
	[ "$(grep -c 'InitPlan' <<<"$output")" -eq 2 ] ||
	    fail "expected one InitPlan per table: $output"
	refute_output --partial "SubPlan"
}

@test "grant creates a NOLOGIN role and maps it" {
	convo-db -q account add acme
	setup_roles
	run convo-db grant --account acme --role "$AGENTS"
	assert_success
	assert_output "convo-db: created role \"$AGENTS\" (NOLOGIN) and mapped it to account \"acme\""
	run sql "SELECT rolcanlogin FROM pg_roles WHERE rolname = '$AGENTS'"
	assert_output f
	run sql "SELECT a.name FROM convo.account_roles r
	    JOIN convo.accounts a USING (account_id)
	    WHERE r.role_name = '$AGENTS'"
	assert_output acme
	run sql "SELECT has_table_privilege('$AGENTS', 'convo.messages',
	    'SELECT, INSERT, UPDATE, DELETE')"
	assert_output t
	run sql "SELECT has_table_privilege('$AGENTS', 'convo.keyword_packs',
	    'SELECT'), has_table_privilege('$AGENTS', 'convo.keyword_packs',
	    'INSERT'), has_table_privilege('$AGENTS', 'convo.account_roles',
	    'INSERT'), has_table_privilege('$AGENTS', 'convo.messages',
	    'TRUNCATE')"
	assert_output "t|f|f|f"
	# Settings of the account, yes; its id and name, no.
	run sql "SELECT has_column_privilege('$AGENTS', 'convo.accounts',
	    'brand_name', 'UPDATE'), has_column_privilege('$AGENTS',
	    'convo.accounts', 'name', 'UPDATE'), has_column_privilege(
	    '$AGENTS', 'convo.accounts', 'account_id', 'UPDATE'),
	    has_table_privilege('$AGENTS', 'convo.accounts', 'INSERT')"
	assert_output "t|f|f|f"
}

@test "grant keeps an existing login role" {
	convo-db -q account add acme
	setup_roles
	sql "CREATE ROLE $ANA LOGIN"
	run convo-db grant --account acme --role "$ANA"
	assert_success
	assert_output "convo-db: mapped role \"$ANA\" to account \"acme\""
	run sql "SELECT rolcanlogin FROM pg_roles WHERE rolname = '$ANA'"
	assert_output t
	run psql -X -qAt "$ANA_DB" -c "SELECT name FROM convo.accounts"
	assert_output acme
}

@test "grant twice keeps one mapping" {
	convo-db -q account add acme
	setup_roles
	convo-db -q grant --account acme --role "$AGENTS"
	run convo-db grant --account acme --role "$AGENTS"
	assert_success
	assert_output --partial "was already mapped to account \"acme\""
	run sql "SELECT count(*) FROM convo.account_roles"
	assert_output 1
}

@test "grant rejects roles that bypass security" {
	convo-db -q account add acme
	setup_roles
	owner=$(sql "SELECT relowner::regrole FROM pg_class
	    WHERE oid = 'convo.accounts'::regclass")
	run convo-db grant --account acme --role "$owner"
	assert_failure 64
	assert_output --partial "row-level security cannot confine it"
	sql "CREATE ROLE ${PREFIX}_bypass BYPASSRLS"
	run convo-db grant --account acme --role "${PREFIX}_bypass"
	assert_failure 64
	assert_output --partial "has BYPASSRLS"
	sql "CREATE ROLE ${PREFIX}_owner_member NOSUPERUSER IN ROLE $owner"
	run convo-db grant --account acme --role "${PREFIX}_owner_member"
	assert_failure 64
	assert_output --partial "inherits the privileges of their owner"
	run convo-db grant --account acme --role pg_monitor
	assert_failure 64
	assert_output --partial "reserved for PostgreSQL"
	run sql "SELECT count(*) FROM convo.account_roles"
	assert_output 0
}

@test "grant needs an existing account" {
	setup_roles
	run convo-db grant --account nosuch --role "$AGENTS"
	assert_failure 78
	assert_output --partial 'account "nosuch" not found'
	run sql "SELECT count(*) FROM pg_roles WHERE rolname = '$AGENTS'"
	assert_output 0
	run convo-db grant --role "$AGENTS"
	assert_failure 64
	assert_output --partial "grant needs --account NAME and --role ROLE"
}

@test "revoke removes access" {
	tenants
	run convo-db revoke --account acme --role "$AGENTS"
	assert_success
	assert_output "convo-db: removed the mapping of role \"$AGENTS\" to account \"acme\""
	run sql "SELECT has_schema_privilege('$AGENTS', 'convo', 'USAGE'),
	    has_table_privilege('$AGENTS', 'convo.messages', 'SELECT'),
	    has_column_privilege('$AGENTS', 'convo.accounts', 'brand_name',
	    'UPDATE')"
	assert_output "f|f|f"
	run as_ana convo-list --account acme
	assert_failure 78
	assert_output "convo-list: database role \"$ANA\" has no access to schema convo; the owner of the schema grants it with convo-db grant"
	run convo-db revoke --account acme --role "$AGENTS"
	assert_success
	assert_output --partial "nothing to revoke"
	# The role stays: dropping it is the administrator's decision.
	run sql "SELECT count(*) FROM pg_roles WHERE rolname = '$AGENTS'"
	assert_output 1
}

@test "revoke of one account keeps the other" {
	tenants
	convo-db -q grant --account bravo --role "$AGENTS"
	run as_ana convo-db account list
	assert_output "$(printf '%s\n%s' \
	    '{"type":"account","name":"acme","country":"US","brand_name":"acme"}' \
	    '{"type":"account","name":"bravo","country":"US","brand_name":"bravo"}')"
	convo-db -q revoke --account bravo --role "$AGENTS"
	run as_ana convo-db account list
	assert_output '{"type":"account","name":"acme","country":"US","brand_name":"acme"}'
	run ana_sql "SELECT DISTINCT account_id FROM convo.messages"
	assert_output "$ACME"
}

@test "restricted role sees only its own accounts" {
	tenants
	run as_ana convo-db account list
	assert_success
	assert_output '{"type":"account","name":"acme","country":"US","brand_name":"acme"}'
	run ana_sql "SELECT a.name, r.role_name FROM convo.account_roles r
	    JOIN convo.accounts a USING (account_id)"
	assert_output "acme|$AGENTS"
	run as_ana convo-db account add evil
	assert_failure 78
	assert_output --partial "permission denied"
	run as_ana convo-db grant --account bravo --role "$ANA"
	assert_failure 78
	run sql "SELECT count(*) FROM convo.account_roles"
	assert_output 2
}

@test "ingest works in the role's own account" {
	tenants
	# New provider ids for 12 of the sample's 14 messages and all 6
	# receipts; profiles and consent records stay as they were.
	sed 's/"SMd0/"SMe0/' "$SAMPLE" >new.ndjson
	run as_ana convo-ingest -q --account acme new.ndjson
	assert_success
	run jq -s -c 'map(select(.type == "ingest_result")) | group_by(.result)
	    | map({(.[0].result): length}) | add' <<<"$output"
	assert_output '{"duplicate":10,"inserted":13,"updated":5}'
	run as_ana convo-ingest -q --account acme new.ndjson
	assert_success
	run jq -r .result <<<"$output"
	refute_line inserted
	run sql "SELECT count(*) FROM convo.messages WHERE account_id = $ACME"
	assert_output 26
	run sql "SELECT count(*) FROM convo.status_events
	    WHERE account_id = $ACME"
	assert_output 12
	assert_bravo_unchanged
}

@test "role's consent change dated ahead is noted in its own account" {
	local ahead
	tenants
	ahead=$(date -u -d '+120 days' +%Y-%m-%dT%H:%M:%SZ)
	printf '{"type":"consent","phone":"+12015550177","status":"subscribed","at":"%s"}\n' \
	    "$ahead" >ahead.ndjson
	run as_ana convo-ingest -q --account acme ahead.ndjson
	assert_success
	run sql "SELECT a.account_id = $ACME, convo.rfc3339(a.at)
	    FROM convo.consent_ahead a JOIN convo.profiles p
	    USING (account_id, profile_id) WHERE p.phone = '+12015550177'"
	assert_output "t|$ahead"
	assert_bravo_unchanged
}

@test "ingest into another account writes nothing" {
	tenants
	sed 's/"SMd0/"SMe0/' "$SAMPLE" >new.ndjson
	run as_ana convo-ingest -q --account bravo new.ndjson
	assert_failure 78
	assert_output --partial 'account "bravo" not found'
	run as_ana convo-ingest -q --account bravo --format twilio <<<\
'MessageSid=SMx1&From=%2B12015550123&To=%2B12025550140&Body=hi'
	assert_failure 78
	assert_bravo_unchanged
}

@test "list shows none of another account" {
	tenants
	run as_ana convo-list --account acme --limit 0
	assert_success
	run jq -r .id <<<"$output"
	assert_output "$(sql "SELECT 'c_' || conversation_id
	    FROM convo.conversations WHERE account_id = $ACME
	    ORDER BY last_at DESC, conversation_id DESC")"
	run as_ana convo-list --account acme --search ada --limit 0
	run jq -r .id <<<"$output"
	assert_output "$(conversation_of acme $ADA)"
	run as_ana convo-list --account bravo
	assert_failure 78
	refute_output --partial '"type":"conversation"'
}

@test "read of another account finds nothing" {
	tenants
	bravo_ada=$(conversation_of bravo $ADA)
	run as_ana convo-read --account acme "$bravo_ada"
	assert_failure
	refute_output --partial '"type":"message"'
	# The same phone in the role's account is its own thread only.
	run as_ana convo-read --account acme "$ADA"
	assert_success
	run jq -r .conversation_id <<<"$output"
	run sort -u <<<"$output"
	assert_output "$(conversation_of acme $ADA)"
	run as_ana convo-read --account bravo "$ADA"
	assert_failure 78
	assert_bravo_unchanged
	run sql "SELECT unread_count > 0 FROM convo.conversations
	    WHERE 'c_' || conversation_id = '$bravo_ada'"
	assert_output t
}

@test "mark of another account changes nothing" {
	tenants
	bravo_ada=$(conversation_of bravo $ADA)
	run as_ana convo-mark --account acme -o ana --close "$bravo_ada"
	assert_failure
	assert_output --partial "not found"
	run as_ana convo-mark --account bravo -o ana --block "$ADA"
	assert_failure 78
	run as_ana convo-mark --account acme -o ana --close "$ADA"
	assert_success
	run sql "SELECT status FROM convo.conversations
	    WHERE 'c_' || conversation_id = '$(conversation_of acme $ADA)'"
	assert_output closed
	assert_bravo_unchanged
}

@test "keywords of another account are out of reach" {
	tenants
	run as_ana convo-keywords --account bravo list
	assert_failure 78
	run as_ana convo-keywords --account acme add --action custom \
	    --reply 'Hours: 9-5' hours
	assert_success
	run as_ana convo-keywords --account acme settings --brand Acme \
	    --help-contact help@acme.example --lang en,es
	assert_success
	run sql "SELECT brand_name, help_contact, languages FROM convo.accounts
	    WHERE account_id = $ACME"
	assert_output "Acme|help@acme.example|{en,es}"
	run sql "SELECT count(*) FROM convo.keywords
	    WHERE account_id = $ACME AND lang = 'es'"
	[ "$output" -gt 0 ]
	assert_bravo_unchanged
}

@test "send dry run sees no other account" {
	tenants
	bravo_ada=$(conversation_of bravo $ADA)
	run --separate-stderr as_ana convo-send --account acme --dry-run \
	    --conversation "$bravo_ada" --body "Hello"
	assert_failure 65
	run jq -r .reason <<<"$output"
	assert_output no_conversation
	run --separate-stderr as_ana convo-send --account bravo --dry-run \
	    --to "$ADA" --body "Hello"
	assert_failure 78
	assert_output ""
	run --separate-stderr as_ana convo-send --account acme --dry-run \
	    --to "$ADA" --body "Hello"
	assert_success
	run jq -r '[.status, .conversation_id] | join(" ")' <<<"$output"
	assert_output "dry_run $(conversation_of acme $ADA)"
	assert_bravo_unchanged
}

@test "send and outbox work for a restricted role" {
	tenants
	rm -f port log.ndjson
	echo 'to=+14155550142 error 400 21610 Attempt to send to unsubscribed recipient' \
	    >script
	"$FAKE" --port-file port --log log.ndjson --script script \
	    >fake.out 2>fake.err 3>&- &
	FAKE_PID=$!
	for _ in $(seq 50); do
		[ -s port ] && break
		sleep 0.1
	done
	[ -s port ] || fail "fake-twilio did not start: $(cat fake.err)"
	export TWILIO_API_BASE="http://127.0.0.1:$(cat port)"
	export CONVO_INSECURE_TLS_FOR_TESTING=1
	export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
	export TWILIO_AUTH_TOKEN=test-token
	run --separate-stderr as_ana convo-send -q --account acme --to "$ADA" \
	    --body "Your boots are ready"
	assert_success
	run jq -r .status <<<"$output"
	assert_output sent
	run sql "SELECT origin, body FROM convo.messages
	    WHERE account_id = $ACME AND body LIKE 'Your boots%'"
	assert_output "conversation|Your boots are ready"
	run sql "SELECT last_body FROM convo.conversations
	    WHERE 'c_' || conversation_id = '$(conversation_of acme $ADA)'"
	assert_output "Your boots are ready"
	# Error 21610 unsubscribes through convo.outbox_failed.
	run --separate-stderr as_ana convo-send -q --account acme \
	    --to +14155550142 --body "Hello"
	run jq -r '[.status, .error_code] | join(" ")' <<<"$output"
	assert_output "failed 21610"
	run sql "SELECT c.status FROM convo.consent c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE c.account_id = $ACME AND p.phone = '+14155550142'"
	assert_output unsubscribed
	assert_bravo_unchanged
}

@test "webhook for another account records nothing" {
	command -v openssl >/dev/null || skip "openssl is not installed"
	tenants
	local url=https://hooks.example.com/twilio body sig
	body='MessageSid=SMw1&From=%2B12015550123&To=%2B12025550140&Body=hi'
	sig=$(printf '%s%s%s%s%s%s%s%s' "$url" Body hi From +12015550123 \
	    MessageSid SMw1 To +12025550140 |
	    openssl dgst -sha1 -hmac test-token -binary | base64)
	webhook() {
		env -i PATH="$PATH" REQUEST_METHOD=POST GATEWAY_INTERFACE=CGI/1.1 \
		    CONTENT_TYPE=application/x-www-form-urlencoded \
		    CONTENT_LENGTH=${#body} HTTP_X_TWILIO_SIGNATURE="$sig" \
		    CONVO_WEBHOOK_URL=$url TWILIO_AUTH_TOKEN=test-token \
		    CONVO_DB="$ANA_DB" "$@" convo-webhook <<<"$body"
	}
	run webhook CONVO_ACCOUNT=bravo
	assert_output --partial "Status: 500"
	assert_bravo_unchanged
	run webhook CONVO_ACCOUNT=acme
	assert_output --partial "Status: 200"
	run sql "SELECT account_id FROM convo.messages
	    WHERE provider_message_id = 'SMw1'"
	assert_output "$ACME"
}

@test "plain SQL touches no row of another account" {
	tenants
	local table tables
	tables=$(account_tables)
	[ "$(wc -l <<<"$tables")" -ge 11 ] || fail "too few tables: $tables"
	# Every table holds rows of both accounts, so each check below
	# could find something.
	for table in $tables; do
		[ "$(sql "SELECT count(*) FROM convo.$table
		    WHERE account_id = $BRAVO")" -gt 0 ] ||
		    fail "bravo has no rows in $table"
		[ "$(sql "SELECT count(*) FROM convo.$table
		    WHERE account_id = $ACME")" -gt 0 ] ||
		    fail "acme has no rows in $table"
	done
	for table in $tables; do
		run ana_sql "SELECT count(*) FROM convo.$table
		    WHERE account_id = $BRAVO"
		assert_output 0
		run ana_sql "SELECT count(*) FROM convo.$table"
		assert_output "$(sql "SELECT count(*) FROM convo.$table
		    WHERE account_id = $ACME")"
		# Tables the role may not change reject the statement; the
		# others change no row of bravo.
		run ana_sql "WITH u AS (UPDATE convo.$table
		    SET account_id = account_id WHERE account_id = $BRAVO
		    RETURNING 1) SELECT count(*) FROM u"
		[ "$output" = 0 ] || [[ $output == *"permission denied"* ]] ||
		    fail "UPDATE of bravo's $table: $output"
		run ana_sql "WITH d AS (DELETE FROM convo.$table
		    WHERE account_id = $BRAVO RETURNING 1)
		    SELECT count(*) FROM d"
		[ "$output" = 0 ] || [[ $output == *"permission denied"* ]] ||
		    fail "DELETE of bravo's $table: $output"
		# A copy of one of acme's rows, given to bravo.
		run ana_sql "INSERT INTO convo.$table SELECT (
		    jsonb_populate_record(NULL::convo.$table, to_jsonb(x)
		    || jsonb_build_object('account_id', $BRAVO))).*
		    FROM convo.$table x LIMIT 1"
		assert_failure
		[[ $output == *"violates row-level security policy"* ]] ||
		    [[ $output == *"permission denied"* ]] ||
		    fail "INSERT into $table for bravo: $output"
		# Moving one of acme's rows to bravo.
		run ana_sql "UPDATE convo.$table SET account_id = $BRAVO
		    WHERE ctid = (SELECT min(ctid) FROM convo.$table)"
		assert_failure
		[[ $output == *"violates row-level security policy"* ]] ||
		    [[ $output == *"permission denied"* ]] ||
		    fail "UPDATE of $table to bravo: $output"
	done
	run ana_sql "INSERT INTO convo.keyword_packs (lang, word, action)
	    VALUES ('en', 'zzz', 'custom')"
	assert_failure
	assert_output --partial "permission denied"
	run ana_sql "DELETE FROM convo.schema_version"
	assert_failure
	assert_output --partial "permission denied"
	assert_bravo_unchanged
}

@test "SQL functions cannot reach another account" {
	tenants
	bravo_ada=$(conversation_of bravo $ADA)
	run ana_sql "SELECT convo.conversation_block($BRAVO,
	    ${bravo_ada#c_}, true, 'ana', NULL)"
	assert_failure
	assert_output --partial "not found"
	run ana_sql "SELECT convo.conversation_read($BRAVO,
	    ${bravo_ada#c_}, 'ana', NULL)"
	assert_failure
	run ana_sql "SELECT convo.outbox_failed($BRAVO, outbox_id, '21610',
	    'x') FROM (SELECT max(outbox_id) AS outbox_id
	    FROM convo.outbox) o"
	assert_failure
	run ana_sql "SELECT convo.keywords_seed($BRAVO)"
	assert_success
	run psql -X -qAt -v ON_ERROR_STOP=1 "$ANA_DB" <<EOF
BEGIN;
SELECT set_config('convo.client_schema', max(version)::text, true)
FROM convo.schema_version;
SELECT convo.ingest_prepare();
INSERT INTO pg_temp.ingest_consents (line, phone, channel, status, method,
    at)
VALUES (1, '$ADA', 'sms', 'unsubscribed', 'api', now());
SELECT * FROM convo.ingest_batch($BRAVO);
EOF
	assert_failure
	assert_output --partial "violates row-level security policy"
	run ana_sql "SELECT convo.account_create('evil')"
	assert_failure
	assert_output --partial "permission denied"
	assert_bravo_unchanged
}

@test "member of two mapped roles sees both accounts" {
	tenants
	sql "GRANT ${PREFIX}_bravo_agents TO $ANA"
	run ana_sql "SELECT a.name, count(*) FROM convo.messages m
	    JOIN convo.accounts a USING (account_id) GROUP BY 1 ORDER BY 1"
	assert_output "$(printf 'acme|14\nbravo|14')"
	# A role that only holds membership without inheriting the
	# privileges gets no rows of that account.
	sql "REVOKE ${PREFIX}_bravo_agents FROM $ANA"
	sql "CREATE ROLE ${PREFIX}_bravo_admin NOINHERIT LOGIN
	    IN ROLE ${PREFIX}_bravo_agents"
	run psql -X -qAt "$CONVO_DB user=${PREFIX}_bravo_admin" \
	    -c "SELECT count(*) FROM convo.messages"
	assert_failure
	assert_output --partial "permission denied"
}
