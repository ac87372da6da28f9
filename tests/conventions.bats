#!/usr/bin/env bats
# Conventions that every program keeps: --help, --version, -q, -v, "--"
# and "-", usage errors, and manual pages whose SYNOPSIS and ENVIRONMENT
# match the program. Each test loops over all the programs.

load helper

PROGRAMS="convo-db convo-ingest convo-keywords convo-list convo-mark
convo-read convo-send convo-webhook"
MAN="$BATS_TEST_DIRNAME/../man"
TOKEN=test-auth-token
PUBLIC_URL=https://hooks.example.com/twilio

setup() {
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE
	unset CONVO_ACCOUNT CONVO_HOME CONVO_WEBHOOK_CONFIG
	TEST_DB="t_$$_${BATS_SUITE_TEST_NUMBER}"
	psql -X -q "$CONVO_TEST_SERVER dbname=postgres" \
	    -c "CREATE DATABASE $TEST_DB TEMPLATE convo_template" >/dev/null
	export CONVO_DB="$CONVO_TEST_SERVER dbname=$TEST_DB"
	cd "$BATS_TEST_TMPDIR"
	convo-ingest -q "$SAMPLE" >/dev/null
	ID=$(convo-list --search +12015550123 | jq -r .id)
}

# Run convo-webhook with a signed inbound text as a web server would,
# with OPTIONS as given from a shell.
signed_webhook() {
	local body sig
	body='Body=hi&From=%2B12015550177&MessageSid=SMconv1&NumMedia=0'
	body+='&SmsStatus=received&To=%2B12025550140'
	sig=$(printf '%s' "${PUBLIC_URL}BodyhiFrom+12015550177MessageSidSMconv1NumMedia0SmsStatusreceivedTo+12025550140" |
	    openssl dgst -sha1 -hmac "$TOKEN" -binary | base64)
	env REQUEST_METHOD=POST CONTENT_TYPE=application/x-www-form-urlencoded \
	    CONTENT_LENGTH=${#body} HTTP_X_TWILIO_SIGNATURE="$sig" \
	    CONVO_WEBHOOK_URL="$PUBLIC_URL" TWILIO_AUTH_TOKEN="$TOKEN" \
	    convo-webhook "$@" <<<"$body"
}

# Run a typical successful command of program P, with OPTIONS first.
run_ok() {
	local p=$1
	shift
	case $p in
	convo-db) convo-db "$@" account list ;;
	convo-ingest) convo-ingest "$@" "$SAMPLE" ;;
	convo-keywords) convo-keywords "$@" list ;;
	convo-list) convo-list "$@" ;;
	convo-mark) convo-mark "$@" --read "$ID" ;;
	convo-read) convo-read "$@" "$ID" ;;
	convo-send) convo-send "$@" --dry-run --to +12015550123 --body hi ;;
	convo-webhook) signed_webhook "$@" ;;
	esac
}

@test "every program has a manual page" {
	local p
	for p in $PROGRAMS; do
		[ -f "$MAN/$p.1" ] || fail "no man/$p.1"
	done
}

@test "help goes to standard output" {
	local p
	for p in $PROGRAMS; do
		for opt in --help -h; do
			run --separate-stderr "$p" $opt
			assert_success
			[ -z "$stderr" ] || fail "$p $opt wrote to stderr: $stderr"
			assert_line --index 0 --regexp "^usage: $p( |$)"
			assert_output --partial "$p(1)"
		done
	done
}

@test "version names the libraries in use" {
	local p curl
	curl=$(curl-config --version | sed 's/^libcurl //')
	for p in $PROGRAMS; do
		for opt in --version -V; do
			run --separate-stderr "$p" $opt
			assert_success
			assert_line --index 0 "$p 0.1.0"
			assert_line --index 1 --regexp '^libpq [0-9]+\.[0-9]+'
			assert_line --index 2 --regexp "^libcurl $curl( |$)"
			assert_line --index 3 --regexp '^libjq '
			[ "${#lines[@]}" -eq 4 ]
		done
	done
}

@test "unknown option is a usage error" {
	local p
	for p in $PROGRAMS; do
		run --separate-stderr "$p" --no-such-option
		[ "$status" -eq 64 ] || fail "$p exits $status, not 64"
		[[ $stderr == *"usage: $p"* ]] || fail "$p prints no usage"
	done
}

@test "empty account name is a usage error" {
	local p
	# An unset variable in "--account $BRAND" must not pick an account.
	for p in convo-ingest convo-keywords convo-list convo-mark convo-read \
	    convo-send; do
		for opt in --account -a; do
			run --separate-stderr run_ok "$p" "$opt" ''
			[ "$status" -eq 64 ] || fail "$p $opt '' exits $status"
			[[ $stderr == *"$p: --account needs a name"* ]] ||
			    fail "$p $opt '' wrote: $stderr"
			[ -z "$output" ] || fail "$p $opt '' printed: $output"
		done
	done
}

@test "malformed connection string is a configuration error" {
	local p
	for p in convo-ingest convo-list convo-read convo-db; do
		CONVO_DB='garbage===' run --separate-stderr run_ok "$p" </dev/null
		[ "$status" -eq 78 ] || fail "$p exits $status: $stderr"
		[[ $stderr == *'invalid database connection string (invalid connection option "garbage")'* ]] ||
		    fail "$p wrote: $stderr"
	done
	# libpq's reason would quote a piece of the password.
	CONVO_DB='host=/nonexistent password=sec ret' \
	    run --separate-stderr convo-list
	assert_failure 78
	assert_equal "$stderr" 'convo-list: invalid database connection string: expected key=value pairs such as "host=/run/postgresql dbname=convo" or a postgresql:// URI'
	# Values that libpq checks only when it connects.
	CONVO_DB='postgresql://u:pw@127.0.0.1:99999/x' \
	    run --separate-stderr convo-list
	assert_failure 78
	assert_equal "$stderr" 'convo-list: invalid port "99999" in the database connection string: expected 1 to 65535'
	CONVO_DB='host=/nonexistent sslmode=bogus' run convo-list
	assert_failure 78
}

@test "options libpq checks on connecting are configuration errors" {
	local db
	for db in "host=/nonexistent sslmode=''" \
	    'host=/nonexistent gssencmode=sometimes' \
	    'host=/nonexistent target_session_attrs=fast' \
	    'host=/a,/b port=5432,5433,5434' \
	    'host=/nonexistent service=convo-no-such-service'; do
		CONVO_DB=$db run --separate-stderr convo-list
		[ "$status" -eq 78 ] || fail "$db exits $status: $stderr"
		[[ $stderr == 'convo-list: invalid database connection string: '* ]] ||
		    fail "$db wrote: $stderr"
	done
	# A server that is not there stays unavailable.
	CONVO_DB='host=/nonexistent' run --separate-stderr convo-list
	assert_failure 69
}

@test "counts with spaces or signs are usage errors" {
	local n args
	# strtonum() alone takes leading spaces and a plus sign.
	for args in "convo-ingest --batch-size" "convo-list -n" \
	    "convo-read -n" "convo-send --parallel"; do
		for n in " 5" "+5" "5 " ""; do
			run --separate-stderr run_ok $args "$n"
			[ "$status" -eq 64 ] || fail "$args '$n' exits $status"
			[[ $stderr == *"\"$n\" is "* ]] ||
			    fail "$args '$n' wrote: $stderr"
		done
	done
}

@test "quiet runs print nothing on stderr" {
	local p
	for p in $PROGRAMS; do
		for opt in -q --quiet; do
			run --separate-stderr run_ok "$p" $opt
			assert_success
			[ -z "$stderr" ] || fail "$p $opt wrote: $stderr"
		done
	done
}

@test "verbose runs log steps in milliseconds" {
	local p
	for p in $PROGRAMS; do
		run --separate-stderr run_ok "$p" -v
		assert_success
		[[ $stderr =~ (^|$'\n')"$p: connect: "[0-9]+" ms"($'\n'|$) ]] ||
		    fail "$p -v logged no connect time: $stderr"
		run --separate-stderr run_ok "$p" --verbose
		assert_success
		[[ $stderr == *"$p: connect: "* ]]
	done
}

@test "password of --db leaves the process list" {
	local pid i
	mkfifo in
	# convo-read waits for its input, with its arguments in place.
	convo-read --db "$CONVO_DB password=hunter22" <in >out 2>err &
	pid=$!
	exec 7>in
	for ((i = 0; i < 50; i++)); do
		grep -q 'password' err 2>/dev/null && break
		sleep 0.1
	done
	run tr '\0' ' ' </proc/$pid/cmdline
	exec 7>&-
	wait "$pid" || true
	refute_output --partial hunter22
	assert_output --partial 'convo-read --db xxxx'
	run cat err
	assert_output 'convo-read: warning: the password in --db could be read in the process list until it was hidden; put it in ~/.pgpass or PGPASSFILE'
}

@test "completion hides the password of --db" {
	local pid i
	# The fake Twilio API accepts the connection and never answers it.
	"$FAKE_TWILIO" --port-file port --log fake.log 2>/dev/null 3>&- &
	local fake=$!
	for ((i = 0; i < 50; i++)); do
		[ -s port ] && break
		sleep 0.1
	done
	convo-read --complete '' -- --db "host=127.0.0.1 port=$(cat port) sslmode=disable password=hunter22" c_ \
	    >/dev/null 2>&1 &
	pid=$!
	sleep 0.5
	run tr '\0' ' ' </proc/$pid/cmdline
	wait "$pid" || true
	kill "$fake"
	wait "$fake" || true
	refute_output --partial hunter22
	assert_output --partial 'xxxx'
}

@test "double dash ends the options" {
	local p expect
	printf '%s\n' '{"type":"profile","phone":"+12015550188"}' >-x.ndjson
	for p in $PROGRAMS; do
		case $p in
		convo-db) expect='64 unknown command "--help"' ;;
		convo-ingest) expect='0 ' ;;
		convo-keywords) expect='64 unknown command "--help"' ;;
		convo-list) expect='64 unexpected argument "--help"' ;;
		convo-mark) expect='65 conversation id "--help"' ;;
		convo-read) expect='65 conversation id "--help"' ;;
		convo-send) expect='64 unexpected argument "--help"' ;;
		convo-webhook) expect='64 unexpected argument "--help"' ;;
		esac
		case $p in
		convo-ingest) run --separate-stderr "$p" -q -- -x.ndjson ;;
		convo-mark) run --separate-stderr "$p" --close -- --help ;;
		*) run --separate-stderr "$p" -- --help ;;
		esac
		[ "$status" -eq "${expect%% *}" ] ||
		    fail "$p -- --help exits $status: $stderr"
		[[ $stderr == *"${expect#* }"* ]] ||
		    fail "$p -- --help printed: $stderr"
		refute_output --partial "usage: $p [options]"
	done
	run sql "SELECT count(*) FROM convo.profiles WHERE phone = '+12015550188'"
	assert_output 1
}

@test "dash reads standard input as the file" {
	local p record='{"type":"conversation","id":"'$ID'"}' taken=
	for p in $PROGRAMS; do
		case $p in
		convo-ingest)
			run convo-ingest -q - \
			    <<<'{"type":"profile","phone":"+12015550189"}'
			assert_success
			assert_output --partial '"result":"inserted"'
			;;
		convo-keywords)
			run convo-keywords -q import - \
			    <<<'{"word":"hola","action":"custom","reply":"Hi"}'
			assert_success
			run convo-keywords list
			assert_output --partial '"word":"hola"'
			;;
		convo-mark)
			run convo-mark --close - <<<"$record"
			assert_success
			assert_output --partial '"status":"closed"'
			;;
		convo-read)
			run convo-read -N - <<<"$record"
			assert_success
			assert_output --partial "\"conversation_id\":\"$ID\""
			;;
		convo-send)
			run convo-send -q --dry-run --to +12015550123 \
			    --body-file - <<<"From a file"
			assert_success
			assert_output --partial "Body=From+a+file"
			;;
		*)
			taken+=" $p"
			;;
		esac
	done
	# These take no file arguments.
	[ "$taken" = " convo-db convo-list convo-webhook" ]
}

# Print the options that the SYNOPSIS of man page PAGE names: "-x" for
# letters, "--name" for long options, one per line.
synopsis_options() {
	awk '/^\.Sh SYNOPSIS/ { on = 1; next } /^\.Sh/ { on = 0 } on' "$1" |
	    awk '{
		for (i = 1; i <= NF; i++) {
			if ($i != "Fl" && $i != ".Fl")
				continue
			for (j = i + 1; j <= NF; j++) {
				if ($j == "|")
					continue
				if ($j ~ /^\.?[A-Z][a-z]$/)
					break
				if ($j ~ /^\\-/) {
					s = $j
					gsub(/\\-/, "-", s)
					print "-" s
				} else {
					for (k = 1; k <= length($j); k++)
						print "-" substr($j, k, 1)
				}
			}
		}
	    }' | sort -u
}

# Print the options that --help of program P lists: "-x" for each short
# option and "--name" for each long option, one per line.
help_options() {
	"$1" --help | grep -oE -- '(^|[ [])(-[A-Za-z],|--[a-z][a-z-]*)' |
	    sed -E 's/^[[ ]//; s/,$//' | sort -u
}

@test "synopsis matches help" {
	local p option
	for p in $PROGRAMS; do
		synopsis_options "$MAN/$p.1" >synopsis
		help_options "$p" >help
		# Long options with a short form appear in their short form.
		while read -r option; do
			grep -qx -- "$option" synopsis && continue
			"$p" --help | grep -qE -- "-[A-Za-z], $option( |$)" &&
			    continue
			fail "$p: $option is in --help but not in the SYNOPSIS"
		done <help
		while read -r option; do
			grep -qx -- "$option" help ||
			    fail "$p: $option is in the SYNOPSIS but not in --help"
		done <synopsis
	done
}

# Print the CONVO_* variables of the ENVIRONMENT section of PAGE.
environment_variables() {
	awk '/^\.Sh ENVIRONMENT/ { on = 1; next } /^\.Sh/ { on = 0 } on' "$1" |
	    grep -oE '^\.It Ev CONVO_[A-Z_]+' | sed 's/^\.It Ev //' | sort -u
}

@test "environment lists the CONVO variables" {
	local p v expected
	for p in $PROGRAMS; do
		# Every program but the CGI one may use the local database.
		expected="CONVO_DB CONVO_SHARE"
		[ "$p" = convo-webhook ] ||
		    expected+=" CONVO_HOME CONVO_PG_BINDIR"
		case $p in
		convo-db) ;;
		convo-list | convo-mark)
			expected+=" CONVO_ACCOUNT CONVO_NOW" ;;
		convo-send)
			expected+=" CONVO_ACCOUNT CONVO_FROM CONVO_PROVIDER"
			expected+=" CONVO_STATUS_CALLBACK" ;;
		convo-webhook)
			expected+=" CONVO_ACCOUNT CONVO_TWILIO_AUTH_TOKEN_FILE"
			expected+=" CONVO_TWILIO_SHARED_KEY_FILE"
			expected+=" CONVO_WEBHOOK_CONFIG CONVO_WEBHOOK_REPLY"
			expected+=" CONVO_WEBHOOK_URL" ;;
		*) expected+=" CONVO_ACCOUNT" ;;
		esac
		environment_variables "$MAN/$p.1" >listed
		for v in $expected; do
			grep -qx "$v" listed ||
			    fail "$p(1) does not list $v in ENVIRONMENT"
		done
	done
}

@test "every CONVO variable read is documented" {
	local v
	run bash -c "grep -ohE 'getenv\\(\"CONVO_[A-Z_]+\"\\)' \
	    '$BATS_TEST_DIRNAME'/../bin/*.c '$BATS_TEST_DIRNAME'/../lib/*.c |
	    sed -E 's/getenv\\(\"(.*)\"\\)/\\1/' | sort -u"
	assert_success
	[ "${#lines[@]}" -gt 5 ]
	for v in "${lines[@]}"; do
		grep -qE "^\\.It Ev $v\$" "$MAN"/*.1 ||
		    fail "no page lists $v in ENVIRONMENT"
		grep -qE "\\b$v\\b" "$MAN/convo.7" ||
		    fail "convo(7) does not mention $v"
	done
}

@test "tests/run rejects a missing test file" {
	run "$CONVO_SOURCE/tests/run" tests/no-such-file.bats
	assert_failure 64
	assert_output "tests/run: no such test file: tests/no-such-file.bats"
}
