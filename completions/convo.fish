# fish completion for the convo programs. Installed once per program;
# each copy defines the completions of all of them.
#
# Options and their descriptions come from each program's --help. The
# values of an option's argument and the operands come from the program
# itself: "PROG --complete OPTION -- WORDS" prints them one per line, as
# "value" or "value<TAB>description", and exits 1 when OPTION takes no
# argument; "PROG --complete '' -- WORDS" completes an operand. WORDS
# are the words typed before the cursor. Names from the database need
# CONVO_DB or a local database that runs already.

# Print the long options of PROG with their descriptions.
function __convo_options --argument-names prog
    for line in ($prog --help 2>/dev/null)
        string match -qr -- '^ +(-[A-Za-z], )?--[a-z]' $line; or continue
        string replace -r -- '^ +(?:-[A-Za-z], )?(--[a-z][a-z-]*)(?: [^ ]+)?(?: +(.*))?$' '$1\t$2' $line
    end
end

# Print the values of "PROG --complete WHAT -- WORDS..."; return 1 when
# WHAT takes no argument.
function __convo_values --argument-names prog what cur
    set -l output ($prog --complete "$what" -- $argv[4..-1] 2>/dev/null)
    or return 1
    for line in $output
        switch $line
            case @file
                __fish_complete_path $cur
            case @directory
                __fish_complete_directories $cur
            case '*'
                echo $line
        end
    end
end

function __convo_complete --argument-names prog
    set -l typed (commandline -opc)[2..-1]
    set -l cur (commandline -ct)
    if string match -q -- '-*' $cur
        __convo_options $prog
        return
    end
    set -l prev $typed[-1]
    if string match -q -- '-?*' $prev; and test "$prev" != --
        __convo_values $prog $prev $cur $typed; and return
    end
    __convo_values $prog '' $cur $typed
end

for prog in convo-db convo-ingest convo-keywords convo-list convo-mark \
        convo-read convo-send convo-webhook
    complete -c $prog -e
    complete -c $prog -f -a "(__convo_complete $prog)"
end
