#!/usr/bin/env bats
# convo-list: order, customer fields, unread counts, filters, keyset
# paging and the exit statuses of invalid options.
#
# tests/fixtures/list-threads.ndjson has four conversations on
# 2026-11-10 (UTC), newest first:
#   +12015550142 Cy Park     10:01 inbound "Is the coupon 50% off?"
#   +15005550102 Bo Tran     10:01 inbound "Thanks a lot" (2 unread)
#   +15005550101 Ada Quinn   09:10 outbound reply (1 unread)
#   +15005550104 no profile  08:00 inbound "REFUND order_77 please, ..."
# Bo's and Cy's last messages share a time, and Cy's conversation is
# created after Bo's, so it has the larger id.

load helper

bats_require_minimum_version 1.5.0

THREADS="$FIXTURES/list-threads.ndjson"

# Record FILEs one line per transaction, so that conversations are
# created in the order of their first inbound message.
ingest() {
	convo-ingest -q --batch-size 1 "$@" >/dev/null
}

# Print the ids of the conversations convo-list prints, one a line.
list_ids() {
	local records

	records=$(convo-list "$@") || return
	[ -z "$records" ] || jq -r .id <<<"$records"
}

# Print the customers' phones in the order convo-list prints them.
list_phones() {
	local records

	records=$(convo-list "$@") || return
	[ -z "$records" ] || jq -r .profile.phone <<<"$records"
}

# Print the id of the conversation with the customer at PHONE.
conversation_of() {
	convo-list --status all --limit 0 |
	    jq -r --arg phone "$1" 'select(.profile.phone == $phone) | .id'
}

# Print the record of the conversation with the customer at PHONE.
record_of() {
	convo-list --status all --limit 0 |
	    jq -c --arg phone "$1" 'select(.profile.phone == $phone)'
}

# Print COUNT inbound messages, each from another customer, from
# +15005551001 upwards. Every three share a time, and each group of
# three is a minute older than the one before, starting at 10:59.
many_conversations() {
	local count=$1 i minute

	for ((i = 1; i <= count; i++)); do
		minute=$((59 - (i - 1) / 3))
		printf '{"type":"message","direction":"inbound",'
		printf '"from":"+1500555%04d","to":"+15005550199",' $((1000 + i))
		printf '"body":"message %d","provider_message_id":"SMmany%04d",' \
		    "$i" "$i"
		printf '"sent_at":"2026-11-10T10:%02d:00Z"}\n' "$minute"
	done
}

# Set the status of the conversation with the customer at PHONE, and
# its snooze time, an SQL expression (default NULL).
set_status() {
	sql "UPDATE convo.conversations c SET status = '$2',
	    snoozed_until = ${3:-NULL} FROM convo.profiles p
	    WHERE p.account_id = c.account_id
	    AND p.profile_id = c.profile_id AND p.phone = '$1'"
}

# Print an inbound message record: inbound PHONE SENT_AT PMID BODY.
inbound() {
	printf '{"type":"message","direction":"inbound","from":"%s",' "$1"
	printf '"to":"+15005550199","body":"%s","provider_message_id":"%s",' \
	    "$4" "$3"
	printf '"sent_at":"%s"}\n' "$2"
}

# Print a message record with media:
# media_message DIRECTION PHONE SENT_AT PMID BODY MEDIA, where MEDIA is
# the JSON array of the media field.
media_message() {
	local from=$2 to=+15005550199

	if [ "$1" = outbound ]; then
		from=+15005550199
		to=$2
	fi
	printf '{"type":"message","direction":"%s","from":"%s","to":"%s",' \
	    "$1" "$from" "$to"
	printf '"body":"%s","media":%s,"provider_message_id":"%s",' \
	    "$5" "$6" "$4"
	printf '"sent_at":"%s"}\n' "$3"
}

# Run convo-list with ARGS on a terminal of 80 columns, without colors
# and with times from 2026-11-10T12:30:00Z, and print its lines without
# the terminal's carriage returns.
list_table() {
	local command

	command -v script >/dev/null ||
	    skip "script(1) of util-linux runs convo-list on a terminal"
	command=$(printf '%q ' env COLUMNS=80 NO_COLOR=1 TZ=UTC \
	    CONVO_NOW=2026-11-10T12:30:00Z convo-list "$@")
	script -qec "$command" /dev/null </dev/null >table.out || return
	tr -d '\r' <table.out
}

@test "newest last message comes first" {
	ingest "$THREADS"
	run list_phones
	assert_success
	assert_output - <<'EOF'
+12015550142
+15005550102
+15005550101
+15005550104
EOF
}

@test "equal times order by id descending" {
	ingest "$THREADS"
	bo=$(conversation_of +15005550102)
	cy=$(conversation_of +12015550142)
	[ "${cy#c_}" -gt "${bo#c_}" ]
	run list_ids
	assert_success
	assert_line --index 0 "$cy"
	assert_line --index 1 "$bo"
}

@test "last message is summarised" {
	ingest "$THREADS"
	run record_of +15005550101
	assert_success
	run jq -c .last_message <<<"$output"
	assert_output '{"body":"It ships today, order 77 is packed","direction":"outbound","at":"2026-11-10T09:10:00Z","provider_message_id":"SMla0002"}'
}

@test "table labels media without text" {
	local photo='{"url":"https://media.example.com/a.png","content_type":"image/png"}'
	local video='{"url":"https://media.example.com/b.mp4","content_type":"video/mp4"}'
	local audio='{"url":"https://media.example.com/c.amr","content_type":"audio/amr"}'
	{
		media_message inbound +15005550161 2026-11-10T10:06:00Z MMtb1 \
		    "" "[$photo]"
		media_message inbound +15005550162 2026-11-10T10:05:00Z MMtb2 \
		    "" "[$photo,$photo,$photo]"
		media_message inbound +15005550163 2026-11-10T10:04:00Z MMtb3 \
		    "" "[$photo,$video]"
		media_message inbound +15005550164 2026-11-10T10:03:00Z MMtb4 \
		    "" '["https://media.example.com/d"]'
		media_message inbound +15005550165 2026-11-10T10:02:00Z MMtb5 \
		    "" "[$audio]"
		media_message inbound +15005550166 2026-11-10T09:00:00Z SMtb6 \
		    "Can I send a photo?" "[]"
		media_message outbound +15005550166 2026-11-10T10:01:00Z MMtb7 \
		    "" "[$video]"
		media_message inbound +15005550167 2026-11-10T10:00:00Z MMtb8 \
		    "Here it is" "[$photo]"
	} | ingest -
	run list_table
	assert_success
	assert_line --index 0 "* c_1  +15005550161  2h  [photo]"
	assert_line --index 1 "* c_2  +15005550162  2h  [3 photos]"
	assert_line --index 2 "* c_3  +15005550163  2h  [2 attachments]"
	assert_line --index 3 "* c_4  +15005550164  2h  [attachment]"
	assert_line --index 4 "* c_5  +15005550165  2h  [audio file]"
	assert_line --index 5 "* c_6  +15005550166  2h  → [video]"
	assert_line --index 6 "* c_7  +15005550167  2h  Here it is"
	[ "${#lines[@]}" -eq 7 ]
}

# convo-db archive drops the rows of a month, as the DELETE does here.
@test "table leaves archived media blank" {
	media_message inbound +15005550161 2026-11-10T10:06:00Z MMtb1 "" \
	    '[{"url":"https://media.example.com/a.png","content_type":"image/png"}]' |
	    ingest -
	sql "DELETE FROM convo.messages WHERE provider_message_id = 'MMtb1'"
	run list_table
	assert_success
	assert_output "* c_1  +15005550161  2h"
}

@test "records keep media-only body empty" {
	media_message inbound +15005550161 2026-11-10T10:06:00Z MMtb1 "" \
	    '[{"url":"https://media.example.com/a.png","content_type":"image/png"}]' |
	    ingest -
	run record_of +15005550161
	assert_success
	run jq -c .last_message <<<"$output"
	assert_output '{"body":"","direction":"inbound","at":"2026-11-10T10:06:00Z","provider_message_id":"MMtb1"}'
}

@test "customer fields come from the profile" {
	ingest "$THREADS"
	run record_of +15005550101
	assert_success
	record=$output
	run jq -r '.profile.id' <<<"$record"
	assert_output --regexp '^p_[0-9]+$'
	run jq -r '.profile.phone' <<<"$record"
	assert_output "+15005550101"
	run jq -r '.profile.name' <<<"$record"
	assert_output "Ada Quinn"
	run jq -r '.profile.email' <<<"$record"
	assert_output "ada@example.com"
	run jq -r '.profile.photo_url' <<<"$record"
	assert_output "https://img.example.com/ada.jpg"
	run jq -r '.profile.timezone' <<<"$record"
	assert_output "America/Chicago"
	run jq -r '.profile.consent' <<<"$record"
	assert_output "subscribed"
}

@test "customer without profile has null fields" {
	ingest "$THREADS"
	run record_of +15005550104
	assert_success
	run jq -c '.profile | [.name, .photo_url, .email, .consent]' \
	    <<<"$output"
	assert_output '[null,null,null,"never_subscribed"]'
}

@test "conversation record names its account" {
	ingest "$THREADS"
	run record_of +15005550102
	assert_success
	run jq -c '[.type, .account, .channel, .status, .brand_address]' \
	    <<<"$output"
	assert_output '["conversation","default","sms","open","+15005550199"]'
}

@test "unread count counts inbound messages" {
	ingest "$THREADS"
	run convo-list
	assert_success
	run jq -r '"\(.profile.phone) \(.unread_count)"' <<<"$output"
	assert_output - <<'EOF'
+12015550142 1
+15005550102 2
+15005550101 1
+15005550104 1
EOF
}

@test "unread lists only unread threads" {
	ingest "$THREADS"
	convo-read "$(conversation_of +15005550102)" >/dev/null
	convo-read "$(conversation_of +15005550104)" >/dev/null
	run list_phones --unread
	assert_success
	assert_output - <<'EOF'
+12015550142
+15005550101
EOF
}

@test "unread prints nothing when all read" {
	ingest "$THREADS"
	convo-list --limit 0 | convo-read >/dev/null
	run convo-list --unread
	assert_success
	assert_output ""
}

@test "limit defaults to 50 records" {
	many_conversations 60 >many.ndjson
	ingest many.ndjson
	run list_ids --limit 0
	newest_50=$(head -n 50 <<<"$output")
	run list_ids
	assert_success
	assert_equal "${#lines[@]}" 50
	assert_output "$newest_50"
}

@test "limit 0 lists every conversation" {
	many_conversations 60 >many.ndjson
	ingest many.ndjson
	run list_ids --limit 0
	assert_success
	assert_equal "${#lines[@]}" 60
	run sort -u <<<"$output"
	assert_equal "${#lines[@]}" 60
}

@test "limit 3 gives the newest three" {
	ingest "$THREADS"
	run list_phones --limit 3
	assert_success
	assert_output - <<'EOF'
+12015550142
+15005550102
+15005550101
EOF
}

@test "sixty threads sort by time, id" {
	many_conversations 60 >many.ndjson
	ingest many.ndjson
	# Groups of three, newest first; in a group the customer who wrote
	# last has the largest conversation id and comes first.
	: >expected
	for ((group = 0; group < 20; group++)); do
		for ((k = 3; k >= 1; k--)); do
			printf '+1500555%04d\n' $((1000 + 3 * group + k)) >>expected
		done
	done
	run list_phones --limit 0
	assert_success
	assert_output "$(cat expected)"
	records=$(convo-list --limit 0)
	by_time_then_id=$(jq -rs 'sort_by(.last_message.at,
	    (.id[2:] | tonumber)) | reverse | .[].id' <<<"$records")
	run jq -r .id <<<"$records"
	assert_output "$by_time_then_id"
}

@test "cursor pages visit each conversation once" {
	many_conversations 60 >many.ndjson
	ingest many.ndjson
	list_ids --limit 0 >all
	: >paged
	cursor=""
	pages=0
	while [ "$pages" -lt 20 ]; do
		if [ -z "$cursor" ]; then
			page=$(convo-list --limit 7)
		else
			page=$(convo-list --limit 7 --before "$cursor")
		fi
		[ -n "$page" ] || break
		jq -r .id <<<"$page" >>paged
		cursor=$(tail -n 1 <<<"$page" | jq -r .cursor)
		pages=$((pages + 1))
	done
	assert_equal "$pages" 9
	run sort -u paged
	assert_equal "${#lines[@]}" 60
	run diff all paged
	assert_success
}

@test "cursor is last time and id" {
	ingest "$THREADS"
	run record_of +15005550102
	assert_success
	id=$(jq -r .id <<<"$output")
	run jq -r .cursor <<<"$output"
	assert_output "2026-11-10T10:01:00Z~${id#c_}"
}

@test "cursor inside a tie continues" {
	ingest "$THREADS"
	cursor=$(record_of +12015550142 | jq -r .cursor)
	run list_phones --before "$cursor"
	assert_success
	assert_output - <<'EOF'
+15005550102
+15005550101
+15005550104
EOF
}

@test "last record's cursor ends paging" {
	ingest "$THREADS"
	cursor=$(record_of +15005550104 | jq -r .cursor)
	run convo-list --before "$cursor"
	assert_success
	assert_output ""
}

@test "search matches first and last name" {
	ingest "$THREADS"
	run list_phones --search "ada quinn"
	assert_success
	assert_output "+15005550101"
	run list_phones --search "TRAN"
	assert_success
	assert_output "+15005550102"
}

@test "search matches formatted phone digits" {
	ingest "$THREADS"
	run list_phones --search "(201) 555-01"
	assert_success
	assert_output "+12015550142"
	run list_phones --search "201.555.0142"
	assert_success
	assert_output "+12015550142"
	run list_phones --search "+1 500 555 0102"
	assert_success
	assert_output "+15005550102"
}

@test "search matches national number with trunk prefix" {
	convo-keywords settings --country GB >/dev/null
	printf '%s\n' '{"type":"message","direction":"inbound","from":"020 7946 0018","to":"+12025550140","body":"hello from London","provider_message_id":"SMgb1","sent_at":"2026-11-10T10:00:00Z"}' \
	    >input.ndjson
	ingest input.ndjson
	run list_phones --search "020 7946 0018"
	assert_success
	assert_output "+442079460018"
	run list_phones --search "020 7946 0019"
	assert_success
	assert_output ""
}

@test "search matches last message body" {
	ingest "$THREADS"
	run list_phones --search "THANKS A"
	assert_success
	assert_output "+15005550102"
	run list_phones --search "refund"
	assert_success
	assert_output "+15005550104"
}

@test "search skips earlier message bodies" {
	ingest "$THREADS"
	run convo-list --search "price match"
	assert_success
	assert_output ""
}

@test "search folds case beyond ASCII" {
	ingest - <<'EOF'
{"type":"profile","phone":"+15005550111","first_name":"Zoë","last_name":"Ñandú"}
{"type":"message","direction":"inbound","from":"+15005550111","to":"+15005550199","body":"Hola","provider_message_id":"SMfold001","sent_at":"2026-11-10T09:00:00Z"}
EOF
	run list_phones --search "ñANDÚ"
	assert_success
	assert_output "+15005550111"
	run list_phones --search "ZOË"
	assert_success
	assert_output "+15005550111"
}

@test "search treats percent sign literally" {
	ingest "$THREADS"
	run list_phones --search "50%"
	assert_success
	assert_output "+12015550142"
	run list_phones --search "%"
	assert_success
	assert_output "+12015550142"
}

@test "search treats underscore literally" {
	ingest "$THREADS"
	run list_phones --search "order_"
	assert_success
	assert_output "+15005550104"
	run list_phones --search "_"
	assert_success
	assert_output "+15005550104"
}

@test "search treats backslash literally" {
	ingest - <<'EOF'
{"type":"message","direction":"inbound","from":"+15005550112","to":"+15005550199","body":"Saved to C:\\orders","provider_message_id":"SMbs001","sent_at":"2026-11-10T09:00:00Z"}
{"type":"message","direction":"inbound","from":"+15005550113","to":"+15005550199","body":"Saved to C:orders","provider_message_id":"SMbs002","sent_at":"2026-11-10T09:01:00Z"}
EOF
	run list_phones --search 'c:\o'
	assert_success
	assert_output "+15005550112"
}

@test "phone-like search matches body text" {
	ingest - <<'EOF'
{"type":"message","direction":"inbound","from":"+15005550114","to":"+15005550199","body":"Call me back at 555-0123","provider_message_id":"SMdig001","sent_at":"2026-11-10T09:00:00Z"}
EOF
	run list_phones --search "555-0123"
	assert_success
	assert_output "+15005550114"
}

@test "search combines with unread" {
	ingest "$THREADS"
	convo-read "$(conversation_of +15005550102)" >/dev/null
	run list_phones --unread --search "500"
	assert_success
	assert_output - <<'EOF'
+15005550101
+15005550104
EOF
}

@test "since RFC 3339 keeps later threads" {
	ingest "$THREADS"
	run list_phones --since 2026-11-10T09:10:00Z
	assert_success
	assert_output - <<'EOF'
+12015550142
+15005550102
+15005550101
EOF
}

@test "since is inclusive of its time" {
	ingest "$THREADS"
	run list_phones --since 2026-11-10T10:01:00Z
	assert_success
	assert_output - <<'EOF'
+12015550142
+15005550102
EOF
}

@test "since honours a UTC offset" {
	ingest "$THREADS"
	run list_phones --since 2026-11-10T04:05:00-05:00
	assert_success
	assert_output - <<'EOF'
+12015550142
+15005550102
+15005550101
EOF
}

@test "since accepts a 20-hour offset" {
	ingest "$THREADS"
	run list_phones --since 2026-11-09T13:05:00-20:00
	assert_success
	assert_output - <<'EOF'
+12015550142
+15005550102
+15005550101
EOF
}

@test "since duration counts back from now" {
	three_hours_ago=$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)
	ten_minutes_ago=$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%SZ)
	three_days_ago=$(date -u -d '-3 days' +%Y-%m-%dT%H:%M:%SZ)
	{
		inbound +15005550121 "$three_days_ago" SMago001 "three days ago"
		inbound +15005550122 "$three_hours_ago" SMago002 "three hours ago"
		inbound +15005550123 "$ten_minutes_ago" SMago003 "ten minutes ago"
	} >recent.ndjson
	ingest recent.ndjson
	run list_phones --since 1h
	assert_success
	assert_output "+15005550123"
	run list_phones --since 30m
	assert_success
	assert_output "+15005550123"
	run list_phones --since 4h
	assert_success
	assert_output - <<'EOF'
+15005550123
+15005550122
EOF
	run list_phones --since 2d
	assert_success
	assert_equal "${#lines[@]}" 2
	run list_phones --since 1w
	assert_success
	assert_equal "${#lines[@]}" 3
}

@test "status defaults to open" {
	ingest "$THREADS"
	set_status +15005550102 closed
	run list_phones
	assert_success
	assert_output - <<'EOF'
+12015550142
+15005550101
+15005550104
EOF
}

@test "status closed lists closed threads" {
	ingest "$THREADS"
	set_status +15005550102 closed
	run convo-list --status closed
	assert_success
	run jq -c '[.profile.phone, .status]' <<<"$output"
	assert_output '["+15005550102","closed"]'
}

@test "status all lists every thread" {
	ingest "$THREADS"
	set_status +15005550102 closed
	run list_phones --status all
	assert_success
	assert_output - <<'EOF'
+12015550142
+15005550102
+15005550101
+15005550104
EOF
}

@test "status open hides closed threads" {
	ingest "$THREADS"
	sql "UPDATE convo.conversations SET status = 'closed'"
	run convo-list --status open
	assert_success
	assert_output ""
}

@test "snooze in the future hides thread" {
	ingest "$THREADS"
	set_status +15005550101 snoozed "now() + interval '1 day'"
	run list_phones --status open
	assert_success
	refute_line "+15005550101"
	run convo-list --status snoozed
	assert_success
	run jq -r '.profile.phone' <<<"$output"
	assert_output "+15005550101"
}

@test "expired snooze counts as open" {
	ingest "$THREADS"
	set_status +15005550101 snoozed "now() - interval '1 minute'"
	run record_of +15005550101
	assert_success
	run jq -r .status <<<"$output"
	assert_output "open"
	run list_phones --status open
	assert_line "+15005550101"
	run convo-list --status snoozed
	assert_output ""
}

@test "customer text reopens a closed thread" {
	ingest "$THREADS"
	sql "UPDATE convo.conversations SET status = 'closed'"
	inbound +15005550102 2026-11-10T11:00:00Z SMlb0003 "One more thing" |
	    ingest -
	run list_phones --status open
	assert_success
	assert_output "+15005550102"
}

@test "invalid cursor exits 64" {
	run convo-list --before yesterday
	assert_failure 64
	assert_output --partial 'invalid cursor "yesterday"'
	run convo-list --before "2026-11-10T10:01:00Z~"
	assert_failure 64
	assert_output --partial 'invalid cursor "2026-11-10T10:01:00Z~"'
	run convo-list --before "2026-02-30T10:01:00Z~4"
	assert_failure 64
	assert_output --partial 'invalid cursor "2026-02-30T10:01:00Z~4"'
}

@test "cursor with oversized id exits 64" {
	run convo-list --before "2026-11-10T10:01:00Z~99999999999999999999"
	assert_failure 64
	assert_output --partial \
	    'invalid cursor "2026-11-10T10:01:00Z~99999999999999999999"'
}

@test "invalid limit exits 64" {
	run convo-list --limit ten
	assert_failure 64
	assert_output --partial 'limit "ten" is invalid'
	run convo-list --limit -1
	assert_failure 64
	assert_output --partial 'limit "-1" is too small'
	run convo-list --limit 1000000001
	assert_failure 64
	assert_output --partial 'limit "1000000001" is too large'
}

@test "unknown status exits 64" {
	run convo-list --status archived
	assert_failure 64
	assert_output --partial 'unknown status "archived"'
	run convo-list --status OPEN
	assert_failure 64
	assert_output --partial 'unknown status "OPEN"'
}

@test "invalid since exits 64" {
	run convo-list --since yesterday
	assert_failure 64
	assert_output --partial 'invalid time "yesterday"'
	run convo-list --since 1h30m
	assert_failure 64
	assert_output --partial 'invalid time "1h30m"'
	run convo-list --since -2h
	assert_failure 64
	assert_output --partial 'invalid time "-2h"'
	run convo-list --since 2026-11-10
	assert_failure 64
	assert_output --partial 'invalid time "2026-11-10"'
}

@test "closed output exits 74" {
	convo-ingest -q "$SAMPLE" >/dev/null
	run bash -c 'convo-list -n 0 | (exec 0<&-; sleep 1); echo "${PIPESTATUS[0]}"'
	assert_output 74
}

@test "extra argument is a usage error" {
	run --separate-stderr convo-list open
	assert_failure 64
	assert_equal "${stderr_lines[0]}" \
	    'convo-list: unexpected argument "open": convo-list takes options only'
	assert_equal "${stderr_lines[1]:0:19}" 'usage: convo-list ['
	assert_output ''
	run --separate-stderr convo-list -u open closed
	assert_failure 64
	assert_equal "${stderr_lines[0]}" \
	    'convo-list: unexpected argument "open": convo-list takes options only'
}

@test "unknown account exits 78" {
	run convo-list --account nosuch
	assert_failure 78
	assert_output --partial 'account "nosuch" not found'
	CONVO_ACCOUNT=nosuch run convo-list
	assert_failure 78
	assert_output --partial 'account "nosuch" not found'
}

@test "account option selects its threads" {
	sql "SELECT convo.account_create('acme')" >/dev/null
	ingest "$THREADS"
	inbound +15005550141 2026-11-10T12:00:00Z SMacme001 "Hello Acme" |
	    convo-ingest -q --account acme >/dev/null
	run list_phones --account acme
	assert_success
	assert_output "+15005550141"
	run convo-list --account acme
	run jq -r .account <<<"$output"
	assert_output "acme"
	run list_phones --limit 0
	refute_line "+15005550141"
	CONVO_ACCOUNT=acme run list_phones
	assert_output "+15005550141"
}

@test "campaign-only customer has no conversation" {
	ingest "$THREADS"
	ingest - <<'EOF'
{"type":"message","direction":"outbound","from":"+15005550199","to":"+15005550151","body":"Fall sale: boots 30% off. Reply STOP to opt out.","provider_message_id":"SMcmp001","sent_at":"2026-11-10T12:00:00Z","origin":"campaign","origin_id":"cmp-fall","status":"sent"}
{"type":"status","provider_message_id":"SMcmp001","status":"delivered","at":"2026-11-10T12:00:04Z"}
EOF
	run list_phones --status all --limit 0
	assert_success
	refute_line "+15005550151"
	assert_equal "${#lines[@]}" 4
}

@test "STOP-only customer has no conversation" {
	ingest "$THREADS"
	inbound +15005550152 2026-11-10T12:00:00Z SMkw001 "STOP" | ingest -
	run list_phones --status all --limit 0
	assert_success
	refute_line "+15005550152"
	assert_equal "${#lines[@]}" 4
}

@test "HELP and YES make no conversation" {
	{
		inbound +15005550153 2026-11-10T12:00:00Z SMkw002 "HELP"
		inbound +15005550154 2026-11-10T12:00:00Z SMkw003 "yes"
		inbound +15005550155 2026-11-10T12:00:00Z SMkw004 "Stop all"
	} | ingest -
	run convo-list --status all --limit 0
	assert_success
	assert_output ""
}

@test "text after STOP starts a conversation" {
	{
		inbound +15005550156 2026-11-10T12:00:00Z SMkw005 "STOP"
		inbound +15005550156 2026-11-10T12:05:00Z SMkw006 "Why did I get that?"
	} | ingest -
	run convo-list
	assert_success
	run jq -c '[.profile.phone, .unread_count, .profile.consent,
	    .last_message.body]' <<<"$output"
	assert_output '["+15005550156",1,"unsubscribed","Why did I get that?"]'
}

@test "campaign text becomes last message" {
	ingest "$THREADS"
	ingest - <<'EOF'
{"type":"message","direction":"outbound","from":"+15005550199","to":"+15005550102","body":"Winter sale starts now","provider_message_id":"SMcmp002","sent_at":"2026-11-10T12:00:00Z","origin":"campaign","origin_id":"cmp-winter","status":"sent"}
EOF
	run record_of +15005550102
	assert_success
	record=$output
	run jq -c .last_message <<<"$record"
	assert_output '{"body":"Winter sale starts now","direction":"outbound","at":"2026-11-10T12:00:00Z","provider_message_id":"SMcmp002"}'
	run jq -r .unread_count <<<"$record"
	assert_output 2
	run list_phones
	assert_line --index 0 "+15005550102"
}

@test "campaign text keeps read thread read" {
	ingest "$THREADS"
	convo-read "$(conversation_of +15005550102)" >/dev/null
	ingest - <<'EOF'
{"type":"message","direction":"outbound","from":"+15005550199","to":"+15005550102","body":"Winter sale starts now","provider_message_id":"SMcmp003","sent_at":"2026-11-10T12:00:00Z","origin":"campaign","origin_id":"cmp-winter","status":"sent"}
EOF
	run record_of +15005550102
	run jq -c '[.unread_count, .last_message.direction]' <<<"$output"
	assert_output '[0,"outbound"]'
	run list_phones --unread
	refute_line "+15005550102"
}

@test "campaign text keeps closed thread closed" {
	ingest "$THREADS"
	set_status +15005550102 closed
	ingest - <<'EOF'
{"type":"message","direction":"outbound","from":"+15005550199","to":"+15005550102","body":"Winter sale starts now","provider_message_id":"SMcmp004","sent_at":"2026-11-10T12:00:00Z","origin":"campaign","origin_id":"cmp-winter","status":"sent"}
EOF
	run record_of +15005550102
	run jq -r .status <<<"$output"
	assert_output "closed"
}

@test "shipped sample lists four threads" {
	convo-ingest -q "$SAMPLE" >/dev/null
	run convo-list
	assert_success
	run jq -r '"\(.profile.phone) \(.unread_count) \(.profile.name)"' \
	    <<<"$output"
	assert_output - <<'EOF'
+12015550123 3 Ada Reyes
+16175550163 1 Sam Berg
+19175550111 1 null
+14155550142 2 Mei Lin
EOF
}
