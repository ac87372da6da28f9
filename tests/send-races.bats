#!/usr/bin/env bats
# convo-send racing convo-ingest: a psql session holds a row lock, so
# that an ingest batch stays open half-way while convo-send makes its
# check just before the request.

load helper
load consistency

@test "STOP in a running batch holds a --new message" {
	{
		echo '{"type":"consent","phone":"+12015550121","status":"subscribed","method":"import","at":"2026-11-01T00:00:00Z"}'
		echo '{"type":"consent","phone":"+12015550122","status":"subscribed","at":"2026-11-01T00:00:00Z"}'
		echo '{"type":"message","direction":"inbound","from":"+12015550122","to":"+12025550100","body":"Hello","provider_message_id":"SMr1","sent_at":"2026-11-02T10:00:00Z"}'
	} | convo-ingest -q >/dev/null
	start_fake "always ok"
	# The batch waits for the other customer's conversation, after it
	# took the account's lock and before it records the STOP of
	# +12015550121, who has no conversation.
	hold "SELECT 1 FROM convo.conversations c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '+12015550122' FOR UPDATE OF c;"
	{
		printf '{"type":"message","direction":"inbound","from":"+12015550121","to":"+12025550100","body":"STOP","provider_message_id":"SMr2","sent_at":"%s"}\n' \
		    "$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)"
		echo '{"type":"message","direction":"inbound","from":"+12015550122","to":"+12025550100","body":"Thanks","provider_message_id":"SMr3","sent_at":"2026-11-02T10:05:00Z"}'
	} | convo-ingest -q >ingest.out 3>&- &
	local ingest=$!
	wait_for_waiters 1
	convo-send -q --rate 0 --new --from +12025550100 --to +12015550121 \
	    -b 'Promo' >send.out 2>send.err 3>&- &
	local send=$!
	# Release the batch once convo-send waits for a lock or has ended,
	# within five seconds.
	local i
	for i in $(seq 50); do
		[ "$(sql "SELECT count(*) FROM pg_stat_activity
		    WHERE datname = current_database()
		    AND application_name = 'convo-send'
		    AND wait_event_type = 'Lock'")" -ge 1 ] && break
		kill -0 "$send" 2>/dev/null || break
		sleep 0.1
	done
	release
	wait "$ingest"
	local send_status=0
	wait "$send" || send_status=$?
	assert_equal "$send_status" 65
	run jq -r '[.status, .reason] | join(" ")' send.out
	assert_output "rejected not_subscribed"
	run requests
	assert_output "0"
	run sql "SELECT status FROM convo.consent c
	    JOIN convo.profiles p USING (account_id, profile_id)
	    WHERE p.phone = '+12015550121'"
	assert_output "unsubscribed"
}
