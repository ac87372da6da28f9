#!/usr/bin/env bats
# Views for people: the table of convo-list and the chat of convo-read
# on a pseudo-terminal, escapes of untrusted text, colors and NO_COLOR,
# --json, and the --assigned, --unassigned, --blocked and --counts
# options of convo-list.
#
# tests/fixtures/list-threads.ndjson has four conversations on
# 2026-11-10 (UTC), newest first: Cy Park 10:01, Bo Tran 10:01,
# Ada Quinn 09:10 (last message outbound) and +15005550104 08:00.
# tests/fixtures/read-thread.ndjson has Rae Moss's thread on 2026-11-12.
# Times are shown in UTC, relative to CONVO_NOW.

load helper

bats_require_minimum_version 1.5.0

THREADS="$FIXTURES/list-threads.ndjson"
THREAD="$FIXTURES/read-thread.ndjson"
RAE=+15005550131
ESC=$'\e'

export TZ=UTC
export CONVO_NOW=2026-11-10T10:04:00Z

ingest() {
	convo-ingest -q --batch-size 1 "$@" >/dev/null
}

# Run the shell command CMD on a pseudo-terminal COLS columns wide
# (default 80) and print its output without the carriage returns that
# the terminal adds. Returns the exit status of CMD.
on_tty() {
	local out rc

	out=$(script -qec "stty cols ${2:-80} rows 24; $1" /dev/null \
	    </dev/null)
	rc=$?
	printf '%s\n' "${out//$'\r'/}"
	return "$rc"
}

# Remove SGR sequences, such as ESC [ 1 m, from standard input.
strip_sgr() {
	sed -E $'s/\e\\[[0-9;]*m//g'
}

# Print the width in columns of the widest line of standard input.
max_width() {
	LC_ALL=C.UTF-8 wc -L
}

# Run SQL assignments SET on the conversation with the customer at PHONE.
update_conversation() {
	sql "UPDATE convo.conversations c SET $2 FROM convo.profiles p
	    WHERE p.account_id = c.account_id
	    AND p.profile_id = c.profile_id AND p.phone = '$1'"
}

# Print an inbound message record at 10:03: inbound PHONE PMID BODY.
inbound() {
	jq -nc --arg from "$1" --arg id "$2" --arg body "$3" \
	    '{type: "message", direction: "inbound", from: $from,
	    to: "+15005550199", body: $body, provider_message_id: $id,
	    sent_at: "2026-11-10T10:03:00Z"}'
}

# Print the id of the conversation with the customer at PHONE.
conversation_of() {
	convo-list --status all --limit 0 |
	    jq -r --arg phone "$1" 'select(.profile.phone == $phone) | .id'
}

unread_of() {
	convo-list --status all --limit 0 |
	    jq -r --arg phone "$1" 'select(.profile.phone == $phone)
	    | .unread_count'
}

list_phones() {
	local records

	records=$(convo-list "$@") || return
	[ -z "$records" ] || jq -r .profile.phone <<<"$records"
}

# Give the fixture conversations every status and flag: Cy's snooze has
# passed, Bo is snoozed, Ada is read, closed and assigned to alice, and
# +15005550104 is blocked, flagged and assigned to bob.
vary_conversations() {
	ingest "$THREADS"
	convo-read +15005550101 >/dev/null
	update_conversation +12015550142 "status = 'snoozed',
	    snoozed_until = now() - interval '1 hour'"
	update_conversation +15005550102 "status = 'snoozed',
	    snoozed_until = now() + interval '1 day'"
	update_conversation +15005550101 "status = 'closed',
	    assignee = 'alice'"
	update_conversation +15005550104 "blocked = true, assignee = 'bob',
	    flagged_message_id = last_message_id, flagged_at = last_at"
}

# Print a profile and an inbound message from +15005550161 whose name,
# body and media URL carry terminal control sequences.
hostile_thread() {
	cat <<'EOF'
{"type":"profile","phone":"+15005550161","first_name":"Eve\u001b[31m","last_name":"Mal\u202eory"}
{"type":"message","direction":"inbound","from":"+15005550161","to":"+15005550199","body":"title \u001b]0;evil\u0007 clear \u001b[2J csi \u009b2J bell\u0007 del\u007f\nnext","media":["https://x.example/a\u001b[5mb"],"provider_message_id":"SMev0001","sent_at":"2026-11-10T10:02:00Z"}
EOF
}

@test "list on terminal prints aligned rows" {
	ingest "$THREADS"
	convo-read +15005550101 >/dev/null
	export NO_COLOR=1
	run on_tty "convo-list"
	assert_success
	assert_output - <<'EOF'
* c_3  Cy Park        3m  Is the coupon 50% off?
* c_2  Bo Tran        3m  Thanks a lot
  c_1  Ada Quinn     54m  → It ships today, order 77 is packed
* c_4  +15005550104   2h  REFUND order_77 please, 500 came broken
EOF
}

@test "list on terminal shows status and flags" {
	vary_conversations
	export NO_COLOR=1
	run on_tty "convo-list --status all"
	assert_success
	assert_output - <<'EOF'
* c_3  Cy Park        3m                   Is the coupon 50% off?
* c_2  Bo Tran        3m  snoozed          Thanks a lot
  c_1  Ada Quinn     54m  closed           → It ships today, order 77 is packed
* c_4  +15005550104   2h  blocked flagged  REFUND order_77 please, 500 came bro…
EOF
}

@test "list times are relative to now" {
	ingest "$THREADS"
	export NO_COLOR=1
	CONVO_NOW=2026-11-13T09:00:00Z run on_tty "convo-list -n 1"
	assert_output --regexp '^\* c_3  Cy Park +Tue  '
	CONVO_NOW=2026-12-01T00:00:00Z run on_tty "convo-list -n 1"
	assert_output --regexp '^\* c_3  Cy Park +10 Nov  '
	CONVO_NOW=2027-06-01T00:00:00Z run on_tty "convo-list -n 1"
	assert_output --regexp '^\* c_3  Cy Park +Nov 2026  '
}

@test "list cuts bodies to terminal width" {
	local body="Über 日本語 ünïcödé ✓ text that goes on and on"

	inbound +15005550151 SMwide1 "$body $body $body" | ingest -
	ingest "$THREADS"
	export NO_COLOR=1
	for cols in 80 41 40 33; do
		run on_tty "convo-list" "$cols"
		assert_success
		assert_equal "${#lines[@]}" 5
		run max_width <<<"$output"
		# A wide character that does not fit leaves one column free.
		[ "$output" -le "$cols" ]
		[ "$output" -ge $((cols - 1)) ]
	done
	run on_tty "convo-list -n 1" 41
	assert_output --regexp '…$'
	run iconv -f UTF-8 -t UTF-8 <<<"$output"
	assert_success
}

@test "narrow list leaves out bodies" {
	ingest "$THREADS"
	export NO_COLOR=1
	run on_tty "convo-list" 20
	assert_success
	assert_line --index 0 "* c_3  Cy Park    3m"
	assert_line --index 3 "* c_4  +150055…   2h"
	refute_output --regexp ' $'
	run max_width <<<"$output"
	assert_output 20
}

@test "list falls back to COLUMNS" {
	ingest "$THREADS"
	export NO_COLOR=1
	run on_tty "COLUMNS=30 convo-list" 0
	assert_success
	run max_width <<<"$output"
	assert_output 30
}

@test "narrow list fits the terminal" {
	local cols

	vary_conversations
	for cols in 30 20 12; do
		run on_tty "convo-list --status all" "$cols"
		assert_success
		assert_equal "${#lines[@]}" 4
		run max_width <<<"$(strip_sgr <<<"$output")"
		[ "$output" -le "$cols" ] || fail "$cols columns: $output wide"
	done
	export NO_COLOR=1
	# The ids stay, so that convo-read and convo-mark can take them.
	run on_tty "convo-list --status all" 30
	assert_output - <<'EOF'
* c_3  Cy Park      3m
* c_2  Bo Tran      3m  snooz…
  c_1  Ada Quinn   54m  closed
* c_4  +15005550…   2h  block…
EOF
	# Without room for a short name beside it, the id goes.
	run on_tty "convo-list --status all" 16
	assert_line --index 0 "* Cy Park     3m"
}

@test "list cuts names between units" {
	local flag=$'\xf0\x9f\x87\xba\xf0\x9f\x87\xb8'

	# The name column is 20 wide. Columns 17 to 22 of the first name are
	# the escape \u202e, and columns 19 and 20 of the second are a flag
	# of two regional indicators, one column each by utf8proc.
	jq -nc --arg flag "$flag" '
	    {type: "profile", phone: "+15005550171",
	     first_name: "Abcdefghijklmnop\u202eqrs"},
	    {type: "profile", phone: "+15005550172",
	     first_name: "Abcdefghijklmnopqr\($flag)s"}' | ingest -
	inbound +15005550171 SMcut1 hello | ingest -
	inbound +15005550172 SMcut2 hello | ingest -
	export NO_COLOR=1
	run on_tty "convo-list" 80
	assert_success
	assert_line --index 0 '* c_2  Abcdefghijklmnopqr…   1m  hello'
	assert_line --index 1 '* c_1  Abcdefghijklmnop…     1m  hello'
	run iconv -f UTF-8 -t UTF-8 <<<"$output"
	assert_success
}

@test "counts wrap on narrow terminal" {
	vary_conversations
	export NO_COLOR=1
	run on_tty "convo-list --counts --status all" 30
	assert_success
	assert_output - <<'EOF'
2 open  1 snoozed  1 closed
3 unread  1 flagged  1 blocked
EOF
}

@test "read on terminal prints chat" {
	ingest "$THREAD"
	export NO_COLOR=1
	id=$(conversation_of $RAE)
	CONVO_NOW=2026-11-12T10:04:00Z run on_tty "convo-read -N $RAE"
	assert_success
	assert_output - <<EOF
Rae Moss  +15005550131  $id
                             ── Thu 12 Nov 2026 ──
        → 09:00 Fall sale: boots 30% off. Reply STOP to opt out.
                campaign · undelivered · error 30003
09:30 Can I return boots I bought online?
09:31 https://media.example.com/r/boots.png
        → 09:40 Yes, within 30 days with the receipt.  delivered
09:45 [keyword STOP] STOP
09:45 — unsubscribed (keyword STOP) —
EOF
}

@test "narrow read fits the terminal" {
	local cols

	ingest "$THREAD"
	hostile_thread | ingest -
	for cols in 30 20 12; do
		for phone in $RAE +15005550161; do
			CONVO_NOW=2026-11-12T10:04:00Z run on_tty \
			    "convo-read -N $phone; convo-read -N -n 2 $phone" \
			    "$cols"
			assert_success
			run max_width <<<"$(strip_sgr <<<"$output")"
			[ "$output" -le "$cols" ] ||
			    fail "$phone at $cols columns: $output wide"
		done
	done
}

@test "narrow read wraps what it cannot cut" {
	ingest "$THREAD"
	export NO_COLOR=1
	id=$(conversation_of $RAE)
	CONVO_NOW=2026-11-12T10:04:00Z run on_tty "convo-read -N $RAE" 30
	assert_success
	assert_output - <<EOF
Rae Moss  +15005550131  $id
    ── Thu 12 Nov 2026 ──
  → 09:00 Fall sale: boots 30%
          off. Reply STOP to
          opt out.
          campaign ·
          undelivered · error
          30003
09:30 Can I return boots I
      bought online?
09:31 https://media.example.co
      m/r/boots.png
  → 09:40 Yes, within 30 days
          with the receipt.
          delivered
09:45 [keyword STOP] STOP
09:45 — unsubscribed (keyword
      STOP) —
EOF
	CONVO_NOW=2026-11-12T10:04:00Z run on_tty \
	    "convo-read -N -n 2 $RAE" 30
	assert_line --index 1 'older messages: convo-read'
	assert_line --index 2 --regexp "^--before m_[0-9]+ $id\$"
	CONVO_NOW=2026-11-12T10:04:00Z run on_tty "convo-read -N $RAE" 16
	assert_line --index 0 'Rae Moss'
	assert_line --index 1 '+15005550131'
	assert_line --index 2 "$id"
	assert_line --index 3 'Thu 12 Nov 2026'
}

@test "read separates days" {
	ingest "$THREADS"
	export NO_COLOR=1
	id=$(conversation_of +15005550101)
	run on_tty "convo-read -N +15005550101"
	assert_success
	assert_output - <<EOF
Ada Quinn  +15005550101  $id
                              ── Sun 1 Nov 2026 ──
00:00 — subscribed (import) —
                             ── Tue 10 Nov 2026 ──
09:00 Where is my order?
        → 09:10 It ships today, order 77 is packed  sent
EOF
}

@test "read wraps long messages" {
	local body="Checking in about the order again, it still has not"

	body="$body arrived and I need it by Friday, thanks a lot"
	inbound +15005550151 SMwrap1 "$body" | ingest -
	id=$(conversation_of +15005550151)
	export NO_COLOR=1
	run on_tty "convo-read -N +15005550151" 40
	assert_success
	assert_output - <<EOF
+15005550151  $id
         ── Tue 10 Nov 2026 ──
10:03 Checking in about the order again,
      it still has not arrived and I
      need it by Friday, thanks a lot
EOF
}

@test "read notes older messages" {
	ingest "$THREAD"
	export NO_COLOR=1
	id=$(conversation_of $RAE)
	cursor=$(convo-read -N -n 2 $RAE | jq -r 'select(.type == "message")
	    | .cursor' | head -n 1)
	run on_tty "convo-read -N -n 2 $RAE"
	assert_success
	assert_line --index 1 --regexp '^older messages: convo-read --before m_'
	assert_line --index 1 "older messages: convo-read --before $cursor $id"
}

@test "older messages note names the account" {
	sql "SELECT convo.account_create('acme')" >/dev/null
	ingest --account acme "$THREAD"
	export NO_COLOR=1
	cursor=$(convo-read -N -n 2 --account acme $RAE |
	    jq -r 'select(.type == "message") | .cursor' | head -n 1)
	id=$(convo-list --account acme --search $RAE | jq -r .id)
	run on_tty "convo-read -N -n 2 --account acme $RAE"
	assert_success
	assert_line --index 1 \
	    "older messages: convo-read -a acme --before $cursor $id"
	# The command in the note prints the older messages.
	run convo-read -a acme --before "$cursor" "$id"
	assert_success
	assert_output --partial '"type":"message"'
}

@test "read separates threads" {
	ingest "$THREAD"
	export NO_COLOR=1
	rae=$(conversation_of $RAE)
	other=$(conversation_of +15005550132)
	run --keep-empty-lines on_tty "convo-read -N $RAE +15005550132"
	assert_success
	assert_line --index 0 "Rae Moss  +15005550131  $rae"
	assert_line --index 8 "09:45 — unsubscribed (keyword STOP) —"
	assert_line --index 9 ""
	assert_line --index 10 "+15005550132  $other"
}

@test "terminal escapes control sequences" {
	hostile_thread | ingest -
	export NO_COLOR=1
	run on_tty "convo-list; convo-read -N +15005550161"
	assert_success
	[[ $output != *"$ESC"* ]]
	[[ $output != *$'\a'* ]]
	[[ $output != *$'\x7f'* ]]
	# The name is cut before the escape \u202e, not inside it.
	assert_line --index 0 --partial '* c_1  Eve\x1b[31m Mal…  '
	assert_line --index 0 --partial 'title \x1b]0;evil\x07 clear \x1b[2J'
	assert_line --index 1 --partial 'Eve\x1b[31m Mal\u202eory'
	assert_line --index 3 --partial 'title \x1b]0;evil\x07 clear \x1b[2J'
	assert_line --index 3 --partial \
	    'csi \u009b2J bell\x07 del\x7f\nnext'
	assert_line --index 4 '      https://x.example/a\x1b[5mb'
}

@test "terminal escapes C1 and bidi controls" {
	hostile_thread | ingest -
	export NO_COLOR=1
	run on_tty "convo-list; convo-read -N +15005550161"
	assert_success
	[[ $output != *$'\xc2\x9b'* ]]
	[[ $output != *$'\xe2\x80\xae'* ]]
	assert_output --partial 'csi \u009b2J'
	assert_output --partial 'Mal\u202eory'
}

@test "colors are the only escape sequences" {
	hostile_thread | ingest -
	ingest "$THREAD"
	unset NO_COLOR
	run on_tty "convo-list; convo-read -N +15005550161 $RAE"
	assert_success
	[[ $output == *"$ESC[1m"* ]]
	[[ $output == *"$ESC[0m"* ]]
	run strip_sgr <<<"$output"
	[[ $output != *"$ESC"* ]]
	assert_output --partial 'title \x1b]0;evil\x07 clear \x1b[2J'
}

@test "NO_COLOR disables colors" {
	hostile_thread | ingest -
	ingest "$THREAD"
	for value in 1 "" 0; do
		export NO_COLOR=$value
		run on_tty "convo-list; convo-read -N $RAE"
		assert_success
		[[ $output == *"Rae Moss"* ]]
		[[ $output != *"$ESC"* ]]
	done
}

@test "json option prints records on terminal" {
	ingest "$THREAD"
	unset NO_COLOR
	expected=$(convo-list)
	run on_tty "convo-list --json"
	assert_success
	assert_output "$expected"
	expected=$(convo-read -N $RAE)
	run on_tty "convo-read -N --json $RAE"
	assert_success
	assert_output "$expected"
	run on_tty "convo-list -j --counts"
	assert_output --partial '"type":"conversation_counts"'
}

@test "pipe output ignores terminal settings" {
	ingest "$THREAD"
	expected=$(convo-list --json)
	run env COLUMNS=20 NO_COLOR= convo-list
	assert_success
	assert_output "$expected"
	run jq -r .last_message.body <<<"$output"
	assert_line --index 0 "Hi, do you ship to Canada?"
}

@test "read on terminal marks thread read" {
	ingest "$THREAD"
	export NO_COLOR=1
	run on_tty "convo-read -N $RAE"
	assert_success
	run unread_of $RAE
	assert_output 2
	run on_tty "convo-read $RAE"
	assert_success
	run unread_of $RAE
	assert_output 0
}

@test "invalid CONVO_NOW is reported" {
	ingest "$THREADS"
	export NO_COLOR=1
	CONVO_NOW=yesterday run on_tty "convo-list -n 1"
	assert_success
	assert_line --index 0 --partial 'ignoring CONVO_NOW "yesterday"'
}

@test "blocked lists only blocked" {
	vary_conversations
	run list_phones --blocked
	assert_success
	assert_output "+15005550104"
	run list_phones --blocked --status closed
	assert_success
	assert_output ""
}

@test "blocked still listed by default" {
	vary_conversations
	run list_phones
	assert_success
	assert_output - <<'EOF'
+12015550142
+15005550104
EOF
}

@test "assigned lists one assignee" {
	vary_conversations
	run list_phones --assigned alice --status all
	assert_success
	assert_output "+15005550101"
	run list_phones --assigned bob
	assert_success
	assert_output "+15005550104"
	run list_phones --assigned alice
	assert_success
	assert_output ""
	run list_phones --assigned "alice' OR true --" --status all
	assert_success
	assert_output ""
}

@test "unassigned lists nobody's" {
	vary_conversations
	run list_phones --unassigned --status all
	assert_success
	assert_output - <<'EOF'
+12015550142
+15005550102
EOF
}

@test "counts by status and flag" {
	vary_conversations
	run convo-list --counts
	assert_success
	assert_output '{"type":"conversation_counts","account":"default","open":2,"snoozed":1,"closed":1,"unread":3,"flagged":1,"blocked":1}'
}

@test "counts follow filters" {
	vary_conversations
	run convo-list --counts --assigned bob
	assert_success
	assert_output '{"type":"conversation_counts","account":"default","open":1,"snoozed":0,"closed":0,"unread":1,"flagged":1,"blocked":1}'
	run convo-list --counts --unassigned
	assert_output '{"type":"conversation_counts","account":"default","open":1,"snoozed":1,"closed":0,"unread":2,"flagged":0,"blocked":0}'
	run convo-list --counts --status open
	assert_output '{"type":"conversation_counts","account":"default","open":2,"snoozed":0,"closed":0,"unread":2,"flagged":1,"blocked":1}'
	run convo-list --counts --unread --search quinn
	assert_output '{"type":"conversation_counts","account":"default","open":0,"snoozed":0,"closed":0,"unread":0,"flagged":0,"blocked":0}'
}

@test "counts ignore limit" {
	vary_conversations
	run convo-list --counts --limit 1
	assert_success
	run jq -r '.open + .snoozed + .closed' <<<"$output"
	assert_output 4
}

@test "counts on terminal print one line" {
	vary_conversations
	export NO_COLOR=1
	run on_tty "convo-list --counts"
	assert_success
	assert_output "2 open  1 snoozed  1 closed  3 unread  1 flagged  1 blocked"
}

@test "assigned and unassigned exit 64" {
	run convo-list --assigned alice --unassigned
	assert_failure 64
	assert_output --partial "--assigned and --unassigned"
}

@test "empty assignee exits 64" {
	run convo-list --assigned ""
	assert_failure 64
	assert_output --partial 'invalid assignee ""'
}

@test "counts with before exits 64" {
	run convo-list --counts --before "2026-11-10T10:01:00Z~3"
	assert_failure 64
	assert_output --partial "--before"
}
