#!/usr/bin/env bats
# make install into a staging directory, then run the installed programs
# with no source tree around them.

load helper

@test "installed programs run from the staging directory" {
	local root=$BATS_TEST_TMPDIR/root src=$BATS_TEST_DIRNAME/..
	run make -C "$src" -s install DESTDIR="$root" PREFIX=/usr/local
	assert_success
	[ -x "$root/usr/local/bin/convo-ingest" ]
	[ -f "$root/usr/local/share/convo/migrations/001_accounts.sql" ]
	[ -f "$root/usr/local/share/convo/citus.sql" ]
	[ -f "$root/usr/local/share/man/man1/convo-ingest.1" ]
	[ -f "$root/usr/local/share/man/man5/convo.5" ]
	cp -r "$root" "$BATS_TEST_TMPDIR/moved"
	rm -rf "$root"
	local bin=$BATS_TEST_TMPDIR/moved/usr/local/bin
	run "$bin/convo-ingest" -q \
	    "$BATS_TEST_TMPDIR/moved/usr/local/share/convo/sample/sample.ndjson"
	assert_success
	run "$bin/convo-list" --limit 1
	assert_success
	run jq -r .profile.name <<<"$output"
	assert_output "Ada Reyes"
}

@test "uninstall removes what install added" {
	local root=$BATS_TEST_TMPDIR/root src=$BATS_TEST_DIRNAME/..
	make -C "$src" -s install DESTDIR="$root" PREFIX=/usr
	run make -C "$src" -s uninstall DESTDIR="$root" PREFIX=/usr
	assert_success
	run find "$root" -type f
	assert_output ""
}
