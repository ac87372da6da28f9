# bash completion for the convo programs.

_convo_options() {
	"$1" --help 2>/dev/null |
	    grep -oE -- '--[a-z][a-z-]*' | sort -u
}

_convo() {
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	case $prev in
	--format | -f)
		COMPREPLY=($(compgen -W 'auto ndjson twilio' -- "$cur"))
		return
		;;
	--status | -s)
		COMPREPLY=($(compgen -W 'open snoozed closed all' -- "$cur"))
		return
		;;
	--rejects | -r)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--account | -a)
		COMPREPLY=($(compgen -W "$(convo-db account list 2>/dev/null |
		    jq -r .name 2>/dev/null)" -- "$cur"))
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_convo_options "$1")" -- "$cur"))
		return
	fi
	case $1 in
	*convo-db)
		if [ "$COMP_CWORD" -eq 1 ]; then
			COMPREPLY=($(compgen -W 'init start stop status migrate
			    psql env account' -- "$cur"))
		fi
		;;
	*convo-ingest)
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	esac
}

complete -F _convo convo-ingest convo-list convo-read convo-db
