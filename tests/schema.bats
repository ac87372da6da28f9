#!/usr/bin/env bats
# The rule that lets the schema be distributed by account with Citus:
# every table of schema convo carries account_id, and every primary key,
# unique key, unique index and foreign key includes it. The exceptions
# are listed here, and share/convo/citus.sql must distribute exactly the
# other tables.

load helper

CITUS_SQL="$BATS_TEST_DIRNAME/../share/convo/citus.sql"

# Data shared by all accounts: reference tables, copied to every node.
REFERENCE_TABLES="accounts keyword_packs account_roles area_code_zones"
# convo-db's record of applied migrations, kept on the coordinator only.
COORDINATOR_TABLES="schema_version"

# Run the SQL file on standard input with :'exempt' set to the tables
# the rule does not cover and :'reference' to the reference tables.
catalog() {
	psql -X -qAt -v ON_ERROR_STOP=1 \
	    -v exempt="$REFERENCE_TABLES $COORDINATOR_TABLES" \
	    -v reference="$REFERENCE_TABLES" "$CONVO_DB" -f -
}

# Print each table of the rule whose account_id is missing, nullable or
# not bigint, the type the tables are co-located by.
account_columns() {
	catalog <<'EOF'
SELECT format('table %s has no account_id column', c.relname)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'convo' AND c.relkind IN ('r', 'p')
    AND NOT c.relispartition
    AND c.relname <> ALL (string_to_array(:'exempt', ' '))
    AND NOT EXISTS (SELECT 1 FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attname = 'account_id'
            AND NOT a.attisdropped)
UNION ALL
SELECT format('table %s: account_id is %s%s', c.relname,
    format_type(a.atttypid, a.atttypmod),
    CASE WHEN a.attnotnull THEN '' ELSE ' and nullable' END)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'account_id'
WHERE n.nspname = 'convo' AND c.relkind IN ('r', 'p')
    AND NOT c.relispartition
    AND c.relname <> ALL (string_to_array(:'exempt', ' '))
    AND (a.atttypid <> 'bigint'::regtype OR NOT a.attnotnull)
ORDER BY 1;
EOF
}

# Print each primary key, unique or exclusion constraint, unique index
# and foreign key that breaks the rule, naming it and its table.
key_violations() {
	catalog <<'EOF'
WITH tenant AS (
    SELECT c.oid, c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'convo' AND c.relkind IN ('r', 'p')
        AND NOT c.relispartition
        AND c.relname <> ALL (string_to_array(:'exempt', ' '))
), account_column AS (
    SELECT a.attrelid, a.attnum FROM pg_attribute a
    WHERE a.attname = 'account_id' AND NOT a.attisdropped
)
-- Keys and exclusion constraints, which Citus enforces per shard only.
SELECT format('table %s: %s %s does not include account_id', t.relname,
    CASE x.contype WHEN 'p' THEN 'primary key'
        WHEN 'u' THEN 'unique constraint'
        ELSE 'exclusion constraint' END, x.conname)
FROM pg_constraint x
JOIN tenant t ON t.oid = x.conrelid
WHERE x.contype IN ('p', 'u', 'x')
    AND NOT EXISTS (SELECT 1 FROM account_column a
        WHERE a.attrelid = t.oid AND a.attnum = ANY (x.conkey))
UNION ALL
-- Unique indexes made without a constraint; INCLUDE columns do not count.
SELECT format('table %s: unique index %s does not include account_id',
    t.relname, i.relname)
FROM pg_index x
JOIN tenant t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indisunique
    AND NOT EXISTS (SELECT 1 FROM pg_constraint k
        WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid)
    AND NOT EXISTS (SELECT 1 FROM account_column a,
            unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, position)
        WHERE a.attrelid = t.oid AND k.attnum = a.attnum
            AND k.position <= x.indnkeyatts)
UNION ALL
-- A foreign key must match account_id with account_id, so that both
-- rows are in co-located shards, or in a reference table.
SELECT format('table %s: foreign key %s does not match account_id with '
    '%s.account_id', t.relname, x.conname, x.confrelid::regclass)
FROM pg_constraint x
JOIN tenant t ON t.oid = x.conrelid
WHERE x.contype = 'f'
    AND NOT EXISTS (SELECT 1
        FROM unnest(x.conkey, x.confkey) AS k(attnum, refnum)
        JOIN account_column a ON a.attrelid = x.conrelid
            AND a.attnum = k.attnum
        JOIN account_column r ON r.attrelid = x.confrelid
            AND r.attnum = k.refnum)
UNION ALL
-- A reference table can reference only reference tables.
SELECT format('reference table %s: foreign key %s references %s, which '
    'is not a reference table', c.relname, x.conname,
    x.confrelid::regclass)
FROM pg_constraint x
JOIN pg_class c ON c.oid = x.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class rc ON rc.oid = x.confrelid
WHERE x.contype = 'f' AND n.nspname = 'convo'
    AND c.relname = ANY (string_to_array(:'reference', ' '))
    AND rc.relname <> ALL (string_to_array(:'reference', ' '))
ORDER BY 1;
EOF
}

# Print the tables of schema convo that the rule covers, one a line.
tenant_tables() {
	catalog <<'EOF'
SELECT c.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'convo' AND c.relkind IN ('r', 'p')
    AND NOT c.relispartition
    AND c.relname <> ALL (string_to_array(:'exempt', ' '))
ORDER BY 1;
EOF
}

# Print the tables citus.sql passes to FUNCTION, in the file's order.
citus_sql_tables() {
	grep -o "$1('convo\.[a-z_]*'" "$CITUS_SQL" |
	    sed "s/.*'convo\.\(.*\)'/\1/"
}

@test "tables carry a bigint account_id" {
	run account_columns
	assert_success
	[ -z "$output" ] || fail "$(printf 'schema breaks the rule:\n%s' \
	    "$output")"
}

@test "keys include account_id" {
	run key_violations
	assert_success
	[ -z "$output" ] || fail "$(printf 'schema breaks the rule:\n%s' \
	    "$output")"
}

@test "key check names each violation" {
	sql "CREATE TABLE convo.bad_rule (
	    account_id bigint NOT NULL,
	    bad_id bigint PRIMARY KEY,
	    code text UNIQUE,
	    profile_id bigint)"
	sql "CREATE UNIQUE INDEX bad_rule_code ON convo.bad_rule (lower(code))
	    INCLUDE (account_id)"
	sql "ALTER TABLE convo.bad_rule ADD CONSTRAINT bad_rule_profile
	    FOREIGN KEY (account_id, profile_id)
	    REFERENCES convo.profiles (profile_id, account_id)"
	sql "ALTER TABLE convo.keyword_packs ADD COLUMN account_id bigint,
	    ADD COLUMN profile_id bigint,
	    ADD CONSTRAINT keyword_packs_profile FOREIGN KEY
	    (account_id, profile_id) REFERENCES convo.profiles"
	run key_violations
	assert_success
	assert_output - <<'EOF'
reference table keyword_packs: foreign key keyword_packs_profile references convo.profiles, which is not a reference table
table bad_rule: foreign key bad_rule_profile does not match account_id with convo.profiles.account_id
table bad_rule: primary key bad_rule_pkey does not include account_id
table bad_rule: unique constraint bad_rule_code_key does not include account_id
table bad_rule: unique index bad_rule_code does not include account_id
EOF
}

@test "column check names each table" {
	sql "CREATE TABLE convo.bad_missing (id bigint PRIMARY KEY)"
	sql "CREATE TABLE convo.bad_type (account_id integer)"
	run account_columns
	assert_success
	assert_output - <<'EOF'
table bad_missing has no account_id column
table bad_type: account_id is integer and nullable
EOF
}

@test "citus.sql distributes every other table" {
	run citus_sql_tables create_reference_table
	assert_output "$(tr ' ' '\n' <<<"$REFERENCE_TABLES")"
	run sort <<<"$(citus_sql_tables create_distributed_table)"
	assert_output "$(tenant_tables)"
}

@test "citus.sql co-locates by account_id" {
	local tables statements

	tables=$(tenant_tables | wc -l)
	statements=$(grep -v '^--' "$CITUS_SQL")
	run grep -c "create_distributed_table('convo\.[a-z_]*', 'account_id',$" \
	    <<<"$statements"
	assert_output "$tables"
	run grep -c "colocate_with => 'convo.profiles')$" <<<"$statements"
	assert_output "$((tables - 1))"
	run grep -c "colocate_with => 'none')$" <<<"$statements"
	assert_output 1
}

@test "citus.sql distributes referenced tables first" {
	local order table referenced

	order=$(citus_sql_tables 'create_[a-z]*_table')
	while IFS='|' read -r table referenced; do
		[ "$table" = "$referenced" ] && continue
		[ "$(grep -nx "$referenced" <<<"$order" | cut -d: -f1)" \
		    -lt "$(grep -nx "$table" <<<"$order" | cut -d: -f1)" ] ||
		    fail "$table is distributed before $referenced, which it references"
	done < <(sql "SELECT c.relname, r.relname FROM pg_constraint x
	    JOIN pg_class c ON c.oid = x.conrelid
	    JOIN pg_class r ON r.oid = x.confrelid
	    JOIN pg_namespace n ON n.oid = c.relnamespace
	    WHERE x.contype = 'f' AND n.nspname = 'convo'")
}

@test "three migrate runs at once on a new database all succeed" {
	local db="${TEST_DB}_new" i

	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "CREATE DATABASE $db" >/dev/null
	for i in 1 2 3; do
		CONVO_DB="$CONVO_TEST_SERVER dbname=$db" convo-db -q migrate \
		    2>"$BATS_TEST_TMPDIR/err$i" &
	done
	wait
	for i in 1 2 3; do
		assert_equal "$(cat "$BATS_TEST_TMPDIR/err$i")" ""
	done
	run psql -X -qAt "$CONVO_TEST_SERVER dbname=$db" -c "SELECT count(*)
	    FROM pg_policy WHERE polname = 'account_isolation'
	        AND polrelid = 'convo.messages'::regclass"
	assert_output 1
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
}
