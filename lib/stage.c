#include <stdio.h>
#include <string.h>

#include "migrate.h"
#include "stage.h"

/* Bytes of COPY data passed to libpq at a time. */
#define COPY_PIECE (64 * 1024)

/* Append field NAME of REC (borrowed) as a COPY field; null is \N. */
static void
field(struct buf *b, jv rec, const char *name, int last)
{
	jv v = jv_object_get(jv_copy(rec), jv_string(name));

	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		buf_copy_field(b, jv_string_value(v));
		break;
	case JV_KIND_INVALID:
	case JV_KIND_NULL:
		buf_copy_field(b, NULL);
		break;
	default: {
		jv text = jv_dump_string(jv_copy(v), 0);

		buf_copy_field(b, jv_string_value(text));
		jv_free(text);
	}
	}
	jv_free(v);
	buf_addc(b, last ? '\n' : '\t');
}

static void
fields(struct buf *b, long long seq, jv rec, const char *const *names)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld\t", seq);
	buf_adds(b, num);
	for (; *names != NULL; names++)
		field(b, rec, *names, names[1] == NULL);
}

static const char *const message_columns[] = {
	"provider", "provider_message_id", "direction", "channel", "phone",
	"from_address", "to_address", "body", "media", "sent_at", "origin",
	"origin_id", "status", "keyword", "keyword_action",
	"keyword_conditional", "possible_opt_out", "extra", NULL,
};

static const char *const status_columns[] = {
	"provider", "provider_message_id", "status", "error_code", "at",
	"to_phone", "channel", NULL,
};

static const char *const receipt_columns[] = {
	"outbox_id", NULL,
};

static const char *const consent_columns[] = {
	"phone", "channel", "status", "method", "at", NULL,
};

static const char *const profile_columns[] = {
	"phone", "fields", "updated_at", NULL,
};

static void
add_status(struct stage *s, long long seq, jv rec)
{
	jv outbox = jv_object_get(jv_copy(rec), jv_string("outbox_id"));

	fields(&s->statuses, seq, rec, status_columns);
	if (jv_get_kind(outbox) == JV_KIND_STRING)
		fields(&s->receipts, seq, rec, receipt_columns);
	jv_free(outbox);
}

void
stage_add(struct stage *s, long long seq, jv rec)
{
	jv type = jv_object_get(jv_copy(rec), jv_string("type"));
	const char *t = jv_string_value(type);

	if (strcmp(t, "message") == 0)
		fields(&s->messages, seq, rec, message_columns);
	else if (strcmp(t, "status") == 0)
		add_status(s, seq, rec);
	else if (strcmp(t, "consent") == 0)
		fields(&s->consents, seq, rec, consent_columns);
	else
		fields(&s->profiles, seq, rec, profile_columns);
	jv_free(type);
	s->rows++;
}

/* Clear the results left after the first one of a COPY. */
static void
drain(PGconn *conn)
{
	PGresult *res;

	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
}

/*
 * Send the COPY data of ROWS in pieces, because libpq grows its output
 * buffer to hold the largest piece and so would keep a second copy of
 * the largest staging table. Returns 1, or -1 after an error.
 */
static int
put_rows(PGconn *conn, const struct buf *rows)
{
	size_t sent, n;

	for (sent = 0; sent < rows->len; sent += n) {
		n = rows->len - sent < COPY_PIECE ? rows->len - sent :
		    COPY_PIECE;
		if (PQputCopyData(conn, rows->data + sent, (int)n) != 1)
			return -1;
	}
	return 1;
}

static PGresult *
copy_table(PGconn *conn, const char *table, const char *const *columns,
    struct buf *rows)
{
	struct buf sql = { 0 };
	PGresult *res;

	if (rows->len == 0)
		return NULL;
	buf_adds(&sql, "COPY pg_temp.");
	buf_adds(&sql, table);
	buf_adds(&sql, " (line");
	for (; *columns != NULL; columns++) {
		buf_adds(&sql, ", ");
		buf_adds(&sql, *columns);
	}
	buf_adds(&sql, ") FROM STDIN");
	res = PQexec(conn, sql.data);
	buf_free(&sql);
	if (PQresultStatus(res) != PGRES_COPY_IN)
		return res;
	PQclear(res);
	if (put_rows(conn, rows) != 1)
		PQputCopyEnd(conn, PQerrorMessage(conn));
	else
		PQputCopyEnd(conn, NULL);
	res = PQgetResult(conn);
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		res = NULL;
	}
	drain(conn);
	return res;
}

PGresult *
stage_copy(PGconn *conn, struct stage *s)
{
	PGresult *res;

	if ((res = copy_table(conn, "ingest_messages", message_columns,
	    &s->messages)) != NULL ||
	    (res = copy_table(conn, "ingest_statuses", status_columns,
	    &s->statuses)) != NULL ||
	    (res = copy_table(conn, "ingest_receipts", receipt_columns,
	    &s->receipts)) != NULL ||
	    (res = copy_table(conn, "ingest_consents", consent_columns,
	    &s->consents)) != NULL)
		return res;
	return copy_table(conn, "ingest_profiles", profile_columns,
	    &s->profiles);
}

int
stage_has_receipts(const struct stage *s)
{
	return s->receipts.len > 0;
}

void
stage_reset(struct stage *s)
{
	buf_reset(&s->messages);
	buf_reset(&s->statuses);
	buf_reset(&s->consents);
	buf_reset(&s->profiles);
	buf_reset(&s->receipts);
	s->rows = 0;
}

void
stage_free(struct stage *s)
{
	buf_free(&s->messages);
	buf_free(&s->statuses);
	buf_free(&s->consents);
	buf_free(&s->profiles);
	buf_free(&s->receipts);
}

/*
 * Return 1 when the schema has convo.ingest_clear (migration 033), which
 * a batch runs before its COMMIT to empty the work tables. Earlier
 * schemas empty them at each commit.
 */
static int
stage_clears(void)
{
	return migrate_latest() >= 33;
}

PGresult *
stage_send(PGconn *conn, long long account, struct stage *s,
    int store_replies)
{
	char sql[256];
	PGresult *res;
	int len;

	/*
	 * convo.ingest_prepare() runs in every transaction, not once per
	 * session, because behind a pooler in transaction mode each
	 * transaction may run on another server connection. It creates the
	 * staging tables where they are missing and empties them where they
	 * exist. For the same reason the settings are local. convo.client_schema makes
	 * convo.ingest_batch fail when the schema was migrated past this
	 * program's migrations after it started.
	 *
	 * convo.profiles is locked first, because convo-db maintain and
	 * archive lock it before the default partitions of consent_changes
	 * and messages. A batch that locked those first and then inserted
	 * profiles could deadlock with them.
	 */
	snprintf(sql, sizeof(sql), "BEGIN; "
	    "LOCK TABLE convo.profiles IN ROW EXCLUSIVE MODE; "
	    "SET LOCAL convo.client_schema = %d; %sSELECT "
	    "convo.ingest_prepare(), convo.outbox_receipts_prepare()",
	    migrate_latest(),
	    store_replies ? "" : "SET LOCAL convo.store_replies = off; ");
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto fail;
	PQclear(res);
	if ((res = stage_copy(conn, s)) != NULL)
		goto fail;
	/*
	 * One batch of the account at a time: each computes summaries,
	 * consent and statuses from what is committed, and two at once
	 * would overwrite each other's results. The statements go in one
	 * query string, so that the server runs them all while the client
	 * reads on. Such a string takes no parameters, so the account id,
	 * a number, is written into it.
	 */
	len = snprintf(sql, sizeof(sql), "SELECT convo.lock_account(%1$lld); "
	    "SELECT * FROM convo.ingest_batch(%1$lld); ", account);
	if (stage_has_receipts(s))
		len += snprintf(sql + len, sizeof(sql) - len,
		    "SELECT * FROM convo.outbox_receipts(%lld); ", account);
	snprintf(sql + len, sizeof(sql) - len, "%sCOMMIT",
	    stage_clears() ? "SELECT convo.ingest_clear(); " : "");
	if (PQsendQuery(conn, sql))
		return NULL;
	res = PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
fail:
	PQclear(PQexec(conn, "ROLLBACK"));
	return res;
}

PGresult *
stage_receive(PGconn *conn, int receipts, PGresult **rows,
    PGresult **receipt_rows)
{
	int steps = 3 + receipts + stage_clears(), step = 0, i;
	PGresult *res, *failed = NULL, *kept[5] = { NULL };

	/* lock_account, ingest_batch, outbox_receipts if sent, ingest_clear,
	 * COMMIT */
	while ((res = PQgetResult(conn)) != NULL) {
		if (failed == NULL && step < steps &&
		    PQresultStatus(res) == (step == steps - 1 ?
		    PGRES_COMMAND_OK : PGRES_TUPLES_OK))
			kept[step++] = res;
		else if (failed == NULL)
			failed = res;
		else
			PQclear(res);
	}
	if (failed == NULL && step < steps)
		failed = PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	PQclear(kept[0]);
	for (i = 2 + receipts; i < steps; i++)
		PQclear(kept[i]);
	*rows = kept[1];
	*receipt_rows = receipts ? kept[2] : NULL;
	if (failed == NULL)
		return NULL;
	PQclear(*rows);
	PQclear(*receipt_rows);
	*rows = *receipt_rows = NULL;
	PQclear(PQexec(conn, "ROLLBACK"));
	return failed;
}
