# bash completion for the convo programs. Installed once per program.
#
# Options and their descriptions come from each program's --help. The
# values of an option's argument and the operands come from the program
# itself: "PROG --complete OPTION -- WORDS" prints them one per line and
# exits 1 when OPTION takes no argument, and "PROG --complete '' --
# WORDS" completes an operand. WORDS are the words typed before the
# cursor. Names from the database (accounts, keywords, conversations)
# need CONVO_DB or a local database that runs already.

# Print the long options of PROG, one per line.
_convo_options() {
	"$1" --help 2>/dev/null |
	    sed -nE 's/^ +(-[A-Za-z], )?(--[a-z][a-z-]*).*/\2/p' | sort -u
}

# Fill COMPREPLY with the lines of "PROG --complete WHAT -- WORDS..."
# that start with CUR; return 1 when WHAT takes no argument.
_convo_values() {
	local prog=$1 what=$2 cur=$3 line values
	shift 3
	values=$("$prog" --complete "$what" -- "$@" 2>/dev/null) || return 1
	COMPREPLY=()
	while IFS= read -r line; do
		line=${line%%$'\t'*}
		case $line in
		@file)
			COMPREPLY+=($(compgen -f -- "$cur"))
			compopt -o filenames 2>/dev/null
			;;
		@directory)
			COMPREPLY+=($(compgen -d -- "$cur"))
			compopt -o filenames 2>/dev/null
			;;
		"$cur"*)
			# Quote values such as "stop all" as one word.
			printf -v line '%q' "$line"
			COMPREPLY+=("$line")
			;;
		esac
	done <<<"$values"
	return 0
}

_convo() {
	local prog=$1 cur prev
	local -a words
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	words=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_convo_options "$prog")" -- "$cur"))
		return
	fi
	if [[ $prev == -* && $prev != -- ]] &&
	    _convo_values "$prog" "$prev" "$cur" "${words[@]}"; then
		return
	fi
	_convo_values "$prog" '' "$cur" "${words[@]}"
}

complete -F _convo convo-ingest convo-list convo-read convo-db \
    convo-keywords convo-send convo-mark convo-webhook
