# shellcheck shell=sh
# Settings of AddressSanitizer, LeakSanitizer and UBSan for the tests,
# sourced by tests/run (sh) and tests/build.bash (bash). Programs built
# without the sanitizers ignore them.

# Send the reports of every program started from here on to files in
# DIR: asan.PID for memory errors and leaks, ubsan.PID for undefined
# behaviour. Each error stops the program that made it.
#
# Allocation stacks come from the fast unwinder, which follows frame
# pointers. A stack that enters a shared library built without them,
# such as Debian's libjq, ends there. The slow unwinder goes on through
# such libraries, but it added about 45 ms to each run of convo-list.
# sanitizer_full_stacks turns it on where a suppression needs the whole
# stack.
sanitizer_env() {
	mkdir -p "$1"
	ASAN_OPTIONS="detect_leaks=1:halt_on_error=1"
	ASAN_OPTIONS="$ASAN_OPTIONS:detect_stack_use_after_return=1"
	ASAN_OPTIONS="$ASAN_OPTIONS:check_initialization_order=1"
	ASAN_OPTIONS="$ASAN_OPTIONS:strict_string_checks=1:log_path=$1/asan"
	LSAN_OPTIONS="suppressions=$CONVO_SOURCE/tests/lsan.supp"
	LSAN_OPTIONS="$LSAN_OPTIONS:print_suppressions=0"
	UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
	UBSAN_OPTIONS="$UBSAN_OPTIONS:report_error_type=1:log_path=$1/ubsan"
	export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
}

# Take allocation stacks with the slow unwinder from here on, because
# the suppression in tests/lsan.supp names a function inside libjq.
sanitizer_full_stacks() {
	ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"
	export ASAN_OPTIONS
}

# Print the reports in DIR, and fail when there is one.
# Its variables have long names because bats files source it too.
sanitizer_reports() {
	sanitizer_found=0
	for sanitizer_file in "$1"/asan.* "$1"/ubsan.*; do
		[ -f "$sanitizer_file" ] || continue
		cat "$sanitizer_file"
		sanitizer_found=1
	done
	return "$sanitizer_found"
}
