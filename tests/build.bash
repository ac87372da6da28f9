# The build that the bats files test. CONVO_BUILD names the directory
# that contains its bin/ and tests/, relative to the source tree. It is
# the source tree itself by default, and build/asan for the sanitizer
# build.

CONVO_SOURCE=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
CONVO_BUILD=$(cd "$CONVO_SOURCE" && cd "${CONVO_BUILD:-.}" && pwd)
export CONVO_SOURCE CONVO_BUILD
# The server's own psql and tools come before Debian's wrapper scripts
# in /usr/bin, which start perl at each call. psql -c 'select 1' took
# 48 ms of processor time through the wrapper and 8 ms without.
PG_TOOLS=${CONVO_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null |
    sort -V | tail -n 1)}
PATH="$CONVO_BUILD/bin${PG_TOOLS:+:$PG_TOOLS}:$PATH"
FAKE_TWILIO="$CONVO_BUILD/tests/fake-twilio"

# shellcheck source=tests/sanitizer.sh
. "$CONVO_SOURCE/tests/sanitizer.sh"

# Each test keeps the sanitizer reports of the programs it runs apart.
# setup_file has no BATS_TEST_TMPDIR and keeps the settings of tests/run.
if [ -n "${BATS_TEST_TMPDIR:-}" ]; then
	sanitizer_env "$BATS_TEST_TMPDIR/sanitizer"
fi

# Succeed when the build under test has AddressSanitizer, which does its
# own leak checks and which valgrind cannot run.
asan_build() {
	grep -q __asan_init "$CONVO_BUILD/bin/convo-ingest"
}

# Fail the test when a program that it ran made a sanitizer report, and
# print the reports. Every teardown calls this last, after it has stopped
# the servers that the test started, because leaks show at exit.
check_sanitizers() {
	sanitizer_reports "$BATS_TEST_TMPDIR/sanitizer" && return 0
	echo "# a program made the sanitizer reports above"
	return 1
}
