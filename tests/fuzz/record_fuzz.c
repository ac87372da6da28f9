/*
 * Fuzzes the NDJSON input path of convo-ingest: the input is read with
 * the line reader and each line parsed, normalised and matched against
 * keywords as ingest_line() does, without a database. The input is read
 * twice: as the programs read it, and with a small line limit and a
 * small first buffer taken from its size, so that over-long lines are
 * common and short inputs make the buffer move and grow.
 * Invariants: the lines returned, with their newlines, are the input.
 * A line is over-long exactly when it exceeds the limit, and its head is
 * its first bytes. A normal form has the fields that convo(5) promises,
 * with E.164 phone numbers and RFC 3339 times in UTC.
 */
#include <sys/mman.h>
#include <unistd.h>

#include <jv.h>
#include <sanitizer/lsan_interface.h>

#include "buf.h"
#include "convo.h"
#include "form.h"
#include "keyword.h"
#include "linereader.h"
#include "match.h"
#include "phone.h"
#include "record.h"
#include "timeutil.h"
#include "fuzz.h"

#define RECEIVED_AT "2026-11-20T15:00:00.000001Z"

static struct keyword_set keywords;

/* Load the keywords once, before the first input. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const opt_out[] = { "stop", "unsubscribe",
	    "cancel", "end", "quit", "stop all", "opt out" };
	size_t i;

	for (i = 0; i < sizeof(opt_out) / sizeof(opt_out[0]); i++)
		keyword_set_add(&keywords, opt_out[i], KEYWORD_OPT_OUT, 0);
	keyword_set_add(&keywords, "start", KEYWORD_OPT_IN, 0);
	keyword_set_add(&keywords, "yes", KEYWORD_OPT_IN, 1);
	keyword_set_add(&keywords, "help", KEYWORD_HELP, 0);
	(void)argc;
	(void)argv;
	return 0;
}

/*
 * Return string field NAME of REC (borrowed), or NULL. *HOLDER owns the
 * string, and the caller frees it in either case.
 */
static const char *
string_field(jv rec, const char *name, jv *holder)
{
	*holder = jv_object_get(jv_copy(rec), jv_string(name));
	if (jv_get_kind(*holder) != JV_KIND_STRING)
		return NULL;
	return jv_string_value(*holder);
}

/* Check that field NAME of REC is a phone number in E.164. */
static void
check_phone_field(jv rec, const char *name)
{
	char again[PHONE_MAX];
	const char *phone;
	jv holder;

	phone = string_field(rec, name, &holder);
	FUZZ_ASSERT(phone != NULL);
	FUZZ_ASSERT(phone[0] == '+');
	FUZZ_ASSERT(phone_normalize(phone, NULL, again, sizeof(again),
	    NULL) == 0);
	FUZZ_ASSERT(strcmp(again, phone) == 0);
	jv_free(holder);
}

/* Check that field NAME of REC is an RFC 3339 time in UTC. */
static void
check_time_field(jv rec, const char *name)
{
	char utc[TIME_MAX];
	const char *t;
	jv holder;

	t = string_field(rec, name, &holder);
	FUZZ_ASSERT(t != NULL);
	FUZZ_ASSERT(time_is_rfc3339(t));
	FUZZ_ASSERT(time_to_utc(t, utc) == 0);
	FUZZ_ASSERT(strcmp(utc, t) == 0);
	jv_free(holder);
}

static void
check_message(jv rec)
{
	const char *from, *to, *phone;
	jv h[3], media;

	check_phone_field(rec, "phone");
	check_time_field(rec, "sent_at");
	phone = string_field(rec, "phone", &h[0]);
	from = string_field(rec, "from_address", &h[1]);
	to = string_field(rec, "to_address", &h[2]);
	FUZZ_ASSERT(from != NULL && to != NULL);
	FUZZ_ASSERT(strcmp(from, phone) == 0 || strcmp(to, phone) == 0);
	jv_free(h[0]);
	jv_free(h[1]);
	jv_free(h[2]);
	FUZZ_ASSERT(string_field(rec, "body", &h[0]) != NULL);
	jv_free(h[0]);
	media = jv_object_get(jv_copy(rec), jv_string("media"));
	FUZZ_ASSERT(jv_get_kind(media) == JV_KIND_ARRAY);
	FUZZ_ASSERT(jv_array_length(media) <= MEDIA_MAX);
}

/* Check the normal form REC (borrowed) of any type. */
static void
check_normal(jv rec)
{
	const char *type;
	jv holder;

	FUZZ_ASSERT(jv_get_kind(rec) == JV_KIND_OBJECT);
	type = string_field(rec, "type", &holder);
	FUZZ_ASSERT(type != NULL);
	if (strcmp(type, "message") == 0) {
		check_message(rec);
	} else if (strcmp(type, "status") == 0) {
		check_time_field(rec, "at");
	} else if (strcmp(type, "consent") == 0) {
		check_phone_field(rec, "phone");
		check_time_field(rec, "at");
	} else {
		FUZZ_ASSERT(strcmp(type, "profile") == 0);
		check_phone_field(rec, "phone");
	}
	jv_free(holder);
}

/*
 * Check that the thread of the normal form REC (borrowed) is its
 * customer's phone. Status records name none, because their normal
 * form has no "phone", "from" or "to" field.
 */
static void
check_target(jv rec)
{
	jv type = jv_object_get(jv_copy(rec), jv_string("type"));
	jv target = record_target(rec), phone;

	if (strcmp(jv_string_value(type), "status") == 0) {
		FUZZ_ASSERT(!jv_is_valid(target));
	} else {
		phone = jv_object_get(jv_copy(rec), jv_string("phone"));
		FUZZ_ASSERT(jv_equal(jv_copy(target), phone));
	}
	jv_free(target);
	jv_free(type);
}

/*
 * Return 1 when a string follows another value in LINE of LEN bytes with
 * no ',' or ':' between them, as in ["a" "b"]. Such a line is invalid
 * JSON, and libjq 1.6 leaks the string when it rejects it.
 */
static int
string_after_value(const char *line, size_t len)
{
	size_t i;
	int in_string = 0, after_value = 0;

	for (i = 0; i < len; i++) {
		if (in_string) {
			if (line[i] == '\\')
				i++;
			else if (line[i] == '"')
				in_string = 0, after_value = 1;
		} else if (line[i] == '"') {
			if (after_value)
				return 1;
			in_string = 1;
		} else if (strchr(",:[{", line[i]) != NULL) {
			after_value = 0;
		} else if (strchr(" \t\r\n", line[i]) == NULL) {
			after_value = 1;
		}
	}
	return 0;
}

/*
 * Parse LINE of LEN bytes as JSON. A line that libjq 1.6 would leak
 * memory on is rejected before it gets there. Other leaks of libjq are
 * not known, but a parse that fails runs with leak checks off, and the
 * line is parsed again with them on only when it is valid.
 */
static jv
parse(const char *line, size_t len)
{
	jv rec;

	if (string_after_value(line, len))
		return jv_invalid();
	__lsan_disable();
	rec = jv_parse_sized(line, (int)len);
	__lsan_enable();
	if (!jv_is_valid(rec))
		return rec;
	jv_free(rec);
	return jv_parse_sized(line, (int)len);
}

/* Parse, normalise and match one line as ingest_line() does. */
static void
ingest(const char *line, size_t len)
{
	jv rec, target, input;

	if (memchr(line, '\0', len) != NULL)
		return;
	if (form_looks_like(line, len)) {
		rec = twilio_form_to_record(form_decode(line, len),
		    RECEIVED_AT);
	} else {
		if (!utf8_valid(line, len) || len > INT32_MAX)
			return;
		rec = parse(line, len);
		if (jv_is_valid(rec)) {
			target = record_target(rec);
			FUZZ_ASSERT(!jv_is_valid(target) ||
			    jv_get_kind(target) == JV_KIND_STRING);
			jv_free(target);
		}
	}
	if (!jv_is_valid(rec)) {
		jv_free(jv_invalid_get_msg(rec));
		return;
	}
	/* The input stays whole while it is normalised, even on error. */
	input = jv_copy(rec);
	rec = record_normalize(rec, "US");
	fuzz_check_alive(input);
	jv_free(input);
	if (!jv_is_valid(rec)) {
		jv_free(jv_invalid_get_msg(rec));
		return;
	}
	check_normal(rec);
	rec = record_match_keywords(rec, &keywords);
	FUZZ_ASSERT(jv_is_valid(rec));
	fuzz_check_alive(rec);
	check_target(rec);
	jv_free(rec);
}

/*
 * Read DATA of SIZE bytes from FD with lines of at most MAX bytes and a
 * first buffer of CAP bytes (0 for the default), and check each line
 * against the input. Lines are also normalised when NORMALISE is set.
 */
static void
read_lines(int fd, const uint8_t *data, size_t size, size_t max,
    size_t cap, int normalise)
{
	struct linereader r;
	const char *line;
	size_t len, pos = 0, head_len;
	long long lineno = 0;
	int rc, too_long;

	FUZZ_ASSERT(lseek(fd, 0, SEEK_SET) == 0);
	linereader_init(&r, fd, max);
	if (cap > 0) {
		r.cap = cap;
		r.buf = xrealloc(r.buf, cap);
	}
	while ((rc = linereader_next(&r, &line, &len, &too_long)) == 1) {
		FUZZ_ASSERT(r.lineno == ++lineno);
		FUZZ_ASSERT(pos + len <= size);
		FUZZ_ASSERT(too_long == (len > max));
		head_len = too_long && len > LINEREADER_HEAD ? LINEREADER_HEAD :
		    len;
		FUZZ_ASSERT(memcmp(line, data + pos, head_len) == 0);
		FUZZ_ASSERT(memchr(data + pos, '\n', len) == NULL);
		pos += len;
		if (pos < size) {
			FUZZ_ASSERT(data[pos] == '\n');
			pos++;
		}
		if (normalise && !too_long && len > 0)
			ingest(line, len);
	}
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(pos == size);
	linereader_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t done;
	ssize_t n;
	int fd;

	fd = memfd_create("record_fuzz", 0);
	FUZZ_ASSERT(fd >= 0);
	for (done = 0; done < size; done += (size_t)n) {
		n = write(fd, data + done, size - done);
		FUZZ_ASSERT(n > 0);
	}
	read_lines(fd, data, size, CONVO_LINE_MAX, 0, 1);
	read_lines(fd, data, size, size % 2048, 1 + size % 64, 0);
	close(fd);
	return 0;
}
