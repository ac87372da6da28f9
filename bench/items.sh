# The benchmark items of bench/run, which sources this file. Each item
# measures, then appends its section of the report to report.body.
# shellcheck shell=bash

# Commands that measure() runs with bash -c need these.
export DATA RESULTS SERVER PGBIN WORK
export -f sql

prep_run() {
	fresh_db bench_run bench_tpl
}

# ---------------------------------------------------------------- ingest

# Ingest every account's file in turn, with the options in $1.
ingest_all() {
	local f name

	for f in "$DATA"/events-bench-*.ndjson; do
		name=${f##*/events-}
		name=${name%.ndjson}
		# shellcheck disable=SC2086
		/usr/bin/time -f %M -a -o "$RSS_FILE" \
		    convo-ingest -q $1 -a "$name" "$f" >/dev/null || return
	done
}

# Ingest the account files two at a time, one process each: two lanes
# that take every other file in turn. Each lane is waited for by its
# process id: with bash 5.2, "wait -n" returned 127 in some runs, as if
# a run had been waited for already, and the count of runs went wrong.
ingest_two() {
	local files=("$DATA"/events-bench-*.ndjson) lane pid rc=0
	local -a lanes=()

	for lane in 0 1; do
		ingest_lane "$lane" "${files[@]}" &
		lanes+=("$!")
	done
	for pid in "${lanes[@]}"; do
		wait "$pid" || rc=1
	done
	return "$rc"
}

# Ingest files LANE, LANE + 2, LANE + 4 ... of the files given after it.
ingest_lane() {
	local lane=$1 i f name
	shift
	local -a files=("$@")

	for ((i = lane; i < ${#files[@]}; i += 2)); do
		f=${files[$i]}
		name=${f##*/events-}
		name=${name%.ndjson}
		/usr/bin/time -f %M -a -o "$RSS_FILE" \
		    convo-ingest -q -a "$name" "$f" >/dev/null || return
	done
}

copy_rows() {
	sql bench_run -c "\\copy bench.messages ($(head -n 1 \
	    "$DATA/messages.csv")) FROM '$DATA/messages.csv' \
	    WITH (FORMAT csv, HEADER)"
}

insert_rows() {
	sql bench_run -f "$DATA/inserts.sql"
}
export -f ingest_all ingest_two ingest_lane copy_rows insert_rows

# Print the rate of N rows in the median time of ID, rows per second.
rate() {
	local t
	t=$(stat "$2" median)
	awk -v n="$1" -v t="$t" 'BEGIN {
		if (t == "-") print "-"; else printf "%.0f\n", n / t }'
}

item_ingest() {
	local t0 t1 rows records per_account

	log "ingest: generating $INGEST_N records"
	t0=$(date +%s%N)
	"$GEN" -n "$INGEST_N" -a "$ACCOUNTS" -c "$CUSTOMERS" \
	    -i "$FIRST_ACCOUNT_ID" -o "$DATA" -C "$DATA/messages.csv" \
	    -S "$DATA/inserts.sql" -T bench.messages
	t1=$(date +%s%N)
	GEN_SECONDS=$(awk -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.1f", (b - a) / 1e9 }')
	rows=$(($(wc -l <"$DATA/messages.csv") - 1))
	records=$(cat "$DATA"/events-bench-*.ndjson | wc -l)
	per_account=$((records / ACCOUNTS))

	export CONVO_DB="$SERVER dbname=bench_run"
	export RSS_FILE="$RESULTS/ingest.rss"
	: >"$RSS_FILE"
	measure ingest "$INGEST_BUDGET" prep_run 'ingest_all ""'
	local stored conversations
	stored=$(sql bench_run -At -c "SELECT count(*) FROM convo.messages")
	conversations=$(sql bench_run -At -c \
	    "SELECT count(*) FROM convo.conversations")
	RSS_FILE="$RESULTS/ingest2.rss"
	: >"$RSS_FILE"
	measure ingest2 "$INGEST_BUDGET" prep_run ingest_two
	measure copy 300 prep_run copy_rows
	local copied
	copied=$(sql bench_run -At -c "SELECT count(*) FROM bench.messages")
	measure insert "$INSERT_BUDGET" prep_run insert_rows
	unset CONVO_DB

	local r_ingest r_two r_copy r_insert
	r_ingest=$(rate "$records" ingest)
	r_two=$(rate "$records" ingest2)
	r_copy=$(rate "$rows" copy)
	r_insert=$(rate "$rows" insert)
	local to_copy to_insert
	to_copy=$(ratio "$r_ingest" "$r_copy")
	to_insert=$(ratio "$r_ingest" "$r_insert")

	section "## 1. Ingest"
	out ""
	out "$records records in $ACCOUNTS accounts of $per_account records" \
	    "each, from $CUSTOMERS customers, written by bench/gen-events in" \
	    "$GEN_SECONDS s. convo-ingest records each account's file in its" \
	    "own run, one after the other, into a fresh copy of a migrated" \
	    "database. The $rows message rows of those records (no" \
	    "receipts, no repeated lines) go into bench.messages, created" \
	    "with (LIKE convo.messages INCLUDING ALL), by COPY and by" \
	    "INSERT. After the last run, convo.messages held $stored rows" \
	    "($conversations conversations) and bench.messages $copied."
	out ""
	out "| command | median | min | max | runs | rows/s (median) |"
	out "|---|---|---|---|---|---|"
	out "$(time_row ingest "convo-ingest, one account at a time") $r_ingest records/s |"
	out "$(time_row ingest2 "convo-ingest, two accounts at a time") $r_two records/s |"
	out "$(time_row copy "COPY (psql \\copy)") $r_copy |"
	out "$(time_row insert "INSERT per row, one transaction") $r_insert |"
	out ""
	out "- convo-ingest / COPY rate: $to_copy (target at least 0.60):" \
	    "$(verdict "$(awk -v r="$to_copy" 'BEGIN { print (r != "-" && r >= 0.6) }')")."
	out "- convo-ingest / INSERT rate: $to_insert (target at least 5):" \
	    "$(verdict "$(awk -v r="$to_insert" 'BEGIN { print (r != "-" && r >= 5) }')")."
	out "- Two accounts at a time / one at a time:" \
	    "$(ratio "$r_two" "$r_ingest"); / COPY rate:" \
	    "$(ratio "$r_two" "$r_copy")."
	out "- Peak RSS of a convo-ingest process in these runs:" \
	    "$(rss_max "$RESULTS/ingest.rss") (default batch)," \
	    "$(rss_max "$RESULTS/ingest2.rss") (two at a time)."
	out ""
	out "Commands, for each account NN from 01 to $ACCOUNTS (in turn, or" \
	    "two runs at a time), with CONVO_DB naming the fresh database" \
	    "bench_run; DIR is the temporary directory:"
	out ""
	out '```'
	out "bench/gen-events -n $INGEST_N -a $ACCOUNTS -c $CUSTOMERS" \
	    "-i $FIRST_ACCOUNT_ID -o DIR -C DIR/messages.csv" \
	    "-S DIR/inserts.sql -T bench.messages"
	out "convo-ingest -q -a bench-NN DIR/events-bench-NN.ndjson >/dev/null"
	out "psql -X -q -v ON_ERROR_STOP=1 -d bench_run -c \"\\copy" \
	    "bench.messages ($(head -n 1 "$DATA/messages.csv")) FROM" \
	    "'DIR/messages.csv' WITH (FORMAT csv, HEADER)\""
	out "psql -X -q -v ON_ERROR_STOP=1 -d bench_run -f DIR/inserts.sql"
	out '```'
	rm -f "$DATA/inserts.sql" "$DATA/messages.csv"
}

# Largest of the RSS values in KiB in file $1, in MiB.
rss_max() {
	grep -E '^[0-9]+$' "$1" | sort -n | tail -n 1 |
	    awk '{ printf "%.1f MiB\n", $1 / 1024 } END { if (!NR) print "-" }'
}

# ---------------------------------------------------------------- memory

memory_run() {
	local rc=0

	/usr/bin/time -f %M -a -o "$RSS_FILE" timeout "$MEMORY_LIMIT" \
	    convo-ingest -q -a bench-01 "$MEMORY_FILE" >"$WORK/memory.out" ||
	    rc=$?
	grep -c '"type":"ingest_result"' "$WORK/memory.out" \
	    >>"$RESULTS/$MEMORY_ID.done" || true
	return $rc
}
export -f memory_run

# RSS statistic $2 (median, min, max) of the numbers in file $1, in MiB.
rss_stat() {
	grep -E '^[0-9]+$' "$1" | sort -n | awk -v what="$2" '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "-"; exit }
			if (what == "min") x = v[1]
			else if (what == "max") x = v[NR]
			else if (NR % 2) x = v[(NR + 1) / 2]
			else x = (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f\n", x / 1024
		}'
}

item_memory() {
	local n id first="" last="" done_max

	section "## 2. Memory"
	out ""
	out "Peak RSS (/usr/bin/time -f %M) of one convo-ingest run over one" \
	    "account's file of N records, into a fresh database."
	out ""
	out "| records | median | min | max | runs | records recorded |"
	out "|---|---|---|---|---|---|"
	export MEMORY_LIMIT=$((RUN_LIMIT - 30))
	for n in $MEMORY_N; do
		id=memory-$n
		mkdir -p "$DATA/$id"
		"$GEN" -n "$n" -a 1 -c "$CUSTOMERS" -i "$FIRST_ACCOUNT_ID" \
		    -o "$DATA/$id"
		export MEMORY_FILE="$DATA/$id/events-bench-01.ndjson"
		export MEMORY_ID=$id RSS_FILE="$RESULTS/$id.rss"
		export CONVO_DB="$SERVER dbname=bench_run"
		: >"$RSS_FILE"
		: >"$RESULTS/$id.done"
		measure "$id" "$MEMORY_BUDGET" prep_run memory_run
		unset CONVO_DB
		done_max=$(sort -n "$RESULTS/$id.done" | tail -n 1)
		out "| $n | $(rss_stat "$RSS_FILE" median) MiB |" \
		    "$(rss_stat "$RSS_FILE" min) MiB |" \
		    "$(rss_stat "$RSS_FILE" max) MiB |" \
		    "$(wc -l <"$RESULTS/$id.done") ($(cat \
		    "$RESULTS/$id.status")) | ${done_max:-0} |"
		[ -n "$first" ] || first=$(rss_stat "$RSS_FILE" median)
		last=$(rss_stat "$RSS_FILE" median)
		rm -rf "${DATA:?}/$id"
	done
	out ""
	out "- Under 32 MiB at the largest size: $(verdict "$(awk -v m="$last" \
	    'BEGIN { print (m != "-" && m < 32) }')")."
	out "- The same at both sizes (largest within 10% of smallest):" \
	    "$(verdict "$(awk -v a="$first" -v b="$last" \
	    'BEGIN { print (a != "-" && b != "-" && b <= a * 1.1) }')")" \
	    "($first MiB and $last MiB)."
	out ""
	out "Command, with CONVO_DB naming a fresh database for each run:"
	out ""
	out '```'
	out "bench/gen-events -n N -a 1 -c $CUSTOMERS -i $FIRST_ACCOUNT_ID -o DIR"
	out "/usr/bin/time -f %M convo-ingest -q -a bench-01" \
	    "DIR/events-bench-01.ndjson >/dev/null"
	out '```'
}

# ------------------------------------------------------------------ list

# Load chunks of conversations until the target or the time budget.
load_scale() {
	local account=$1 per chunk lo=1 hi t0 now last=0 c0 c1

	# Messages per conversation, rounded to the nearest whole number.
	per=$(((2 * (LIST_MESSAGES - THREAD_MESSAGES) + LIST_CONVERSATIONS - 1) /
	    (2 * (LIST_CONVERSATIONS - 1))))
	chunk=$((LIST_CONVERSATIONS / 50))
	[ $chunk -ge 1000 ] || chunk=1000
	t0=$(date +%s)
	while [ $lo -le "$LIST_CONVERSATIONS" ]; do
		now=$(date +%s)
		# Stop when the next chunk would end after the budget.
		if [ $((now - t0 + last)) -gt "$LOAD_BUDGET" ]; then
			log "list: load budget reached after $((lo - 1))" \
			    "conversations"
			break
		fi
		hi=$((lo + chunk))
		[ $hi -le $((LIST_CONVERSATIONS + 1)) ] ||
		    hi=$((LIST_CONVERSATIONS + 1))
		c0=$(date +%s)
		sql bench_scale -v account="$account" -v lo=$lo -v hi=$hi \
		    -v per=$per -v thread=$THREAD_MESSAGES \
		    -f "$BENCH/scale-load.sql"
		c1=$(date +%s)
		last=$((c1 - c0))
		lo=$hi
	done
	# Identity sequences continue after the loaded ids.
	sql bench_scale -At -c "
	    SELECT setval(pg_get_serial_sequence('convo.profiles',
	        'profile_id'), (SELECT max(profile_id) FROM convo.profiles));
	    SELECT setval(pg_get_serial_sequence('convo.conversations',
	        'conversation_id'),
	        (SELECT max(conversation_id) FROM convo.conversations));
	    SELECT setval(pg_get_serial_sequence('convo.message_keys',
	        'message_id'), (SELECT max(message_id) FROM convo.message_keys));
	    SELECT setval(pg_get_serial_sequence('convo.consent_changes',
	        'change_id'),
	        (SELECT max(change_id) FROM convo.consent_changes));" \
	    >/dev/null
	LOAD_SECONDS=$(($(date +%s) - t0))
	t0=$(date +%s)
	sql bench_scale -c ANALYZE
	ANALYZE_SECONDS=$(($(date +%s) - t0))
}

# Print the auto_explain plans logged since byte $1 of the server log,
# one block per statement, separated by lines of "----".
plans_since() {
	tail -c +"$(($1 + 1))" "$WORK/pg/server.log" | awk '
		/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] / {
			inplan = ($0 ~ /LOG:  duration: .* plan:/)
			if (inplan) {
				if (n++) print "----"
				sub(/.*LOG:  /, "")
				print
			}
			next
		}
		inplan { sub(/^\t/, ""); print }'
}

# Run the command $2... once with auto_explain and save its plans in
# $RESULTS/plans-$1.txt.
explain_command() {
	local name=$1 offset
	shift
	offset=$(stat_size "$WORK/pg/server.log")
	# The options go in the connection string, because the programs set
	# options (TimeZone) themselves, which takes precedence over PGOPTIONS.
	CONVO_DB="$CONVO_DB options='-c TimeZone=UTC \
	    -c session_preload_libraries=auto_explain \
	    -c auto_explain.log_min_duration=0 \
	    -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on'" \
	    "$@" >/dev/null
	sleep 0.2
	plans_since "$offset" >"$RESULTS/plans-$name.txt"
}

stat_size() {
	wc -c <"$1" | tr -d ' '
}

# A table row per statement of plans file $2 for command $1: duration,
# sequential scans, and the first words of the statement. A sequential
# scan of a table of at most one 8 kB page (pg_class.relpages after
# ANALYZE), such as accounts or an empty partition, is listed but does
# not miss the target: it is the cheapest plan there.
plan_rows() {
	local small

	small=$(sql bench_scale -At -c "SELECT string_agg(c.relname, ' ')
	    FROM pg_catalog.pg_class c
	    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	    WHERE n.nspname IN ('convo', 'convo_partitions')
	        AND c.relkind = 'r' AND c.relpages <= 1")
	awk -v name="$1" -v small_tables=" $small " '
		function flush() {
			if (!have) return
			seq = (seqs == "" ? "none" : seqs)
			ok = (ms < 5 && !bad) ? "met" : "missed"
			printf "| %s | %s | %.3f ms | %s | %s |\n", name, \
			    substr(query, 1, 90), ms, seq, ok
			have = 0
		}
		/^duration: / {
			flush(); have = 1; ms = $2; seqs = ""; query = ""
			bad = 0
			next
		}
		/^----$/ { next }
		/^Query Text: / && query == "" {
			query = $0; sub(/^Query Text: /, "", query)
			gsub(/\|/, "\\|", query)
			next
		}
		/Seq Scan on / {
			s = $0; sub(/.*Seq Scan on /, "", s); sub(/ .*/, "", s)
			small = index(small_tables, " " s " ") > 0
			if (!small) bad = 1
			seqs = seqs (seqs == "" ? "" : ", ") s \
			    (small ? " (one page)" : "")
		}
		END { flush() }' "$2"
}

# list_times PREFIX: time each of the commands of item_list with
# hyperfine into PREFIX-NAME.times, on the database of CONVO_DB and the
# psql peer on PGHOST and PGPORT.
list_times() {
	local -a args=()
	local i
	for i in "${!names[@]}"; do
		args+=(-n "${names[$i]}" "${commands[$i]}")
	done
	PGDATABASE=bench_scale hyperfine -N --style basic --warmup 3 \
	    --runs "$LIST_RUNS" --export-json "$RESULTS/$1.json" "${args[@]}" \
	    >"$RESULTS/$1.hyperfine" 2>&1
	for i in "${!names[@]}"; do
		jq -r --arg n "${names[$i]}" \
		    '.results[] | select(.command == $n) | .times[]' \
		    "$RESULTS/$1.json" >"$RESULTS/$1-${names[$i]}.times"
		echo ok >"$RESULTS/$1-${names[$i]}.status"
	done
}

# Start PgBouncer in transaction pooling mode on a unix socket beside the
# server's, with two server connections. Return 1 when it cannot start.
pooler_start() {
	local bin dir=$WORK/pooler i

	bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
	if [ ! -x "$bin" ]; then
		log "list: pgbouncer not found; the pooled times are skipped"
		return 1
	fi
	POOLER_VERSION=$("$bin" --version | head -n 1)
	mkdir -p "$dir"
	cat >"$dir/pgbouncer.ini" <<-EOF
	[databases]
	* = host=$WORK

	[pgbouncer]
	listen_addr =
	listen_port = $POOLER_PORT
	unix_socket_dir = $WORK
	auth_type = trust
	auth_file = $dir/users.txt
	pool_mode = transaction
	default_pool_size = 2
	max_client_conn = 20
	logfile = $dir/pgbouncer.log
	pidfile = $dir/pgbouncer.pid
	EOF
	printf '"%s" ""\n' "$PG_USER" >"$dir/users.txt"
	[ "$(id -u)" -ne 0 ] || chown -R postgres "$dir"
	if ! as_server "$bin" -d "$dir/pgbouncer.ini" 3>&-; then
		log "list: pgbouncer did not start; the pooled times are skipped"
		return 1
	fi
	for ((i = 0; i < 50; i++)); do
		[ -S "$WORK/.s.PGSQL.$POOLER_PORT" ] && return 0
		sleep 0.1
	done
	log "list: pgbouncer did not open its socket; the pooled times are" \
	    "skipped"
	pooler_stop
	return 1
}

pooler_stop() {
	local pid

	pid=$(cat "$WORK/pooler/pgbouncer.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	rm -f "$WORK/pooler/pgbouncer.pid"
}

# Report the times through PgBouncer, if any, as ratios to psql through
# PgBouncer and to $1, the median of psql connecting directly.
pool_table() {
	local i m peer

	[ -s "$RESULTS/pool-psql.times" ] || return 0
	peer=$(stat pool-psql median)
	out ""
	out "The same commands through $POOLER_VERSION (transaction pooling," \
	    "two server connections, unix socket), so that each run finds" \
	    "a server process that has run the statements before. The" \
	    "peers are psql -X -c 'select 1' through the pooler and" \
	    "directly."
	out ""
	out "| command | median | min | max | runs | / psql pooled |" \
	    "/ psql direct |"
	out "|---|---|---|---|---|---|---|"
	for i in "${!names[@]}"; do
		m=$(stat "pool-${names[$i]}" median)
		out "$(time_row "pool-${names[$i]}" "\`${commands[$i]}\`")" \
		    "$(ratio "$m" "$peer") | $(ratio "$m" "$1") |"
	done
}

item_list() {
	local account cursor deep_rank conversations messages

	log "list: loading up to $LIST_CONVERSATIONS conversations and" \
	    "$LIST_MESSAGES messages"
	sql postgres -c "CREATE DATABASE bench_scale TEMPLATE bench_tpl"
	export CONVO_DB="$SERVER dbname=bench_scale" CONVO_ACCOUNT=scale
	convo-db -q account add scale --brand Scale >/dev/null
	account=$(sql bench_scale -At -c \
	    "SELECT account_id FROM convo.accounts WHERE name = 'scale'")
	load_scale "$account"
	conversations=$(sql bench_scale -At -c \
	    "SELECT count(*) FROM convo.conversations")
	messages=$(sql bench_scale -At -c "SELECT count(*) FROM convo.messages")
	log "list: loaded $conversations conversations and $messages" \
	    "messages in $LOAD_SECONDS s"

	deep_rank=$((DEEP_PAGES * PAGE))
	cursor=$(convo-list -n "$deep_rank" | tail -n 1 | jq -r .cursor)
	local search="ada reyes" thread=c_1
	local -a names=(first-page deep-page unread search read psql)
	local -a commands=(
		"convo-list"
		"convo-list --before $cursor"
		"convo-list --unread"
		"convo-list --search '$search'"
		"convo-read --no-mark-read --limit 50 $thread"
		"$PGBIN/psql -X -c 'select 1'"
	)
	local i pooled_db
	list_times list
	if pooler_start; then
		pooled_db="host=$WORK port=$POOLER_PORT user=$PG_USER"
		CONVO_DB="$pooled_db dbname=bench_scale" PGPORT=$POOLER_PORT \
		    list_times pool
		pooler_stop
	fi

	explain_command first-page convo-list
	explain_command deep-page convo-list --before "$cursor"
	explain_command unread convo-list --unread
	explain_command search convo-list --search "$search"
	explain_command read convo-read --no-mark-read --limit 50 "$thread"
	local pages_ok
	pages_ok=$(convo-list --before "$cursor" | wc -l)
	unset CONVO_DB CONVO_ACCOUNT

	local psql_median
	psql_median=$(stat list-psql median)
	section "## 3. List and read at scale"
	out ""
	out "One account with $conversations conversations and $messages" \
	    "messages, loaded with set-based SQL (bench/scale-load.sql) in" \
	    "$LOAD_SECONDS s, then ANALYZE in $ANALYZE_SECONDS s (target" \
	    "$LIST_CONVERSATIONS conversations, $LIST_MESSAGES messages," \
	    "load time budget $LOAD_BUDGET s). Conversation $thread has" \
	    "$THREAD_MESSAGES messages. The deep page starts after record" \
	    "$deep_rank ($DEEP_PAGES pages of $PAGE) and returned" \
	    "$pages_ok records. Whole-process wall time, hyperfine -N," \
	    "3 warm-up runs and $LIST_RUNS timed runs each; the peer is" \
	    "psql -X -c" \
	    "'select 1' on the same socket."
	out ""
	out "| command | median | min | max | runs | / psql | no slower than psql |"
	out "|---|---|---|---|---|---|---|"
	for i in "${!names[@]}"; do
		local m r
		m=$(stat "list-${names[$i]}" median)
		r=$(ratio "$m" "$psql_median")
		out "$(time_row "list-${names[$i]}" "\`${commands[$i]}\`")" \
		    "$r | $(verdict "$(awk -v r="$r" \
		    'BEGIN { print (r != "-" && r <= 1) }')") |"
	done
	pool_table "$psql_median"
	out ""
	out "Statements of one run of each command, from auto_explain" \
	    "(log_analyze, log_buffers; execution time without planning)." \
	    "Target: each under 5 ms, with no sequential scan. A" \
	    "sequential scan of a table of at most one page, such as" \
	    "accounts or an empty partition, is the cheapest plan there" \
	    "and does not count; it is marked (one page)."
	out ""
	out "| command | statement | execution | sequential scans | target |"
	out "|---|---|---|---|---|"
	for i in first-page deep-page unread search read; do
		out "$(plan_rows "$i" "$RESULTS/plans-$i.txt")"
	done
	out ""
	for i in first-page deep-page unread search read; do
		out "<details><summary>Plans of $i</summary>"
		out ""
		out '```'
		out "$(cat "$RESULTS/plans-$i.txt")"
		out '```'
		out ""
		out "</details>"
		out ""
	done
	sql postgres -c "DROP DATABASE bench_scale WITH (FORCE)"
}

# ------------------------------------------------------------------ send

SEND_BRAND=+12025550100
SEND_BODY="Thanks for your message. Your order ships today and arrives in 2-3 days."
export SEND_BRAND SEND_BODY

fake_start() {
	rm -f "$WORK/fake.port"
	"$FAKE" --port-file "$WORK/fake.port" --log "$WORK/fake.log" \
	    >/dev/null 2>"$WORK/fake.err" &
	FAKE_PID=$!
	local i
	for i in $(seq 50); do
		[ -s "$WORK/fake.port" ] && break
		sleep 0.1
	done
	if ! [ -s "$WORK/fake.port" ]; then
		echo "bench/run: fake-twilio did not start:" \
		    "$(cat "$WORK/fake.err")" >&2
		exit 70
	fi
	export TWILIO_API_BASE="http://127.0.0.1:$(cat "$WORK/fake.port")"
	# The fake speaks plain http on loopback, which needs this setting.
	export CONVO_INSECURE_TLS_FOR_TESTING=1
	export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
	export TWILIO_AUTH_TOKEN=test-token
	MESSAGES_URL="$TWILIO_API_BASE/2010-04-01/Accounts/$TWILIO_ACCOUNT_SID/Messages.json"
	export MESSAGES_URL
}

prep_send() {
	fresh_db bench_send bench_send_tpl
}

send_convo() {
	convo-send -q -a bench-01 --parallel 16 --rate 0 \
	    <"$DATA/send.ndjson" >"$WORK/send.out" || return
	# Every message must have been sent, or the run does not count.
	[ "$(grep -c '"status":"sent"' "$WORK/send.out")" -eq "$SEND_N" ]
}

send_curl_loop() {
	local to

	while IFS= read -r to; do
		curl -sSf -o /dev/null -u "$TWILIO_ACCOUNT_SID:$TWILIO_AUTH_TOKEN" \
		    --data-urlencode "To=$to" --data-urlencode "From=$SEND_BRAND" \
		    --data-urlencode "Body=$SEND_BODY" "$MESSAGES_URL" || return
	done <"$DATA/send.recipients"
}

send_fake_only() {
	curl -sSf --no-progress-meter --parallel --parallel-max 16 \
	    -K "$DATA/send.curlrc"
}
export -f send_convo send_curl_loop send_fake_only

item_send() {
	local i phone

	log "send: preparing $SEND_N customers"
	export SEND_N
	: >"$DATA/send.setup"
	: >"$DATA/send.ndjson"
	: >"$DATA/send.recipients"
	for ((i = 1; i <= SEND_N; i++)); do
		phone="+1213$((2000000 + i))"
		echo "$phone"
	done >"$DATA/send.recipients"
	awk -v brand="$SEND_BRAND" -v body="$SEND_BODY" '{
		printf "{\"type\":\"consent\",\"phone\":\"%s\",\"status\":" \
		    "\"subscribed\",\"at\":\"2026-11-01T00:00:00Z\"}\n", $1 \
		    >> "'"$DATA/send.setup"'"
		printf "{\"type\":\"message\",\"direction\":\"inbound\"," \
		    "\"from\":\"%s\",\"to\":\"%s\",\"body\":\"Where is my " \
		    "order?\",\"provider_message_id\":\"SMsend%07d\"," \
		    "\"sent_at\":\"2026-11-02T10:00:00Z\"}\n", $1, brand, NR \
		    >> "'"$DATA/send.setup"'"
		printf "{\"to\":\"%s\",\"body\":\"%s\"}\n", $1, body \
		    >> "'"$DATA/send.ndjson"'"
	}' "$DATA/send.recipients"
	sql postgres -c "CREATE DATABASE bench_send_tpl TEMPLATE bench_tpl"
	CONVO_DB="$SERVER dbname=bench_send_tpl" convo-ingest -q -a bench-01 \
	    "$DATA/send.setup" >/dev/null

	export CONVO_DB="$SERVER dbname=bench_send"
	fake_start
	measure send-convo 300 prep_send send_convo
	fake_stop
	fake_start
	measure send-curl 300 : send_curl_loop
	fake_stop
	fake_start
	awk -v url="$MESSAGES_URL" -v auth="$TWILIO_ACCOUNT_SID:$TWILIO_AUTH_TOKEN" \
	    -v brand="$SEND_BRAND" -v body="$SEND_BODY" '
		NR > 1 { print "next" }
		{
			printf "url = \"%s\"\nuser = \"%s\"\n", url, auth
			printf "data-urlencode = \"To=%s\"\n", $1
			printf "data-urlencode = \"From=%s\"\n", brand
			printf "data-urlencode = \"Body=%s\"\n", body
			print "output = \"/dev/null\""
		}' "$DATA/send.recipients" >"$DATA/send.curlrc"
	measure send-fake 300 : send_fake_only
	fake_stop
	unset CONVO_DB

	local m_convo m_curl m_fake speedup
	m_convo=$(stat send-convo median)
	m_curl=$(stat send-curl median)
	m_fake=$(stat send-fake median)
	speedup=$(ratio "$m_curl" "$m_convo" 1)
	section "## 4. Send"
	out ""
	out "$SEND_N replies to $SEND_N subscribed customers with a" \
	    "conversation, through tests/fake-twilio on 127.0.0.1. Each" \
	    "convo-send run starts from a fresh copy of the database, so" \
	    "every message is sent and stored (a run that sent fewer" \
	    "does not count)."
	out ""
	out "| command | median | min | max | runs | messages/s |"
	out "|---|---|---|---|---|---|"
	out "$(time_row send-convo "convo-send --parallel 16 --rate 0") $(rate "$SEND_N" send-convo) |"
	out "$(time_row send-curl "shell loop, one curl per message") $(rate "$SEND_N" send-curl) |"
	out "$(time_row send-fake "fake alone: one curl, --parallel-max 16") $(rate "$SEND_N" send-fake) |"
	out ""
	out "- convo-send is $speedup times as fast as the curl loop" \
	    "(target at least 10): $(verdict "$(awk -v r="$speedup" \
	    'BEGIN { print (r != "-" && r >= 10) }')")."
	out "- The fake alone takes $(ratio "$m_fake" "$m_convo") of" \
	    "convo-send's time for the same requests."
	out ""
	out "Commands, with TWILIO_API_BASE, TWILIO_ACCOUNT_SID and" \
	    "TWILIO_AUTH_TOKEN set as tests/convo-send.bats sets them; URL is" \
	    "\$TWILIO_API_BASE/2010-04-01/Accounts/\$TWILIO_ACCOUNT_SID/Messages.json:"
	out ""
	out '```'
	out "convo-send -q -a bench-01 --parallel 16 --rate 0 <send.ndjson >send.out"
	out "while IFS= read -r to; do curl -sSf -o /dev/null -u \"\$TWILIO_ACCOUNT_SID:\$TWILIO_AUTH_TOKEN\"" \
	    "--data-urlencode \"To=\$to\" --data-urlencode \"From=$SEND_BRAND\"" \
	    "--data-urlencode \"Body=\$BODY\" \"\$URL\" || exit; done <recipients"
	out "curl -sSf --no-progress-meter --parallel --parallel-max 16 -K requests.curlrc"
	out '```'
	out ""
	out "send.ndjson has one {\"to\": PHONE, \"body\": BODY} line per" \
	    "customer, and requests.curlrc one request per customer with the" \
	    "same URL, credentials and form fields as the loop."
	sql postgres -c "DROP DATABASE IF EXISTS bench_send WITH (FORCE)" \
	    -c "DROP DATABASE bench_send_tpl"
}

# ---------------------------------------------------------------- filter

filter_keywords() {
	convo-keywords -a bench-01 test <"$DATA/filter.ndjson" >/dev/null
}

filter_jq() {
	jq -c . <"$DATA/filter.ndjson" >/dev/null
}
export -f filter_keywords filter_jq

item_filter() {
	local corpus=${CONVO_CORPUS:-}/SMSSpamCollection.tsv

	section "## 5. Keyword filter"
	out ""
	if [ -z "${CONVO_CORPUS:-}" ] || [ ! -f "$corpus" ]; then
		out "Skipped: set CONVO_CORPUS to the directory that contains" \
		    "SMSSpamCollection.tsv to run this item."
		log "filter: skipped, CONVO_CORPUS has no SMSSpamCollection.tsv"
		return
	fi
	# One inbound message record per text, repeated to FILTER_N lines.
	tail -n +2 "$corpus" | cut -f 2- | jq -R -c '{type: "message",
	    direction: "inbound", from: "+12122000001", to: "+12025550100",
	    body: .}' >"$DATA/filter.texts"
	local texts
	texts=$(wc -l <"$DATA/filter.texts")
	awk -v n="$FILTER_N" '{ line[NR] = $0 }
	    END { for (i = 0; i < n; i++) print line[i % NR + 1] }' \
	    "$DATA/filter.texts" >"$DATA/filter.ndjson"
	export CONVO_DB="$SERVER dbname=bench_tpl"
	measure filter-keywords 300 : filter_keywords
	measure filter-jq 300 : filter_jq
	unset CONVO_DB

	local r
	r=$(ratio "$(stat filter-jq median)" "$(stat filter-keywords median)")
	out "The $texts texts of SMSSpamCollection.tsv as inbound message" \
	    "records, repeated to $FILTER_N lines ($(stat_size \
	    "$DATA/filter.ndjson") bytes), read from a file."
	out ""
	out "| command | median | min | max | runs | records/s |"
	out "|---|---|---|---|---|---|"
	out "$(time_row filter-keywords "convo-keywords test") $(rate "$FILTER_N" filter-keywords) |"
	out "$(time_row filter-jq "jq -c .") $(rate "$FILTER_N" filter-jq) |"
	out ""
	out ""
	out "Commands, with CONVO_DB naming a database with the account" \
	    "bench-01 and its default keywords:"
	out ""
	out '```'
	out "convo-keywords -a bench-01 test <filter.ndjson >/dev/null"
	out "jq -c . <filter.ndjson >/dev/null"
	out '```'
	out ""
	out "- convo-keywords test is $r times as fast as jq -c . (target:" \
	    "faster): $(verdict "$(awk -v r="$r" \
	    'BEGIN { print (r != "-" && r > 1) }')")."
	rm -f "$DATA/filter.ndjson" "$DATA/filter.texts"
}

# ---------------------------------------------------------------- report

write_report() {
	local cpu mem commit
	cpu=$(grep -m 1 'model name' /proc/cpuinfo | sed 's/.*: //')
	mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' \
	    /proc/meminfo)
	commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo -)
	if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then
		commit="$commit with uncommitted changes"
	fi
	cat <<EOF
# convo benchmarks: $SCALE scale

Run of \`bench/run --scale $SCALE --only $ONLY\` on $(date -u +%Y-%m-%d),
commit $commit, in $((END_TIME - START_TIME)) s.

- CPU: $cpu, $(nproc) cores ($(uname -m), Linux $(uname -r))
- Memory: $mem
- PostgreSQL: $PG_VERSION
- Server settings: defaults, on a unix socket only ($PG_SETTINGS)
- Each time is the wall time of the whole command. Median, min and max
  are over the runs shown.
EOF
	cat "$RESULTS/report.body"
}
