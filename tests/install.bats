#!/usr/bin/env bats
# make install into a staging directory, then run the installed programs
# with no source tree around them.

load helper

# Print make's O= argument that selects the build under test.
build_dir() {
	local dir

	dir=$(realpath --relative-to="$CONVO_SOURCE" "$CONVO_BUILD")
	if [ "$dir" = . ]; then
		echo O=
	else
		echo "O=$dir/"
	fi
}

@test "installed programs run from the staging directory" {
	local root=$BATS_TEST_TMPDIR/root src=$CONVO_SOURCE
	run make -C "$src" -s install DESTDIR="$root" PREFIX=/usr/local \
	    "$(build_dir)"
	assert_success
	[ -x "$root/usr/local/bin/convo-ingest" ]
	cmp "$root/usr/local/bin/convo-ingest" "$CONVO_BUILD/bin/convo-ingest"
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
	local root=$BATS_TEST_TMPDIR/root src=$CONVO_SOURCE
	make -C "$src" -s install DESTDIR="$root" PREFIX=/usr "$(build_dir)"
	run make -C "$src" -s uninstall DESTDIR="$root" PREFIX=/usr
	assert_success
	run find "$root" -type f
	assert_output ""
}
