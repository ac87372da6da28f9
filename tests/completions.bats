#!/usr/bin/env bats
# Shell completions of bash, zsh and fish, as make install lays them out,
# driven through each shell's own completion machinery.

load helper

SHELLS="bash zsh fish"

setup_file() {
	local src=$BATS_TEST_DIRNAME/..

	make -C "$src" -s install DESTDIR="$BATS_FILE_TMPDIR/root" PREFIX=/usr \
	    >/dev/null
	SHARE=$BATS_FILE_TMPDIR/root/usr/share
	export SHARE
	# The programs of the source tree, with the installed completions.
	if [ -z "${CONVO_TEST_SERVER:-}" ]; then
		OWN_SERVER=$(mktemp -d /tmp/convo-test.XXXXXX)
		chmod 711 "$OWN_SERVER"
		CONVO_TEST_SERVER=$("$BATS_TEST_DIRNAME/pg-server" start \
		    "$OWN_SERVER")
		CONVO_DB="$CONVO_TEST_SERVER dbname=convo_template" convo-db \
		    -q migrate
		export OWN_SERVER CONVO_TEST_SERVER
	fi
}

setup() {
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE
	unset CONVO_ACCOUNT CONVO_HOME
	TEST_DB="t_$$_${BATS_SUITE_TEST_NUMBER}"
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "CREATE DATABASE $TEST_DB TEMPLATE convo_template" >/dev/null
	export CONVO_DB="$CONVO_TEST_SERVER dbname=$TEST_DB"
	cd "$BATS_TEST_TMPDIR"
	convo-ingest -q "$SAMPLE" >/dev/null
}

# Print what bash offers for the command line LINE, one per line. A
# LINE that ends in a space completes a new, empty word.
complete_bash() {
	bash -c '
	source "$SHARE/bash-completion/completions/$0"
	read -ra COMP_WORDS <<<"$1"
	[[ $1 == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	spec=$(complete -p "$0") || exit 1
	function=$(sed -E "s/.* -F ([^ ]+) .*/\1/" <<<"$spec")
	"$function" "$0" "${COMP_WORDS[COMP_CWORD]}" \
	    "${COMP_WORDS[COMP_CWORD - 1]}"
	printf "%s\n" "${COMPREPLY[@]}"' "${1%% *}" "$1"
}

complete_zsh() {
	"$BATS_TEST_DIRNAME/zsh-complete" "$SHARE/zsh/vendor-completions" "$1"
}

complete_fish() {
	fish -c 'set -p fish_complete_path $argv[1]; complete -C $argv[2]' \
	    "$SHARE/fish/vendor_completions.d" "$1" | cut -f1
}

# Check that every shell offers each of the values after LINE.
assert_offers() {
	local line=$1 shell value
	shift
	for shell in $SHELLS; do
		run complete_$shell "$line"
		assert_success
		for value in "$@"; do
			assert_line --partial "$value" ||
			    fail "$shell offers no \"$value\" for \"$line\""
		done
	done
}

refute_offers() {
	local line=$1 value=$2 shell
	for shell in $SHELLS; do
		run complete_$shell "$line"
		refute_line --partial "$value" ||
		    fail "$shell offers \"$value\" for \"$line\""
	done
}

@test "install puts a completion in each shell's directory" {
	local p
	for p in convo-db convo-ingest convo-keywords convo-list convo-mark \
	    convo-read convo-send convo-webhook; do
		[ -f "$SHARE/bash-completion/completions/$p" ]
		[ -f "$SHARE/fish/vendor_completions.d/$p.fish" ]
	done
	[ -f "$SHARE/zsh/vendor-completions/_convo" ]
	run head -n 1 "$SHARE/zsh/vendor-completions/_convo"
	assert_output --partial "#compdef convo-db convo-ingest"
}

@test "bash registers a function for every program" {
	run bash -c 'source "$1"; complete -p convo-list convo-webhook' _ \
	    "$SHARE/bash-completion/completions/convo-list"
	assert_success
	assert_line "complete -F _convo convo-list"
	assert_line "complete -F _convo convo-webhook"
}

@test "long options complete" {
	assert_offers "convo-list --st" --status
	refute_offers "convo-list --st" --since
	assert_offers "convo-mark --sn" --snooze --snooze-until
	assert_offers "convo-webhook --v" --verbose --version
	assert_offers "convo-send --dry" --dry-run
}

@test "fish shows option descriptions" {
	run fish -c 'set -p fish_complete_path $argv[1]; complete -C $argv[2]' \
	    "$SHARE/fish/vendor_completions.d" "convo-list --unr"
	assert_output "$(printf -- '--unread\tonly conversations with unread messages')"
}

@test "statuses and formats complete" {
	assert_offers "convo-list --status " open snoozed closed all
	assert_offers "convo-list -s cl" closed
	refute_offers "convo-list -s cl" open
	assert_offers "convo-ingest --format " auto ndjson twilio
}

@test "keyword actions and snooze times complete" {
	assert_offers "convo-keywords add hola --action " opt_out opt_in help \
	    custom
	assert_offers "convo-mark --snooze " 30m 1h 1d
}

@test "commands of convo-db and convo-keywords complete" {
	assert_offers "convo-db " init start stop status migrate account
	assert_offers "convo-db -q account " add list
	assert_offers "convo-db archive " --before --dir
	assert_offers "convo-db maintain " --ahead
	assert_offers "convo-db grant " --account --role
	assert_offers "convo-keywords " list add remove import lint
}

@test "accounts come from the database" {
	convo-db -q account add acme-retail >/dev/null
	assert_offers "convo-list --account " default acme-retail
	assert_offers "convo-read -a acme" acme-retail
}

@test "keyword names come from the account" {
	convo-keywords -q add hola --action custom --reply "Hi" >/dev/null
	assert_offers "convo-keywords remove " hola start unstop
	refute_offers "convo-keywords remove " help
	assert_offers "convo-keywords remove ho" hola
	refute_offers "convo-keywords remove ho" stop
}

@test "reset completes pack keywords" {
	convo-keywords -q add hola --action custom --reply "Hi" >/dev/null
	assert_offers "convo-keywords reset " stop help start
	refute_offers "convo-keywords reset " hola
	refute_offers "convo-keywords reset " parar
}

@test "conversation ids come from the database" {
	local id
	id=$(convo-list --limit 1 | jq -r .id)
	assert_offers "convo-read " "$id"
	assert_offers "convo-mark --close " "$id"
	assert_offers "convo-send --conversation " "$id"
}

@test "file arguments complete file names" {
	touch reply-one.txt reply-two.txt
	assert_offers "convo-send --body-file reply-" reply-one.txt reply-two.txt
	assert_offers "convo-keywords import reply-o" reply-one.txt
	assert_offers "convo-ingest repl" reply-one.txt
}

@test "complete prints values and rejects flags" {
	run convo-list --complete --status --
	assert_success
	assert_output "$(printf 'open\nsnoozed\nclosed\nall')"
	run convo-list --complete --unread --
	assert_failure 1
	assert_output ""
	run convo-ingest --complete -r --
	assert_output "@file"
}

@test "complete reads the typed account and connection" {
	convo-db -q account add shop >/dev/null
	convo-keywords -q -a shop add shoponly --action custom \
	    --reply "x" >/dev/null
	run convo-keywords --complete '' -- --account shop remove
	assert_line --partial shoponly
	run convo-keywords --complete '' -- remove
	refute_line --partial shoponly
	run env -u CONVO_DB convo-keywords --complete '' -- --db "$CONVO_DB" \
	    remove
	assert_line --regexp $'^start\t'
}

@test "remove completes no keyword carriers require" {
	run convo-keywords --complete '' -- remove
	assert_success
	assert_line --regexp $'^start\t'
	assert_line --regexp $'^unstop\t'
	refute_line --regexp $'^stop\t'
	refute_line --regexp $'^help\t'
	refute_line --regexp $'^unsubscribe\t'
}

@test "complete never creates the local database" {
	export CONVO_HOME=$BATS_TEST_TMPDIR/home
	run env -u CONVO_DB convo-read --complete '' --
	assert_success
	assert_output ""
	[ ! -e "$CONVO_HOME/pgdata" ]
	run env -u CONVO_DB convo-list --complete --account --
	assert_success
	assert_output ""
	[ ! -e "$CONVO_HOME/pgdata" ]
}
