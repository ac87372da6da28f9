#!/usr/bin/env bats
# convo-keywords: keyword lists, changes, matching tests, account
# settings and reply checks.

load helper

# Print an inbound message record from PHONE with BODY and message id ID.
inbound() {
	printf '{"type":"message","direction":"inbound","from":"%s",' "$1"
	printf '"to":"+15005550100","body":%s,' "$(jq -Rn --arg b "$2" '$b')"
	printf '"provider_message_id":"%s",' "$3"
	printf '"sent_at":"2026-11-03T10:00:00Z"}\n'
}

# Print field FIELD of the keyword record of WORD in the listing.
keyword_field() {
	convo-keywords list |
	    jq -r --arg w "$1" --arg f "$2" 'select(.word == $w) | .[$f]'
}

@test "lint reports words in braces that are no placeholder" {
	convo-keywords settings --help-contact help@example.com >/dev/null
	convo-keywords add end --action opt_out \
	    --reply '{brand}: no more messages. Reply START. {HELP}' >/dev/null
	run --separate-stderr convo-keywords lint
	assert_failure 65
	run jq -r 'select(.word == "end") | .problem' <<<"$output"
	assert_output 'reply has "{HELP}", which is no placeholder and is sent as written; the placeholders are {brand}, {help} and {frequency}'
}

@test "history keeps who changed keywords and settings" {
	convo-keywords -o ana add hours --action custom \
	    --reply '{brand} is open 9-5' >/dev/null
	convo-keywords -o ana add hours --action custom \
	    --reply '{brand} opens at 8' >/dev/null
	convo-keywords -o bob settings --optout-mode contains >/dev/null
	convo-keywords -o bob remove hours >/dev/null
	run --separate-stderr convo-keywords history
	assert_success
	run jq -c 'select(.word == "hours" or .action == "settings")
	    | [.operator, .action, .word, .before, .after]' <<<"$output"
	assert_output - <<'EOF'
["ana","add","hours",null,{"lang":"en","reply":"{brand} is open 9-5","action":"custom","only_unsubscribed":false}]
["ana","change","hours",{"lang":"en","reply":"{brand} is open 9-5","action":"custom","only_unsubscribed":false},{"lang":"en","reply":"{brand} opens at 8","action":"custom","only_unsubscribed":false}]
["bob","settings",null,{"optout_mode":"whole"},{"optout_mode":"contains"}]
["bob","remove","hours",{"lang":"en","reply":"{brand} opens at 8","action":"custom","only_unsubscribed":false},null]
EOF
}

@test "history names the role without an operator" {
	sql "UPDATE convo.keywords SET reply = 'Bye' WHERE word = 'stop'"
	run --separate-stderr convo-keywords history
	assert_success
	run jq -r 'select(.action == "change") | [.operator, .word] | join(" ")' \
	    <<<"$output"
	assert_output "$(sql 'SELECT session_user') stop"
}

@test "operator with control characters exits 64" {
	run --separate-stderr convo-keywords -o $'a\tb' remove hours
	assert_failure 64
	assert_equal "$stderr" 'convo-keywords: invalid operator "a?b": expected a name without control characters'
}

@test "invalid UTF-8 is named by its byte" {
	run --separate-stderr convo-keywords test $'st\xffop'
	assert_failure 65
	assert_equal "$stderr" 'convo-keywords: text is not valid UTF-8 at byte 3'
	run --separate-stderr convo-keywords add $'\xc3' --action opt_out
	assert_failure 64
	assert_equal "$stderr" 'convo-keywords: keyword is not valid UTF-8 at byte 1'
	run --separate-stderr convo-keywords settings --brand $'Ac\xffme'
	assert_failure 64
	assert_equal "$stderr" 'convo-keywords: invalid --brand: not valid UTF-8 at byte 3'
}

@test "settings with control characters exit 64" {
	run --separate-stderr convo-keywords settings --brand $'Ac\nme'
	assert_failure 64
	assert_equal "$stderr" 'convo-keywords: invalid --brand "Ac?me": it contains a control character at byte 3, which replies would send to customers'
	run --separate-stderr convo-keywords settings \
	    --help-contact $'help\u202e@example.com'
	assert_failure 64
	[[ $stderr == *'invalid --help-contact '*'control character at byte 5,'* ]]
	run --separate-stderr convo-keywords settings --frequency $'4\tmsgs'
	assert_failure 64
	run convo-keywords settings
	refute_output --partial 'Ac'
}

@test "list shows English defaults" {
	run convo-keywords list
	assert_success
	[ "$(wc -l <<<"$output")" -eq 15 ]
	run jq -r 'select(.word == "stop") | .action' <<<"$output"
	assert_output "opt_out"
	run keyword_field yes only_unsubscribed
	assert_output "true"
	run keyword_field stop default
	assert_output "true"
	run keyword_field stop account
	assert_output "default"
}

@test "list orders by action then word" {
	run bash -c 'convo-keywords list | jq -r "[.action, .word] | @tsv"'
	assert_success
	assert_line --index 0 "opt_out	cancel"
	assert_line --index 10 "opt_in	start"
	assert_line --index 13 "help	help"
}

@test "add then list shows keyword" {
	run convo-keywords add hours --action custom --reply '{brand}: 9-5'
	assert_success
	run keyword_field hours action
	assert_output "custom"
	run keyword_field hours reply
	assert_output "{brand}: 9-5"
	run keyword_field hours default
	assert_output "false"
}

@test "add stores phrase in normal form" {
	run convo-keywords add Stop-Now! --action opt_out
	assert_success
	run jq -r .word <<<"$output"
	assert_output "stop now"
	run convo-keywords add Please STOP, --action opt_out
	assert_success
	run jq -r .word <<<"$output"
	assert_output "please stop"
}

@test "add replaces existing keyword" {
	run convo-keywords add START --action custom --reply 'Call us' \
	    --lang es
	assert_success
	run keyword_field start action
	assert_output "custom"
	run keyword_field start reply
	assert_output "Call us"
	run keyword_field start lang
	assert_output "es"
	run keyword_field start default
	assert_output "false"
	run bash -c 'convo-keywords list | wc -l'
	assert_output "15"
}

@test "add rejects word without letters" {
	run convo-keywords add '?!' --action custom
	assert_failure 64
	assert_output --partial 'keyword "?!" has no letters or digits'
}

@test "keyword longer than compared texts rejected" {
	local long
	long=$(printf 'ab %.0s' $(seq 86))
	run convo-keywords add "$long" --action custom
	assert_failure 64
	assert_output --partial 'keyword "ab ab ab'
	assert_output --partial 'is 257 bytes in normal form, longer than the 256 bytes'
	jq -nc --arg w "$long" '{word: $w, action: "custom"}' >input.ndjson
	echo '{"word":"hours","action":"custom"}' >>input.ndjson
	run convo-keywords import input.ndjson
	assert_failure 65
	assert_line --partial 'line 1: word "ab ab ab'
	assert_line --partial 'keywords stored: 1, lines rejected: 1'
	run convo-keywords list
	refute_output --partial '"word":"ab ab'
}

@test "add needs an action" {
	run convo-keywords add hours
	assert_failure 64
	assert_output --partial 'add needs --action'
	run convo-keywords add hours --action stopp
	assert_failure 64
	assert_output --partial 'unknown action "stopp"'
}

@test "add rejects only-unsubscribed opt-out" {
	run convo-keywords add nah --action opt_out --only-unsubscribed
	assert_failure 64
	assert_output --partial 'applies only to opt_in keywords'
}

@test "option of another command rejected" {
	run convo-keywords add hours --action custom --brand Acme
	assert_failure 64
	assert_output --partial 'option --brand does not apply to add'
}

@test "remove deletes keywords" {
	run convo-keywords remove START opt-out
	assert_success
	run keyword_field start action
	assert_output ""
	run keyword_field "opt out" action
	assert_output ""
	run bash -c 'convo-keywords list | wc -l'
	assert_output "13"
}

@test "remove unknown word exits 65" {
	run convo-keywords remove stopp revoke
	assert_failure 65
	assert_output --partial 'keyword "stopp" not found in account'
	run keyword_field revoke action
	assert_output ""
}

@test "remove rejects standard keywords" {
	local word
	convo-keywords add hours --action custom >/dev/null
	for word in STOP stopall Unsubscribe cancel end quit help info; do
		run convo-keywords remove hours "$word"
		[ "$status" -eq 64 ] || fail "remove $word exits $status"
	done
	run convo-keywords remove STOP
	assert_failure 64
	assert_output --partial 'cannot remove keyword "stop": carrier rules (CTIA) and Twilio treat STOP as an opt-out'
	assert_output --partial 'convo-keywords add stop --action opt_out --reply TEXT'
	run convo-keywords remove help
	assert_output --partial 'cannot remove keyword "help": carrier rules (CTIA) and Twilio treat HELP as a help request'
	run keyword_field hours action
	assert_output "custom"
	run bash -c 'convo-keywords list | wc -l'
	assert_output "16"
}

@test "add rejects changing standard action" {
	local word action
	for word in stop STOPALL unsubscribe cancel end quit; do
		for action in opt_in help custom; do
			run convo-keywords add "$word" --action "$action"
			[ "$status" -eq 64 ] ||
			    fail "add $word --action $action exits $status"
		done
	done
	for word in help info; do
		for action in opt_out opt_in custom; do
			run convo-keywords add "$word" --action "$action"
			[ "$status" -eq 64 ] ||
			    fail "add $word --action $action exits $status"
		done
	done
	run convo-keywords add Stop --action help
	assert_failure 64
	assert_output --partial 'cannot make keyword "stop" a help keyword: carrier rules (CTIA) and Twilio treat STOP as an opt-out, so it stays an opt_out keyword'
	run convo-keywords add info --action custom
	assert_output --partial 'cannot make keyword "info" a custom keyword: Twilio treats INFO as a help request'
	run bash -c 'convo-keywords list | jq -r "select(.action != \"opt_out\" and (.word == \"stop\" or .word == \"quit\")) | .word"'
	assert_output ""
	run keyword_field info action
	assert_output "help"
}

@test "add rejects opt-out words with another action" {
	run --separate-stderr convo-keywords add please stop --action opt_in \
	    --reply '{brand}: You are subscribed.'
	assert_failure 64
	assert_equal "$stderr" 'convo-keywords: cannot make keyword "please stop" an opt_in keyword, because it contains the opt-out words "stop" and a customer who sends it asks to opt out. Make it an opt_out keyword, or choose words without "stop"'
	run --separate-stderr convo-keywords add remove me --action custom \
	    --reply '{brand}: Check our deals at example.com!'
	assert_failure 64
	assert_regex "$stderr" 'keyword "remove me" a custom keyword, because it contains the opt-out words "remove me"'
	convo-keywords add parar --action opt_out --reply 'Adios' >/dev/null
	run convo-keywords add ya parar --action help
	assert_failure 64
	run keyword_field "please stop" word
	assert_output ""
	run keyword_field "remove me" word
	assert_output ""
	run keyword_field "ya parar" word
	assert_output ""
	run convo-keywords add please stop --action opt_out \
	    --reply '{brand}: no more messages. Reply START.'
	assert_success
	run keyword_field "please stop" action
	assert_output "opt_out"
	run convo-keywords add stopping by --action custom --reply 'Hi'
	assert_success
}

@test "add changes reply of standard keyword" {
	run convo-keywords add STOP --action opt_out \
	    --reply '{brand}: Bye, no more messages. Reply START.' --lang es
	assert_success
	run keyword_field stop reply
	assert_output '{brand}: Bye, no more messages. Reply START.'
	run keyword_field stop lang
	assert_output "es"
	run convo-keywords add help --action help --reply '{brand}: {help}'
	assert_success
	run keyword_field help reply
	assert_output '{brand}: {help}'
}

@test "import rejects changing standard keywords" {
	cat >input.ndjson <<'EOF'
{"word":"STOP","action":"help"}
{"word":"help","action":"custom","reply":"Hi"}
{"word":"quit","action":"opt_out","reply":"Bye"}
{"word":"hours","action":"custom"}
EOF
	run convo-keywords import input.ndjson
	assert_failure 65
	assert_line --partial 'input.ndjson: line 1: cannot make keyword "stop" a help keyword: carrier rules (CTIA) and Twilio treat STOP as an opt-out'
	assert_line --partial 'input.ndjson: line 2: cannot make keyword "help" a custom keyword'
	assert_line --partial 'keywords stored: 2, lines rejected: 2'
	run keyword_field stop action
	assert_output "opt_out"
	run keyword_field help action
	assert_output "help"
	run keyword_field quit reply
	assert_output "Bye"
	run keyword_field hours action
	assert_output "custom"
}

@test "import rejects opt-out words with another action" {
	cat >input.ndjson <<'EOF'
{"word":"remove me","action":"custom","reply":"Deals!"}
{"word":"arrete","action":"opt_out","reply":"Bye"}
{"word":"arrete tout","action":"opt_in"}
{"word":"hours","action":"custom"}
EOF
	run --separate-stderr convo-keywords import input.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" 'convo-keywords: input.ndjson: line 1: cannot make keyword "remove me" a custom keyword, because it contains the opt-out words "remove me" and a customer who sends it asks to opt out. Make it an opt_out keyword, or choose words without "remove me"'
	assert_regex "${stderr_lines[1]}" 'input.ndjson: line 3: cannot make keyword "arrete tout" an opt_in keyword, because it contains the opt-out words "arrete"'
	assert_regex "$stderr" 'keywords stored: 2, lines rejected: 2'
	run keyword_field "remove me" word
	assert_output ""
	run keyword_field "arrete tout" word
	assert_output ""
	run keyword_field hours action
	assert_output "custom"
}

@test "STOP still opts out after rejected change" {
	convo-keywords add stop --action help >/dev/null 2>&1 || true
	convo-keywords remove stop >/dev/null 2>&1 || true
	run convo-keywords test STOP
	run jq -r .action <<<"$output"
	assert_output "opt_out"
	inbound +15005550105 STOP SMs1 >input.ndjson
	run convo-ingest -q input.ndjson
	assert_success
	run sql "SELECT status FROM convo.consent"
	assert_output "unsubscribed"
}

@test "reset keeps standard keywords without English" {
	local -A count=([es]=21 [fr]=20)
	local lang word

	convo-keywords settings --help-contact support@example.com >/dev/null
	for lang in es fr; do
		convo-keywords settings --lang "$lang" >/dev/null
		run convo-keywords reset
		assert_success
		# The pack's words and the 11 standard keywords.
		assert_output --partial "has ${count[$lang]} default keywords"
		for word in stop stopall unsubscribe cancel end quit; do
			run keyword_field "$word" action
			assert_output "opt_out"
		done
		for word in start unstop yes; do
			run keyword_field "$word" action
			assert_output "opt_in"
		done
		for word in help info; do
			run keyword_field "$word" action
			assert_output "help"
		done
		run keyword_field yes only_unsubscribed
		assert_output "true"
		run keyword_field revoke action
		assert_output ""
		# The pack's opt-out reply tells customers to send START.
		run convo-keywords lint
		assert_success
	done
	run keyword_field arret action
	assert_output "opt_out"
	run keyword_field parar action
	assert_output ""
}

@test "reset brings back defaults" {
	convo-keywords remove start yes >/dev/null
	convo-keywords add start --action custom >/dev/null
	convo-keywords add stop --action opt_out --reply 'Bye' >/dev/null
	convo-keywords add hours --action custom >/dev/null
	run convo-keywords reset
	assert_success
	assert_output --partial 'has 15 default keywords'
	run keyword_field start action
	assert_output "opt_in"
	run keyword_field yes action
	assert_output "opt_in"
	run keyword_field stop reply
	assert_output --partial 'no more messages'
	run keyword_field hours action
	assert_output ""
	run convo-keywords -q reset
	assert_success
	assert_output ""
}

@test "reset of one word keeps other changes" {
	local stop_reply

	stop_reply=$(keyword_field stop reply)
	convo-keywords add stop --action opt_out --reply 'Bye' >/dev/null
	convo-keywords add help --action help --reply 'Call 555-0100' >/dev/null
	convo-keywords add hours --action custom --reply 'Open 9-5' >/dev/null
	run --separate-stderr convo-keywords reset STOP
	assert_success
	assert_equal "$stderr" ""
	run jq -r '[.word, .action, .reply, .default] | @tsv' <<<"$output"
	assert_output "stop	opt_out	$stop_reply	true"
	run keyword_field stop reply
	assert_output "$stop_reply"
	run keyword_field stop default
	assert_output "true"
	run keyword_field help reply
	assert_output 'Call 555-0100'
	run keyword_field hours action
	assert_output "custom"
	run keyword_field hours reply
	assert_output 'Open 9-5'
	run bash -c 'convo-keywords list | wc -l'
	assert_output "16"
}

@test "reset of a removed word adds it back" {
	convo-keywords remove start yes >/dev/null
	run convo-keywords reset start yes
	assert_success
	run keyword_field start action
	assert_output "opt_in"
	run keyword_field yes only_unsubscribed
	assert_output "true"
}

@test "reset of an unknown word changes nothing" {
	local events

	convo-keywords add stop --action opt_out --reply 'Bye' >/dev/null
	convo-keywords add hours --action custom --reply 'Open 9-5' >/dev/null
	convo-keywords list >before.ndjson
	events=$(sql "SELECT count(*) FROM convo.keyword_events")
	run --separate-stderr convo-keywords reset stop nosuchword
	assert_failure 64
	assert_equal "$output" ""
	assert_equal "$stderr" 'convo-keywords: cannot reset keyword "nosuchword": no language pack has it, and account "default" has no such keyword; see convo-keywords list'
	run --separate-stderr convo-keywords reset stop Hours
	assert_failure 64
	assert_equal "$output" ""
	assert_equal "$stderr" 'convo-keywords: cannot reset keyword "hours": no language pack has it, so it has no standard reply; change it with convo-keywords add or remove it with convo-keywords remove'
	run keyword_field stop reply
	assert_output "Bye"
	run convo-keywords list
	assert_output "$(cat before.ndjson)"
	run sql "SELECT count(*) FROM convo.keyword_events"
	assert_output "$events"
}

@test "reset of a word follows the languages" {
	run --separate-stderr convo-keywords reset parar
	assert_failure 64
	assert_equal "$stderr" 'convo-keywords: cannot reset keyword "parar": it is only in the es language pack, which account "default" does not use; add the language with convo-keywords settings --lang en,es'
	run keyword_field parar action
	assert_output ""
	convo-keywords settings --lang es >/dev/null
	convo-keywords -q reset
	convo-keywords remove start >/dev/null
	convo-keywords add parar --action opt_out --reply 'Adiós' >/dev/null
	# START comes from the English pack, as with reset without words.
	run convo-keywords reset start parar
	assert_success
	run jq -r '[.word, .action, .lang] | @tsv' <<<"$output"
	assert_line --index 0 "start	opt_in	en"
	assert_line --index 1 "parar	opt_out	es"
	run keyword_field parar reply
	assert_output --partial 'Se ha dado de baja'
	run --separate-stderr convo-keywords reset revoke
	assert_failure 64
	assert_equal "$stderr" 'convo-keywords: cannot reset keyword "revoke": it is only in the en language pack, which account "default" does not use; add the language with convo-keywords settings --lang es,en'
}

@test "history shows reset of a word" {
	convo-keywords -o ana add stop --action opt_out --reply 'Bye' >/dev/null
	convo-keywords -o bob reset stop >/dev/null
	run --separate-stderr convo-keywords history
	assert_success
	run jq -c 'select(.word == "stop")
	    | [.operator, .action, .before.reply, .after.reply]' <<<"$output"
	assert_output - <<'EOF'
["ana","change","{brand}: You are unsubscribed and will receive no more messages. Reply START to resubscribe.","Bye"]
["bob","change","Bye","{brand}: You are unsubscribed and will receive no more messages. Reply START to resubscribe."]
EOF
}

@test "export and import round trip" {
	convo-db account add other >/dev/null 2>&1
	convo-keywords -a other remove start yes >/dev/null
	convo-keywords add hours --action custom --reply 'Open 9-5' >/dev/null
	convo-keywords add stop --action opt_out --reply 'Bye' >/dev/null
	convo-keywords export >exported.ndjson
	run convo-keywords -a other import exported.ndjson
	assert_success
	assert_output --partial 'keywords stored: 16, lines rejected: 0'
	run jq -s -c 'map(select(.account == "other")) | length' \
	    <(convo-keywords -a other list)
	assert_output "16"
	diff <(jq -c 'del(.account)' exported.ndjson) \
	    <(convo-keywords -a other list | jq -c 'del(.account)')
}

@test "import reports bad lines with numbers" {
	cat >input.ndjson <<'EOF'
{"word":"Hours?","action":"custom","reply":"Open 9-5"}
{"word":"menu",
{"word":"stopp","action":"stopp"}
{"action":"help"}
{"word":"hi"}
{"type":"message","word":"hi","action":"custom"}
{"word":"yes","action":"opt_in","only_unsubscribed":true,"lang":"en"}
EOF
	run convo-keywords import input.ndjson
	assert_failure 65
	assert_line 'convo-keywords: input.ndjson: line 2: invalid JSON at column 15: Unfinished JSON term at EOF'
	assert_line --partial 'line 3: unknown action "stopp": expected opt_out, opt_in, help or custom'
	assert_line --partial 'line 4: missing field "word"'
	assert_line --partial 'line 5: missing field "action"'
	assert_line --partial 'line 6: unknown record type "message"'
	assert_line --partial 'keywords stored: 2, lines rejected: 5'
	run keyword_field hours reply
	assert_output "Open 9-5"
	run keyword_field yes default
	assert_output "false"
}

@test "import names a field of the wrong type" {
	cat >input.ndjson <<'EOF'
{"word":12,"action":"custom"}
{"word":"hours","action":["custom"]}
{"word":null,"action":"custom"}
{"word":"hours","action":"custom","reply":{"text":"Open"}}
EOF
	run convo-keywords import input.ndjson
	assert_failure 65
	assert_line --partial 'line 1: field "word" must be a string, not 12'
	assert_line --partial 'line 2: field "action" must be a string, not ["custom"]'
	assert_line --partial 'line 3: missing field "word"'
	assert_line --partial 'line 4: field "reply" must be a string or null, not {"text":"Open"}'
}

@test "import reads standard input" {
	run convo-keywords import <<<'{"word":"x","action":"stopp"}'
	assert_failure 65
	assert_output --partial 'convo-keywords: line 1: unknown action'
}

@test "test matches keyword forms" {
	run convo-keywords test STOP ' Stop ' opt-out 'ＳＴＯＰ'
	assert_success
	run jq -r '[.text, .normal, .keyword, .action, .inside] | @tsv' \
	    <<<"$output"
	assert_line --index 0 "STOP	stop	stop	opt_out	false"
	assert_line --index 1 " Stop 	stop	stop	opt_out	false"
	assert_line --index 2 "opt-out	opt out	opt out	opt_out	false"
	assert_line --index 3 "ＳＴＯＰ	stop	stop	opt_out	false"
}

@test "i of a Turkish keyboard match" {
	run convo-keywords test 'QUİT' 'UNSUBSCRİBE' 'quıt' 'unsubscrıbe'
	assert_success
	run jq -r '[.normal, .keyword, .action] | @tsv' <<<"$output"
	assert_line --index 0 "quit	quit	opt_out"
	assert_line --index 1 "unsubscribe	unsubscribe	opt_out"
	assert_line --index 2 "quit	quit	opt_out"
	assert_line --index 3 "unsubscribe	unsubscribe	opt_out"
}

@test "test explains texts that miss" {
	run convo-keywords test 'Stop. Thank you' 'cancel my order' ST0P \
	    stopp 'Yes please' 'Help me find my order'
	assert_success
	run jq -r '[.keyword, .action, .possible_opt_out] | @tsv' <<<"$output"
	assert_line --index 0 "		true"
	assert_line --index 1 "		true"
	assert_line --index 2 "		false"
	assert_line --index 3 "		false"
	assert_line --index 4 "		false"
	assert_line --index 5 "		false"
	run jq -r 'select(.text == "Stop. Thank you") | .reason' \
	    <<<"$(convo-keywords test 'Stop. Thank you')"
	assert_output --partial 'possible opt-out'
	run jq -r .reason <<<"$(convo-keywords test stopp)"
	assert_output "no keyword equals the whole text"
}

@test "test shows only-unsubscribed keyword" {
	run jq -r '[.keyword, .action, .only_unsubscribed] | @tsv' \
	    <<<"$(convo-keywords test Yes!)"
	assert_output "yes	opt_in	true"
}

@test "test skips texts over 256 bytes" {
	local text
	text="stop $(printf '%0300d' 0)"
	run convo-keywords test "$text"
	assert_success
	run jq -r '[.normal, .keyword, .possible_opt_out, .reason] | @tsv' \
	    <<<"$output"
	assert_output "		false	longer than 256 bytes, so never compared with keywords"
}

@test "test contains mode matches inside" {
	run convo-keywords test 'please stop texting me'
	run jq -r '[.keyword, .inside, .possible_opt_out] | @tsv' \
	    <<<"$output"
	assert_output "	false	true"
	convo-keywords settings --optout-mode contains >/dev/null
	run convo-keywords test 'please stop texting me'
	assert_success
	run jq -r '[.keyword, .action, .inside] | @tsv' <<<"$output"
	assert_output "stop	opt_out	true"
}

@test "test filter keeps other fields" {
	{
		inbound +15005550101 'STOP' SMf1
		echo '{"type":"status","provider_message_id":"SMf0"}'
		inbound +15005550102 'hello' SMf2
	} >input.ndjson
	run convo-keywords test <input.ndjson
	assert_success
	[ "$(wc -l <<<"$output")" -eq 3 ]
	run jq -c '[.from, .provider_message_id, .keyword_test.keyword,
	    .keyword_test.action, .keyword_test.reason]' <<<"$output"
	assert_line --index 0 '["+15005550101","SMf1","stop","opt_out","the whole text is a keyword"]'
	assert_line --index 1 '[null,"SMf0",null,null,null]'
	assert_line --index 2 '["+15005550102","SMf2",null,null,"no keyword equals the whole text"]'
	run jq -c 'select(.type == "status")' <<<"$(convo-keywords test \
	    <input.ndjson)"
	assert_output '{"type":"status","provider_message_id":"SMf0"}'
}

@test "test filter reports non-JSON lines" {
	printf '%s\n' '{"body":"stop"}' 'stop' '[1]' '{"body":"help"}' \
	    >input.ndjson
	run convo-keywords test <input.ndjson
	assert_failure 65
	assert_line --partial 'line 2: invalid JSON'
	assert_line --partial 'line 3: a record must be a JSON object'
	run jq -r .keyword_test.keyword <<<"$(convo-keywords test \
	    <input.ndjson 2>/dev/null)"
	assert_output $'stop\nhelp'
}

# Run convo-keywords test over the compact records of FILE and over the
# same records with a space after the first brace, which sends every
# line through libjq, and compare the two outputs.
same_output_both_paths() {
	sed 's/^{/{ /' "$1" >spaced.ndjson
	convo-keywords test <"$1" >compact.out
	convo-keywords test <spaced.ndjson >spaced.out
	[ "$(wc -l <compact.out)" -eq "$(wc -l <"$1")" ]
	cmp compact.out spaced.out
}

@test "test filter prints records as libjq" {
	{
		inbound +15005550101 'STOP' SMp1
		inbound +15005550102 $'say "stop"\t\\ now\n' SMp2
		inbound +15005550103 'ＳＴＯＰ 🛑' SMp3
		inbound +15005550104 "$(printf 'stop %.0s' {1..60})" SMp4
		echo '{"type":"status","provider_message_id":"SMp5","n":42}'
		echo '{"body":{"text":"stop"},"media":[{"url":"u"},null,true]}'
		echo '{"body":"caf\u00e9","to":"a\/b","num":1.50}'
		echo '{"body":"stop","body":"help"}'
		echo '{"body":"stop","keyword_test":{"old":1}}'
		echo '{}'
	} >input.ndjson
	convo-keywords settings --optout-mode contains >/dev/null
	same_output_both_paths input.ndjson
	run jq -r '.keyword_test.normal // "-"' compact.out
	assert_line --index 1 'say "stop" \ now'
	assert_line --index 2 'stop'
	assert_line --index 3 '-'
	assert_line --index 6 'café'
	assert_line --index 7 'help'
	assert_line --index 8 'stop'
	run jq -c '.keyword_test | [.keyword, .inside]' compact.out
	assert_line --index 1 '["stop",true]'
}

@test "test filter prints corpus as libjq" {
	need_corpus
	tail -n +2 "$CONVO_CORPUS/SMSSpamCollection.tsv" | cut -f 2- |
	    jq -R -c '{type: "message", direction: "inbound",
	    from: "+12122000001", to: "+12025550100", body: .}' >texts.ndjson
	grep -v '^#' "$CONVO_CORPUS/optout-traps.tsv" | cut -f 3 |
	    jq -c '{type: "message", direction: "inbound", body: .}' \
	    >>texts.ndjson
	jq -c . "$CONVO_CORPUS/sms-conversations/events.ndjson" >>texts.ndjson
	same_output_both_paths texts.ndjson
	convo-keywords settings --optout-mode contains >/dev/null
	same_output_both_paths texts.ndjson
}

@test "settings prints the account record" {
	run convo-keywords settings
	assert_success
	run jq -c '[.type, .account, .brand_name, .help_contact,
	    .message_frequency, .default_country, .optout_mode, .languages]' \
	    <<<"$output"
	assert_output '["account_settings","default","convo",null,null,"US","whole",["en"]]'
}

@test "settings changes and prints values" {
	run convo-keywords settings --brand Acme --country gb \
	    --help-contact 'support@example.com' --frequency 'Up to 4 msgs/mo'
	assert_success
	run jq -c '[.brand_name, .help_contact, .message_frequency,
	    .default_country]' <<<"$output"
	assert_output '["Acme","support@example.com","Up to 4 msgs/mo","GB"]'
	run sql "SELECT brand_name, default_country FROM convo.accounts
	    WHERE name = 'default'"
	assert_output "Acme|GB"
	run convo-keywords settings --help-contact ''
	run jq -c .help_contact <<<"$output"
	assert_output "null"
}

@test "settings lang enables Spanish keywords" {
	run convo-keywords settings --lang en,es
	assert_success
	run jq -c .languages <<<"$output"
	assert_output '["en","es"]'
	run keyword_field parar action
	assert_output "opt_out"
	inbound +15005550103 PARAR SMp1 >input.ndjson
	run convo-ingest -q input.ndjson
	assert_success
	run sql "SELECT status FROM convo.consent"
	assert_output "unsubscribed"
}

@test "settings lang keeps existing words" {
	convo-keywords add parar --action custom --reply 'Mine' >/dev/null
	run convo-keywords settings --lang es,EN,es
	assert_success
	run jq -c .languages <<<"$output"
	assert_output '["es","en"]'
	run keyword_field parar reply
	assert_output "Mine"
	run keyword_field ayuda action
	assert_output "help"
}

@test "settings rejects unknown language" {
	run convo-keywords settings --lang en,de
	assert_failure 64
	assert_output --partial 'unknown language "de": the language packs are en, es and fr'
	run sql "SELECT languages FROM convo.accounts WHERE name = 'default'"
	assert_output "{en}"
}

@test "settings rejects empty language" {
	local value

	for value in en,,es ,en en, , ''; do
		run --separate-stderr convo-keywords settings --lang "$value"
		assert_failure 64
		assert_output ''
		[[ $stderr == "convo-keywords: invalid --lang \"$value\": "* ]] ||
		    fail "--lang '$value' wrote: $stderr"
	done
	run convo-keywords settings --lang en,,es
	assert_output 'convo-keywords: invalid --lang "en,,es": empty language code; separate the codes with single commas, as in en,es'
	run sql "SELECT languages FROM convo.accounts WHERE name = 'default'"
	assert_output "{en}"
}

@test "settings rejects unknown country" {
	run convo-keywords settings --country ZZ
	assert_failure 64
	assert_output --partial 'unknown country code "ZZ"'
	run convo-keywords settings --optout-mode sometimes
	assert_failure 64
	assert_output --partial 'expected whole or contains'
}

@test "settings rejects blank brand" {
	local brand
	# Keyword replies start with the brand name.
	for brand in "" "   " $'\t'; do
		run convo-keywords settings --brand "$brand"
		[ "$status" -eq 64 ] || fail "--brand '$brand' exits $status"
		[[ $output == *"--brand needs a name"* ]] ||
		    fail "--brand '$brand' wrote: $output"
	done
	run sql "SELECT brand_name FROM convo.accounts WHERE name = 'default'"
	assert_output "convo"
}

@test "lint reports missing help contact" {
	run convo-keywords lint
	assert_failure 65
	assert_line --partial 'keyword "help" (help): no help contact set'
	run jq -s -c 'map(select(.type == "lint")) | map([.word, .action])' \
	    <<<"$(convo-keywords lint 2>/dev/null)"
	assert_output '[["help","help"],["info","help"]]'
}

@test "lint passes defaults with help contact" {
	convo-keywords settings --help-contact support@example.com >/dev/null
	run convo-keywords lint
	assert_success
	assert_output ""
	convo-keywords settings --lang en,es,fr >/dev/null
	run convo-keywords lint
	assert_success
}

@test "lint expands setting values once" {
	convo-keywords settings --brand '{help}{frequency}' \
	    --help-contact '{brand}@example.com' --frequency '{brand} msgs' \
	    >/dev/null
	run convo-keywords lint
	assert_success
	assert_output ""
}

@test "lint reports {help} without help contact" {
	convo-keywords add hours --action custom \
	    --reply '{brand} is open 9-5. Call {help} for more.' >/dev/null
	convo-keywords add menu --action custom \
	    --reply 'Call {help}. Or write to {help}!' >/dev/null
	local stop='{brand}: You will receive no more messages.'
	stop+=' Questions: {help}. Reply START to resubscribe.'
	convo-keywords add stop --action opt_out --reply "$stop" >/dev/null
	run jq -r 'select(.word != "help" and .word != "info")
	    | [.word, .action, .problem] | @tsv' \
	    <<<"$(convo-keywords lint 2>/dev/null)"
	assert_line --index 0 'stop	opt_out	reply uses {help}, but the account has no help contact, so the sentences that contain {help} are left out; set one with convo-keywords settings --help-contact'
	assert_line --index 1 'hours	custom	reply uses {help}, but the account has no help contact, so the sentences that contain {help} are left out; set one with convo-keywords settings --help-contact'
	assert_line --index 2 'menu	custom	reply is empty without a help contact, because every sentence contains {help}, so no reply is sent; set one with convo-keywords settings --help-contact'
	[ "${#lines[@]}" -eq 3 ]
	convo-keywords settings --help-contact support@example.com >/dev/null
	run convo-keywords lint
	assert_success
}

@test "lint writes sentences unless quiet" {
	run --separate-stderr convo-keywords lint
	assert_failure 65
	[ "${#lines[@]}" -eq 2 ]
	[[ $stderr == *'keyword "help" (help): no help contact set'* ]] ||
	    fail "stderr: $stderr"
	run --separate-stderr convo-keywords -q lint
	assert_failure 65
	[ "${#lines[@]}" -eq 2 ]
	[ -z "$stderr" ] || fail "stderr: $stderr"
}

@test "lint reports weak replies" {
	convo-keywords settings --help-contact support@example.com >/dev/null
	convo-keywords add quit --action opt_out --reply 'Bye' >/dev/null
	convo-keywords add unstop --action opt_in --reply \
	    '{brand}: welcome back' >/dev/null
	convo-keywords add end --action opt_out >/dev/null
	run jq -r '[.word, .problem] | @tsv' \
	    <<<"$(convo-keywords lint 2>/dev/null)"
	assert_line 'end	no reply'
	assert_line --partial 'quit	reply does not name the brand'
	assert_line --partial 'quit	reply does not say that no more messages'
	assert_line --partial 'quit	reply does not say how to opt back in'
	assert_line --partial 'unstop	reply does not state the message frequency'
	assert_line --partial 'unstop	reply does not say "Msg & data rates'
	assert_line --partial 'unstop	reply does not name a help keyword'
	assert_line --partial 'unstop	reply does not say how to opt out'
	[ "$(wc -l <<<"$output")" -eq 8 ]
}

@test "lint reports a reply too long to send" {
	convo-keywords settings --help-contact support@example.com \
	    --brand "$(printf 'Acme%.0s' $(seq 400))" >/dev/null
	run jq -r 'select(.word == "stop") | .problem' \
	    <<<"$(convo-keywords lint 2>/dev/null)"
	assert_output \
	    "reply is longer than 1600 characters, so convo-send rejects it"
}

@test "lint needs opt-out and help keywords" {
	# As an older convo-keywords, which let every keyword be removed.
	sql "DELETE FROM convo.keywords WHERE action IN ('opt_out', 'help')"
	run jq -r 'select(.word == null) | .action' \
	    <<<"$(convo-keywords lint 2>/dev/null)"
	assert_output $'opt_out\nhelp'
}

@test "lint reports changed standard keywords" {
	convo-keywords settings --help-contact support@example.com >/dev/null
	# As an older convo-keywords, which let these keywords change.
	sql "UPDATE convo.keywords SET action = 'help' WHERE word = 'stop'"
	sql "DELETE FROM convo.keywords WHERE word IN ('quit', 'info')"
	run convo-keywords lint
	assert_failure 65
	run jq -r 'select(.word == "stop" or .word == "quit" or .word == "info")
	    | [.word, .action, .problem] | @tsv' \
	    <<<"$(convo-keywords lint 2>/dev/null)"
	assert_line --partial 'stop	help	standard keyword STOP has the action help, but carrier rules (CTIA) and Twilio treat STOP as an opt-out'
	assert_line --partial 'quit	opt_out	standard keyword QUIT is missing, but carrier rules (CTIA) and Twilio treat QUIT as an opt-out'
	assert_line --partial 'info	help	standard keyword INFO is missing, but Twilio treats INFO as a help request'
}

@test "lint reports opt-out words with another action" {
	convo-keywords settings --help-contact support@example.com >/dev/null
	run --separate-stderr convo-keywords lint
	assert_success
	# As SQL or an older convo-keywords could store them.
	sql "INSERT INTO convo.keywords (account_id, word, action, reply)
	    SELECT account_id, 'please stop', 'opt_in', 'You are subscribed'
	    FROM convo.accounts WHERE name = 'default'"
	sql "INSERT INTO convo.keywords (account_id, word, action, reply)
	    SELECT account_id, 'remove me', 'custom', 'Deals'
	    FROM convo.accounts WHERE name = 'default'"
	run --separate-stderr convo-keywords lint
	assert_failure 65
	run jq -r 'select(.problem | test("opt-out words"))
	    | [.word, .action, .problem] | @tsv' <<<"$output"
	assert_line --index 0 'please stop	opt_in	keyword contains the opt-out words "stop", so a customer who sends it asks to opt out, but stays subscribed, gets its reply and is not flagged as a possible opt-out. Make it an opt_out keyword with convo-keywords add please stop --action opt_out --reply TEXT, or remove it'
	assert_line --index 1 --partial 'remove me	custom	keyword contains the opt-out words "remove me"'
	[ "${#lines[@]}" -eq 2 ]
}

@test "pack opt-out words stay opt-outs" {
	convo-keywords settings --help-contact support@example.com >/dev/null
	# Not an opt-out while the account is English only.
	run convo-keywords add no mas --action custom --reply "Deals"
	assert_success
	convo-keywords settings --lang en,es >/dev/null
	run --separate-stderr convo-keywords lint
	assert_failure 65
	run jq -r 'select(.word == "no mas") | [.action, .problem] | @tsv' \
	    <<<"$output"
	assert_output 'custom	keyword is an opt-out in the es language pack of the account, but its action is custom. Make it an opt_out keyword with convo-keywords reset '"'no mas'"
	convo-keywords reset 'no mas' >/dev/null
	run --separate-stderr convo-keywords lint
	assert_success
	# With the pack's language, the word is refused at once.
	convo-keywords settings --lang en,es,fr >/dev/null
	run --separate-stderr convo-keywords add arret --action custom \
	    --reply "Deals"
	assert_failure 64
	assert_equal "$stderr" 'convo-keywords: keyword "arret" is an opt-out in the fr language pack of the account, so it can only be an opt_out keyword: give it the action opt_out'
	run sql "SELECT action FROM convo.keywords WHERE word = 'arret'"
	assert_output "opt_out"
	echo '{"word":"arret","action":"custom","reply":"Deals"}' >input.ndjson
	run --separate-stderr convo-keywords import input.ndjson
	assert_failure 65
	assert_equal "${stderr_lines[0]}" 'convo-keywords: input.ndjson: line 1: keyword "arret" is an opt-out in the fr language pack of the account, so it can only be an opt_out keyword: give it the action opt_out'
	run sql "SELECT action FROM convo.keywords WHERE word = 'arret'"
	assert_output "opt_out"
}

@test "lint names STOP when it is not an opt-out" {
	convo-keywords settings --help-contact support@example.com \
	    --lang en,es,fr >/dev/null
	sql "DELETE FROM convo.keywords WHERE word = 'stop'"
	run jq -r 'select(.word == "help") | .problem' \
	    <<<"$(convo-keywords lint 2>/dev/null)"
	assert_output 'reply tells customers to send STOP, but STOP is not an opt_out keyword of the account'
	run convo-keywords lint
	refute_output --partial 'ARRET'
}

@test "lint suggests keyword in reply language" {
	convo-keywords settings --help-contact support@example.com \
	    --lang en,fr >/dev/null
	convo-keywords add aide --action help --lang fr \
	    --reply '{brand} : aide : {help}.' >/dev/null
	convo-keywords add help --action help \
	    --reply '{brand}: Help: {help}.' >/dev/null
	run jq -r 'select(.word == "aide" or .word == "help")
	    | [.word, .problem] | @tsv' \
	    <<<"$(convo-keywords lint 2>/dev/null)"
	assert_line 'aide	reply does not say how to opt out with an opt_out keyword in upper case, such as ARRET'
	assert_line 'help	reply does not say how to opt out with an opt_out keyword in upper case, such as STOP'
}

@test "list warns about changed standard keywords" {
	sql "UPDATE convo.keywords SET action = 'custom' WHERE word = 'help'"
	sql "DELETE FROM convo.keywords WHERE word = 'stop'"
	run --separate-stderr convo-keywords list
	assert_success
	[ "$(wc -l <<<"$output")" -eq 14 ]
	[[ $stderr == *'standard keyword STOP is missing'* ]] ||
	    fail "stderr: $stderr"
	[[ $stderr == *'standard keyword HELP has the action custom'* ]] ||
	    fail "stderr: $stderr"
	[[ $stderr == *'convo-keywords add stop --action opt_out'* ]] ||
	    fail "stderr: $stderr"
}

@test "custom keyword answers in ingest" {
	convo-keywords add HOURS --action custom \
	    --reply '{brand}: open 9-5 daily' >/dev/null
	inbound +15005550104 'hours?' SMh1 >input.ndjson
	run convo-ingest -q input.ndjson
	assert_success
	run jq -c 'select(.type == "send") | [.to, .keyword, .action, .body]' \
	    <<<"$output"
	assert_output '["+15005550104","hours","custom","convo: open 9-5 daily"]'
	run sql "SELECT count(*) FROM convo.conversations"
	assert_output "0"
}
