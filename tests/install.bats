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

@test "clean removes the programs, the sanitizer build and the generator" {
	run make -C "$CONVO_SOURCE" -n clean
	assert_success
	assert_line --regexp '^rm -f lib/\*\.o lib/libconvo\.a .*bin/convo-ingest .*tests/fake-twilio bench/gen-events$'
	assert_line 'rm -rf build/asan build/fuzz'
}

@test "a file named like a make target does not stop it" {
	local src=$BATS_TEST_TMPDIR/src target
	mkdir "$src"
	cp "$CONVO_SOURCE/Makefile" "$src/"
	touch "$src/clean"
	run make -C "$src" -n clean
	assert_success
	assert_line 'rm -rf build/asan build/fuzz'
	# Every target that names no file is declared phony.
	run make -C "$CONVO_SOURCE" -pn clean
	assert_success
	for target in all units asan check check-normal check-asan \
	    check-valgrind install uninstall demo deps lint-man bench fuzz \
	    fuzz-build fuzz-ci clean; do
		grep -Eq "^\.PHONY:.* $target( |\$)" <<<"$output" ||
		    fail "$target is not phony"
	done
}
