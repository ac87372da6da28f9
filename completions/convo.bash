# bash completion for the convo programs.

_convo_options() {
	"$1" --help 2>/dev/null |
	    grep -oE -- '--[a-z][a-z-]*' | sort -u
}

_convo() {
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	case $1:$prev in
	*convo-send:--body-file | *convo-send:-B)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	*convo-send:-f)
		# In convo-send, -f is --from and takes a sender, not a format.
		return
		;;
	esac
	case $prev in
	--format | -f)
		COMPREPLY=($(compgen -W 'auto ndjson twilio' -- "$cur"))
		return
		;;
	--status | -s)
		COMPREPLY=($(compgen -W 'open snoozed closed all' -- "$cur"))
		return
		;;
	--assigned)
		# Assignees are free text, so there is nothing to offer.
		COMPREPLY=()
		return
		;;
	--rejects | -r)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--action)
		COMPREPLY=($(compgen -W 'opt_out opt_in help custom' -- "$cur"))
		return
		;;
	--optout-mode)
		COMPREPLY=($(compgen -W 'whole contains' -- "$cur"))
		return
		;;
	--snooze)
		COMPREPLY=($(compgen -W '30m 1h 3h 1d 2d 1w' -- "$cur"))
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
			    psql env account grant revoke' -- "$cur"))
		fi
		;;
	*convo-ingest)
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	*convo-keywords)
		_convo_keywords "$cur"
		;;
	esac
}

# Complete the command of convo-keywords, which may follow options, and
# the file of its import command.
_convo_keywords() {
	local i command=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-a | -d | --account | --db | --action | --reply | --lang | \
		    --brand | --help-contact | --frequency | --country | \
		    --optout-mode)
			i=$((i + 1))
			;;
		-*)
			;;
		*)
			command=${COMP_WORDS[i]}
			break
			;;
		esac
	done
	case $command in
	'')
		COMPREPLY=($(compgen -W 'list export add remove reset import
		    test settings lint' -- "$1"))
		;;
	import)
		COMPREPLY=($(compgen -f -- "$1"))
		;;
	esac
}

complete -F _convo convo-ingest convo-list convo-read convo-db \
    convo-keywords convo-send convo-mark convo-webhook
