#!/usr/bin/env bats
# The manual pages are clean mdoc: mandoc's linter finds no warning.

bats_load_library bats-support
bats_load_library bats-assert

@test "manual pages have no mandoc warning" {
	run mandoc -Tlint -Wwarning "$BATS_TEST_DIRNAME"/../man/*.[157]
	assert_success
	assert_output ""
}

@test "every program has a manual page" {
	local p
	for p in "$BATS_TEST_DIRNAME"/../bin/*.c; do
		p=$(basename "$p" .c)
		[ -f "$BATS_TEST_DIRNAME/../man/$p.1" ] ||
		    fail "no manual page man/$p.1"
	done
}
