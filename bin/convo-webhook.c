/*
 * convo-webhook: a CGI program that records Twilio messaging webhooks,
 * inbound messages and status callbacks sent as forms or as JSON, after
 * checking their X-Twilio-Signature, and responds with TwiML.
 */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jv.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "cli.h"
#include "convo.h"
#include "db.h"
#include "form.h"
#include "ingest.h"
#include "json.h"
#include "secret.h"
#include "signature.h"
#include "timeutil.h"

/* Largest request body read, in bytes; Twilio's are a few kilobytes. */
#define BODY_MAX (64 * 1024)

/* Largest auth token, shared key or configuration file, in bytes. */
#define FILE_MAX SECRET_FILE_MAX

/* Most shared keys a key file may list, for rotating them. */
#define SHARED_KEYS_MAX 8

/* Seconds a request may take before it gets 503, unless configured. */
#define TIMEOUT_DEFAULT 10

/* Seconds a canceled query may take to end before the 503 goes out. */
#define CANCEL_WAIT 2

#define EMPTY_TWIML "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"

/* Fields of the request's log line. */
struct log_entry {
	const char *kind;	/* message or status */
	const char *result;	/* inserted, duplicate, ... */
	char sid[64];		/* MessageSid */
	const char *reply;	/* what happened to a keyword reply */
	char error[512];
};

/* The request, as the web server passed it. */
struct request {
	const char *content_type;
	const char *signature;	/* X-Twilio-Signature, or NULL */
	const char *settings;	/* X-Twilio-Webhooks-Signature-Settings */
	char *body;
	size_t len;
	struct buf url;		/* public URL with the request's query */
	char received[TIME_MAX];
};

/* Output records of the ingest: the result and a keyword reply. */
struct outcome {
	jv result;
	jv reply;
};

static struct log_entry entry;
static struct timespec started;
static volatile sig_atomic_t responded;

/* Seconds of CONVO_WEBHOOK_TIMEOUT, and whether they have passed. */
static int timeout_seconds = TIMEOUT_DEFAULT;
static volatile sig_atomic_t timed_out;

/* Cancels the queries of the connection, while one is open. */
static PGcancel *volatile query_cancel;

/* Set once the request is read and the database is being used. */
static volatile sig_atomic_t connecting;

/*
 * Write " NAME=S" to the log, S in double quotes when QUOTED. Control
 * characters become '?' so that S cannot fake a log line, and quotes
 * and backslashes in quoted text get a backslash.
 */
static void
log_text(const char *name, const char *s, int quoted)
{
	if (s == NULL || *s == '\0')
		return;
	fprintf(stderr, " %s=%s", name, quoted ? "\"" : "");
	for (; *s != '\0'; s++) {
		if (quoted && (*s == '"' || *s == '\\'))
			fputc('\\', stderr);
		fputc(iscntrl((unsigned char)*s) ? '?' : *s, stderr);
	}
	fprintf(stderr, "%s", quoted ? "\"" : "");
}

/* Write the request's log line to standard error, the server's log. */
static void
log_request(int status)
{
	struct timespec now;
	long ms;

	/* Under -q only failed requests are logged. */
	if (cli_verbosity <= CLI_QUIET && status < 400)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - started.tv_sec) * 1000 +
	    (now.tv_nsec - started.tv_nsec) / 1000000;
	fprintf(stderr, "%s: status=%d", getprogname(), status);
	log_text("kind", entry.kind, 0);
	log_text("result", entry.result, 0);
	log_text("sid", entry.sid, 0);
	log_text("reply", entry.reply, 0);
	log_text("error", entry.error, 1);
	fprintf(stderr, " ms=%ld\n", ms);
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

/* Send the CGI response and log the request. */
static void
respond(int status, const char *content_type, const char *header,
    const char *body)
{
	responded = 1;
	printf("Status: %d %s\r\nContent-Type: %s\r\n", status,
	    reason_phrase(status), content_type);
	if (header != NULL)
		printf("%s\r\n", header);
	printf("\r\n%s\n", body);
	fflush(stdout);
	log_request(status);
}

/*
 * Respond with STATUS and the message as plain text, log it and exit.
 * A server error shows the client only its reason phrase, because the
 * message may name files of the configuration.
 */
static void __attribute__((noreturn, format(printf, 3, 4)))
fail(int status, const char *header, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(entry.error, sizeof(entry.error), fmt, ap);
	va_end(ap);
	respond(status, "text/plain; charset=utf-8", header,
	    status >= 500 ? reason_phrase(status) : entry.error);
	exit(0);
}

/*
 * Respond to a request that ends in exit() before a response, as when the
 * database fails inside db_connect() or ingest_flush(): 503 when the
 * database is unavailable or busy, so that Twilio may retry, else 500.
 */
static void
respond_on_exit(int status, void *arg)
{
	(void)arg;
	if (responded)
		return;
	if (timed_out) {
		snprintf(entry.error, sizeof(entry.error), "no answer from "
		    "the database within CONVO_WEBHOOK_TIMEOUT=%d seconds; "
		    "the transaction was canceled", timeout_seconds);
		respond(503, "text/plain; charset=utf-8", NULL,
		    reason_phrase(503));
	} else if (status == EX_UNAVAILABLE || status == EX_TEMPFAIL) {
		snprintf(entry.error, sizeof(entry.error),
		    "database unavailable (exit status %d)", status);
		respond(503, "text/plain; charset=utf-8", NULL,
		    reason_phrase(503));
	} else {
		snprintf(entry.error, sizeof(entry.error),
		    "internal error (exit status %d)", status);
		respond(500, "text/plain; charset=utf-8", NULL,
		    reason_phrase(500));
	}
}

/* Write S to standard error, from a signal handler too. */
static void
write_log(const char *s)
{
	if (write(STDERR_FILENO, s, strlen(s)) < 0)
		_exit(EX_IOERR);
}

/*
 * Write the log line of a request that timed out, with only
 * async-signal-safe calls: the sid when known and the milliseconds.
 */
static void
log_timeout(void)
{
	struct timespec now;
	char digits[24];
	long ms;
	int n = sizeof(digits) - 1;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - started.tv_sec) * 1000 +
	    (now.tv_nsec - started.tv_nsec) / 1000000;
	digits[n] = '\0';
	do {
		digits[--n] = (char)('0' + ms % 10);
		ms /= 10;
	} while (ms > 0 && n > 0);
	write_log("convo-webhook: status=503");
	if (entry.sid[0] != '\0') {
		write_log(" sid=");
		write_log(entry.sid);
	}
	write_log(connecting ? " error=\"no answer from the database within "
	    "CONVO_WEBHOOK_TIMEOUT\" ms=" : " error=\"request not read within "
	    "CONVO_WEBHOOK_TIMEOUT\" ms=");
	write_log(digits + n);
	write_log("\n");
}

/*
 * Handle SIGALRM, which comes CONVO_WEBHOOK_TIMEOUT seconds after the
 * request started: cancel the query in flight, so that its transaction
 * rolls back and the request ends in 503. Without one, or when the
 * server has not ended it CANCEL_WAIT seconds later, respond 503 and exit
 * at once. The server checks that the client is still there, so it then
 * rolls back what it was doing.
 */
static void
on_timeout(int sig)
{
	static const char response[] = "Status: 503 Service Unavailable\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	    "Service Unavailable\n";
	char errbuf[256];

	(void)sig;
	if (responded)
		return;
	if (!timed_out && query_cancel != NULL) {
		timed_out = 1;
		alarm(CANCEL_WAIT);
		PQcancel(query_cancel, errbuf, sizeof(errbuf));
		return;
	}
	timed_out = 1;
	responded = 1;
	if (write(STDOUT_FILENO, response, sizeof(response) - 1) < 0)
		_exit(EX_IOERR);
	log_timeout();
	_exit(EX_TEMPFAIL);
}

/* Start the clock of CONVO_WEBHOOK_TIMEOUT, once it is read. */
static void
start_timeout(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_timeout;
	/* A second alarm must reach a handler stuck in PQcancel(). */
	sa.sa_flags = SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		err(EX_OSERR, "sigaction");
	alarm((unsigned)timeout_seconds);
}

/* Return S without leading and trailing white space, in place. */
static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Return 1 for a name the configuration file may set. */
static int
is_setting(const char *name)
{
	const char *p;

	if (strcmp(name, "TWILIO_AUTH_TOKEN") == 0)
		return 1;
	if (strncmp(name, "CONVO_", 6) != 0 && strncmp(name, "PG", 2) != 0)
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!isupper((unsigned char)*p) &&
		    !isdigit((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

/* Set one NAME=VALUE line of the configuration file, unless set. */
static void
apply_setting(const char *path, int lineno, char *line)
{
	char *eq = strchr(line, '='), *name, *value;
	size_t n;

	if (eq == NULL)
		fail(500, NULL, "%s: line %d: expected NAME=VALUE", path,
		    lineno);
	*eq = '\0';
	name = trim(line);
	/*
	 * Shell lines, such as those that convo-db env prints, start with
	 * export. NOTE: a value with a single quote, which convo-db env
	 * writes as '\'', keeps that escape.
	 */
	if (strncmp(name, "export", 6) == 0 &&
	    isspace((unsigned char)name[6]))
		name = trim(name + 6);
	value = trim(eq + 1);
	n = strlen(value);
	if (n >= 2 && (value[0] == '"' || value[0] == '\'') &&
	    value[n - 1] == value[0]) {
		value[n - 1] = '\0';
		value++;
	}
	if (!is_setting(name))
		fail(500, NULL, "%s: line %d: unknown setting \"%s\"", path,
		    lineno, name);
	/* The environment of the web server wins over the file. */
	if (setenv(name, value, 0) != 0)
		fail(500, NULL, "cannot set %s: %s", name, strerror(errno));
}

/*
 * Read the file named by CONVO_WEBHOOK_CONFIG: NAME=VALUE lines, '#'
 * comments and blank lines. It may hold the auth token, so the buffer
 * is wiped after use.
 */
static void
load_config(void)
{
	const char *path = getenv("CONVO_WEBHOOK_CONFIG");
	char text[FILE_MAX], msg[512], *line, *next;
	int lineno = 0;

	if (path == NULL || *path == '\0')
		return;
	if (secret_file_read(path, text, sizeof(text), msg, sizeof(msg)) < 0)
		fail(500, NULL, "configuration: %s", msg);
	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		line = trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		apply_setting(path, lineno, line);
	}
	OPENSSL_cleanse(text, sizeof(text));
}

/* Check the settings that every request needs, before reading it. */
static void
check_config(void)
{
	const char *url = getenv("CONVO_WEBHOOK_URL");
	const char *reply = getenv("CONVO_WEBHOOK_REPLY");
	const char *timeout = getenv("CONVO_WEBHOOK_TIMEOUT"), *errstr;

	if (url == NULL || (strncasecmp(url, "https://", 8) != 0 &&
	    strncasecmp(url, "http://", 7) != 0))
		fail(500, NULL, "CONVO_WEBHOOK_URL must be the public "
		    "http or https URL that Twilio posts to");
	if (reply != NULL && *reply != '\0' && strcmp(reply, "none") != 0 &&
	    strcmp(reply, "twiml") != 0)
		fail(500, NULL, "CONVO_WEBHOOK_REPLY \"%s\" is invalid: "
		    "expected none or twiml", reply);
	if (timeout != NULL && *timeout != '\0') {
		timeout_seconds = (int)cli_number(timeout, 1, 600, &errstr);
		if (errstr != NULL)
			fail(500, NULL, "CONVO_WEBHOOK_TIMEOUT \"%.32s\" is "
			    "invalid: expected whole seconds from 1 to 600",
			    timeout);
	}
	/* A CGI program must not start a server that outlives it. */
	if (db_uses_local(NULL))
		fail(500, NULL, "no database configured: set CONVO_DB or "
		    "the PG variables (see convo-db env)");
}

/* Read CONTENT_LENGTH bytes of body from standard input. */
static void
read_body(struct request *rq)
{
	const char *length = getenv("CONTENT_LENGTH");
	const char *errstr = NULL;
	long long want = BODY_MAX + 1;
	ssize_t n;

	if (length != NULL && *length != '\0') {
		want = strtonum(length, 0, LLONG_MAX, &errstr);
		if (errstr != NULL && strcmp(errstr, "too large") == 0)
			fail(413, NULL, "request body of %.32s bytes is over "
			    "the limit of %d bytes", length, BODY_MAX);
		if (errstr != NULL)
			fail(400, NULL, "CONTENT_LENGTH \"%.32s\" is %s",
			    length, errstr);
		if (want > BODY_MAX)
			fail(413, NULL, "request body of %lld bytes is over "
			    "the limit of %d bytes", want, BODY_MAX);
	}
	rq->body = xmalloc(BODY_MAX + 2);
	while ((long long)rq->len < want) {
		n = read(STDIN_FILENO, rq->body + rq->len, want - rq->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rq->len += n;
	}
	rq->body[rq->len] = '\0';
	if (rq->len > BODY_MAX)
		fail(413, NULL, "request body is over the limit of %d bytes",
		    BODY_MAX);
	if (length != NULL && *length != '\0' && (long long)rq->len < want)
		fail(400, NULL, "request body ended after %zu of %lld bytes",
		    rq->len, want);
}

/*
 * Return the query of the request as the client sent it, or NULL. It
 * comes from REQUEST_URI where the server sets it, because a server may
 * rewrite the escapes of QUERY_STRING (lighttpd changes %7e to ~), and
 * Twilio signed the query as it sent it.
 */
static const char *
request_query(void)
{
	static struct buf query;
	const char *uri = getenv("REQUEST_URI"), *q;

	if (uri == NULL || (q = strchr(uri, '?')) == NULL)
		return getenv("QUERY_STRING");
	if (query.data == NULL)
		buf_add(&query, q + 1, strcspn(q + 1, "#"));
	return query.data;
}

/*
 * Build the URL that Twilio signed: the configured public URL, never
 * the Host header, with the query of this request, which carries
 * bodySHA256 for JSON webhooks.
 */
static void
build_url(struct request *rq)
{
	const char *url = getenv("CONVO_WEBHOOK_URL");
	const char *query = request_query();

	buf_add(&rq->url, url, strcspn(url, "?#"));
	if (query != NULL && *query != '\0') {
		buf_addc(&rq->url, '?');
		buf_adds(&rq->url, query);
	}
}

/* Secret keys read for one request, wiped when done. */
struct secrets {
	char text[FILE_MAX];
	struct signature_key keys[SHARED_KEYS_MAX];
	int count;
};

/* Load the auth token from its file or TWILIO_AUTH_TOKEN. */
static void
load_auth_token(struct secrets *s)
{
	const char *path = getenv("CONVO_TWILIO_AUTH_TOKEN_FILE");
	const char *env = getenv("TWILIO_AUTH_TOKEN");
	char msg[512], *token;

	if (path != NULL && *path != '\0') {
		if (secret_file_read(path, s->text, sizeof(s->text), msg,
		    sizeof(msg)) < 0)
			fail(500, NULL, "auth token file: %s", msg);
	} else if (env != NULL && strlen(env) < sizeof(s->text)) {
		strcpy(s->text, env);
	}
	token = trim(s->text);
	if (*token == '\0')
		fail(500, NULL, "no auth token: set "
		    "CONVO_TWILIO_AUTH_TOKEN_FILE or TWILIO_AUTH_TOKEN");
	s->keys[0].data = token;
	s->keys[0].len = strlen(token);
	s->count = 1;
}

/*
 * Load the shared key from CONVO_TWILIO_SHARED_KEY, one secret for any
 * key id, as the auth token is loaded from TWILIO_AUTH_TOKEN.
 */
static void
load_shared_key_env(struct secrets *s)
{
	const char *env = getenv("CONVO_TWILIO_SHARED_KEY");
	char *secret;

	/* The header comes from the client, so this is no server error. */
	if (env == NULL)
		fail(403, NULL, "request is signed with a shared key, but "
		    "no shared key is configured");
	if (strlen(env) >= sizeof(s->text))
		fail(500, NULL, "CONVO_TWILIO_SHARED_KEY is longer than %zu "
		    "bytes", sizeof(s->text) - 1);
	strcpy(s->text, env);
	secret = trim(s->text);
	if (*secret == '\0')
		fail(500, NULL, "CONVO_TWILIO_SHARED_KEY is empty");
	s->keys[0].data = secret;
	s->keys[0].len = strlen(secret);
	s->count = 1;
}

/*
 * Load the shared keys for KEY_ID from CONVO_TWILIO_SHARED_KEY_FILE:
 * one key a line, as SECRET for any key id or as "KEY_ID SECRET".
 * Without that file, the key is CONVO_TWILIO_SHARED_KEY.
 */
static void
load_shared_keys(struct secrets *s, const char *key_id)
{
	const char *path = getenv("CONVO_TWILIO_SHARED_KEY_FILE");
	char msg[512], *line, *next, *secret;

	if (path == NULL || *path == '\0') {
		load_shared_key_env(s);
		return;
	}
	if (secret_file_read(path, s->text, sizeof(s->text), msg,
	    sizeof(msg)) < 0)
		fail(500, NULL, "shared key file: %s", msg);
	for (line = s->text; line != NULL && s->count < SHARED_KEYS_MAX;
	    line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		secret = line + strcspn(line, " \t");
		if (*secret != '\0') {
			*secret++ = '\0';
			secret = trim(secret);
			if (strcmp(line, key_id) != 0)
				continue;
		} else {
			secret = line;
		}
		s->keys[s->count].data = secret;
		s->keys[s->count++].len = strlen(secret);
	}
	if (s->count == 0)
		fail(403, NULL, "no shared key for key id \"%.64s\"", key_id);
}

/*
 * Return 1 when the media type of CONTENT_TYPE, without its parameters
 * such as charset, is TYPE, or when it is missing or empty and EMPTY is 1.
 */
static int
has_media_type(const char *content_type, const char *type, int empty)
{
	size_t n;

	if (content_type == NULL)
		return empty;
	content_type += strspn(content_type, " \t");
	n = strcspn(content_type, "; \t");
	if (n == 0)
		return empty;
	return n == strlen(type) && strncasecmp(content_type, type, n) == 0;
}

/* Return 1 when the body is a form, as most Twilio webhooks are. */
static int
is_form(const char *content_type)
{
	return has_media_type(content_type,
	    "application/x-www-form-urlencoded", 1);
}

static int
is_json(const char *content_type)
{
	return has_media_type(content_type, "application/json", 0);
}

/*
 * Return why the bodySHA256 parameter of the URL does not match the
 * body, or why a JSON body has none, because only that parameter ties
 * such a body to the signed URL; NULL when it matches. The URL and the
 * body are public, so the reason in the response reveals nothing secret.
 */
static const char *
body_hash_problem(const struct request *rq)
{
	char hash[SIGNATURE_BODY_HASH_MAX];

	if (is_json(rq->content_type) && !signature_url_param(rq->url.data,
	    "bodySHA256", hash, sizeof(hash)))
		return "JSON body without a bodySHA256 parameter in the URL";
	if (!signature_body_matches(rq->url.data, rq->body, rq->len))
		return "bodySHA256 in the URL does not match the SHA-256 of "
		    "the body";
	return NULL;
}

/* Reject the request with 403 unless it has a valid signature. */
static void
check_signature(struct request *rq)
{
	enum signature_algorithm alg = SIGNATURE_HMAC_SHA1;
	char key_id[SIGNATURE_KEY_ID_MAX];
	const char *problem;
	struct secrets s;
	int i, valid = 0;

	memset(&s, 0, sizeof(s));
	if (rq->settings != NULL && *rq->settings != '\0') {
		if (signature_settings_parse(rq->settings, &alg, key_id) != 0)
			fail(403, NULL, "unsupported signature settings");
		load_shared_keys(&s, key_id);
	} else {
		load_auth_token(&s);
	}
	/* Keys are loaded first, so that a missing one is reported. */
	problem = rq->signature == NULL || *rq->signature == '\0' ?
	    "missing X-Twilio-Signature" : body_hash_problem(rq);
	if (problem != NULL) {
		OPENSSL_cleanse(&s, sizeof(s));
		fail(403, NULL, "%s", problem);
	}
	for (i = 0; i < s.count; i++)
		valid |= signature_verify(alg, &s.keys[i], rq->url.data,
		    rq->body, rq->len, rq->signature);
	OPENSSL_cleanse(&s, sizeof(s));
	if (!valid)
		fail(403, NULL, "invalid signature");
}

/* Keep the MessageSid of FORM for the log, letters and digits only. */
static void
note_sid(jv form)
{
	static const char *const names[] = {
		"MessageSid", "SmsMessageSid", "SmsSid",
	};
	jv sid = jv_invalid();
	const char *s;
	size_t i, n = 0;

	/* The names that twilio_form_to_record() reads, in its order. */
	for (i = 0; i < 3 && jv_get_kind(sid) != JV_KIND_STRING; i++) {
		jv_free(sid);
		sid = jv_object_get(jv_copy(form), jv_string(names[i]));
	}

	if (jv_get_kind(sid) == JV_KIND_STRING)
		for (s = jv_string_value(sid); *s != '\0' &&
		    n < sizeof(entry.sid) - 1; s++)
			if (isalnum((unsigned char)*s))
				entry.sid[n++] = *s;
	entry.sid[n] = '\0';
	jv_free(sid);
}

/*
 * Return a copy of the message of the invalid jv V (consumed), or
 * FALLBACK. The copy lives until the program exits.
 */
static const char *
invalid_message(jv v, const char *fallback)
{
	jv msg = jv_invalid_get_msg(v);
	const char *s = fallback;

	if (jv_get_kind(msg) == JV_KIND_STRING)
		s = xstrdup(jv_string_value(msg));
	jv_free(msg);
	return s;
}

/*
 * Parse the JSON body into the parameters that a form of the same
 * webhook has. Invalid JSON gets 400, and JSON that is not an object of
 * parameters gets 422.
 */
static jv
json_params(const struct request *rq)
{
	jv json, params;
	const char *reason;

	if (!utf8_valid(rq->body, rq->len))
		fail(400, NULL, "invalid UTF-8 in the JSON body");
	json = jv_parse_sized(rq->body, (int)rq->len);
	if (!jv_is_valid(json)) {
		reason = invalid_message(json, "parse error");
		fail(400, NULL, "invalid JSON body: %.*s",
		    json_parse_error_length(reason), reason);
	}
	params = form_from_json(json);
	if (!jv_is_valid(params))
		fail(422, NULL, "JSON body is not a Twilio webhook: %s",
		    invalid_message(params, "unknown shape"));
	return params;
}

/*
 * Add to the status record REC (consumed) the outbox row that the
 * request's query names, as convo-send puts it in the StatusCallback
 * URL. The query is part of the signed URL, so Twilio sent it as is.
 */
static jv
add_outbox(jv rec)
{
	const char *query = request_query();
	jv type, params, outbox;

	if (query == NULL || *query == '\0')
		return rec;
	type = jv_object_get(jv_copy(rec), jv_string("type"));
	if (strcmp(jv_string_value(type), "status") != 0) {
		jv_free(type);
		return rec;
	}
	jv_free(type);
	params = form_decode(query, strlen(query));
	if (!jv_is_valid(params))
		fail(400, NULL, "invalid query of the request URL: %s",
		    invalid_message(params, "malformed"));
	outbox = jv_object_get(params, jv_string(CONVO_OUTBOX_PARAM));
	if (jv_get_kind(outbox) == JV_KIND_STRING)
		rec = jv_object_set(rec, jv_string("outbox_id"), outbox);
	else
		jv_free(outbox);
	return rec;
}

/*
 * Turn the body into a convo record as NDJSON. A form that is not a
 * message or status callback gets 400, and such a JSON body 422.
 */
static jv
body_record(const struct request *rq)
{
	int json = is_json(rq->content_type);
	jv params, rec;

	if (!json && !is_form(rq->content_type))
		fail(415, NULL, "content type \"%.64s\" is neither "
		    "application/x-www-form-urlencoded nor application/json",
		    rq->content_type);
	params = json ? json_params(rq) : form_decode(rq->body, rq->len);
	if (jv_is_valid(params))
		note_sid(params);
	rec = twilio_form_to_record(params, rq->received);
	if (!jv_is_valid(rec) && json)
		fail(422, NULL, "JSON body is not a Twilio message or status "
		    "callback: %s", invalid_message(rec, "unknown shape"));
	if (!jv_is_valid(rec))
		fail(400, NULL, "%s",
		    invalid_message(rec, "invalid webhook body"));
	return jv_dump_string(add_outbox(rec), 0);
}

/* The emit callback of the ingest: keeps its output records. */
static void
keep_record(void *arg, jv record)
{
	struct outcome *o = arg;
	jv type = jv_object_get(jv_copy(record), jv_string("type"));
	const char *t = jv_get_kind(type) == JV_KIND_STRING ?
	    jv_string_value(type) : "";

	if (strcmp(t, "ingest_result") == 0 && !jv_is_valid(o->result)) {
		o->result = record;
	} else if (strcmp(t, "send") == 0 && !jv_is_valid(o->reply)) {
		o->reply = record;
	} else {
		jv_free(record);
	}
	jv_free(type);
}

/* Return 1 when keyword replies go back to Twilio as TwiML. */
static int
twiml_replies(void)
{
	const char *mode = getenv("CONVO_WEBHOOK_REPLY");

	return mode != NULL && strcmp(mode, "twiml") == 0;
}

/*
 * Make the server check every second that this client is still there
 * while a statement runs, so that it rolls back once a 503 went out while
 * the server was stalled. The setting is harmless to other clients of a
 * pooled server connection.
 * NOTE: behind a pooler the server is connected to the pooler, which
 * stays, so there it cannot tell that the client is gone.
 */
static void
check_client(PGconn *conn)
{
	PGresult *res;

	res = PQexec(conn, "SELECT set_config("
	    "'client_connection_check_interval', '1000', false)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		exit(db_report(conn, res, "cannot set the client check"));
	PQclear(res);
}

/* Record LINE, one NDJSON record, and collect its result into O. */
static void
ingest_record(jv line, struct outcome *o)
{
	struct ingest in = {
		.batch_size = 1,
		.quiet = 1,
		.format = FORMAT_NDJSON,
		.emit = keep_record,
		.emit_arg = o,
	};
	sigset_t alarm_set, old_set;
	PGcancel *cancel;

	/* The log line has the error, so ingest prints none of its own. */
	in.errors_shown = 1000000;
	/*
	 * Twilio sends an opt-out, opt-in or help reply in the response, so
	 * none is stored. A custom keyword's reply is stored all the same.
	 */
	in.replies_by_caller = twiml_replies();
	connecting = 1;
	in.conn = db_connect(NULL);
	query_cancel = PQgetCancel(in.conn);
	check_client(in.conn);
	ingest_open(&in, convo_account(NULL));
	ingest_line(&in, NULL, 1, jv_string_value(line),
	    (size_t)jv_string_length_bytes(jv_copy(line)), 0);
	ingest_flush(&in);
	/* The alarm must not find the cancel object freed. */
	sigemptyset(&alarm_set);
	sigaddset(&alarm_set, SIGALRM);
	sigprocmask(SIG_BLOCK, &alarm_set, &old_set);
	cancel = query_cancel;
	query_cancel = NULL;
	sigprocmask(SIG_SETMASK, &old_set, NULL);
	PQfreeCancel(cancel);
	PQfinish(in.conn);
	ingest_close(&in);
}

/*
 * Return a copy of the string field NAME of RECORD, or NULL. The log
 * entry keeps such copies until the program exits.
 */
static const char *
field(jv record, const char *name)
{
	jv v = jv_object_get(jv_copy(record), jv_string(name));
	const char *s = NULL;

	if (jv_get_kind(v) == JV_KIND_STRING)
		s = xstrdup(jv_string_value(v));
	jv_free(v);
	return s;
}

/* Append TEXT to B escaped for XML character data. */
static void
add_xml_text(struct buf *b, const char *text)
{
	for (; *text != '\0'; text++) {
		switch (*text) {
		case '&': buf_adds(b, "&amp;"); break;
		case '<': buf_adds(b, "&lt;"); break;
		case '>': buf_adds(b, "&gt;"); break;
		case '"': buf_adds(b, "&quot;"); break;
		case '\'': buf_adds(b, "&apos;"); break;
		default:
			/* XML 1.0 allows no other C0 control characters. */
			if ((unsigned char)*text >= 0x20 || *text == '\t' ||
			    *text == '\n' || *text == '\r')
				buf_addc(b, *text);
		}
	}
}

/*
 * Return 1 when REPLY is the reply to an opt-out, opt-in or help keyword,
 * which carrier rules require whatever the consent. The reply to a
 * custom keyword needs consent, so it waits in the outbox for convo-send
 * --queued, which checks it.
 */
static int
required_reply(jv reply)
{
	jv action = jv_object_get(jv_copy(reply), jv_string("action"));
	const char *name = jv_get_kind(action) == JV_KIND_STRING ?
	    jv_string_value(action) : "";
	int required = strcmp(name, "opt_out") == 0 ||
	    strcmp(name, "opt_in") == 0 || strcmp(name, "help") == 0;

	jv_free(action);
	return required;
}

/* Respond 200 with the keyword reply REPLY as TwiML, or with no message. */
static void
respond_recorded(jv reply)
{
	jv body = jv_is_valid(reply) ?
	    jv_object_get(jv_copy(reply), jv_string("body")) : jv_null();
	struct buf twiml = { 0 };

	if (jv_get_kind(body) != JV_KIND_STRING) {
		respond(200, "text/xml", NULL, EMPTY_TWIML);
	} else if (!twiml_replies() || !required_reply(reply)) {
		entry.reply = "not-sent";
		respond(200, "text/xml", NULL, EMPTY_TWIML);
	} else {
		entry.reply = "twiml";
		buf_adds(&twiml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		    "<Response><Message>");
		add_xml_text(&twiml, jv_string_value(body));
		buf_adds(&twiml, "</Message></Response>");
		respond(200, "text/xml", NULL, twiml.data);
		buf_free(&twiml);
	}
	jv_free(body);
}

/*
 * Return "message" or "status" for LINE, the record as JSON text (borrowed),
 * or NULL. The log entry keeps the name until the program exits.
 */
static const char *
record_kind(jv line)
{
	jv rec = jv_parse(jv_string_value(line));
	const char *kind = field(rec, "type");

	jv_free(rec);
	return kind;
}

/* Record the request and respond with its outcome. */
static void
record_request(const struct request *rq)
{
	struct outcome o = { jv_invalid(), jv_invalid() };
	jv line = body_record(rq);
	const char *error;

	ingest_record(line, &o);
	cli_phase("record");
	if (!jv_is_valid(o.result))
		fail(500, NULL, "the database returned no result");
	entry.kind = field(o.result, "kind");
	/* A rejected record has no kind, so its type names it. */
	if (entry.kind == NULL)
		entry.kind = record_kind(line);
	entry.result = field(o.result, "result");
	if (entry.result != NULL && strcmp(entry.result, "rejected") == 0) {
		error = field(o.result, "error");
		fail(400, NULL, "%s", error != NULL ? error : "rejected");
	}
	respond_recorded(o.reply);
	jv_free(line);
	jv_free(o.result);
	jv_free(o.reply);
}

static void
usage(void)
{
	fprintf(stderr, "usage: convo-webhook [-qv]\n"
	    "       convo-webhook -h | -V\n");
	exit(EX_USAGE);
}

static void
help(void)
{
	printf("usage: convo-webhook [-qv]\n"
	    "       convo-webhook -h | -V\n"
	    "A CGI program that records Twilio messaging webhooks, as "
	    "forms or JSON, after\n"
	    "checking their X-Twilio-Signature. A web server runs it for "
	    "each POST; its\n"
	    "settings come from the environment or the file named by "
	    "CONVO_WEBHOOK_CONFIG.\n\n"
	    "  -q, --quiet    log only the requests that failed\n"
	    "  -v, --verbose  also log the time each step takes\n"
	    "  -h, --help     show this help\n"
	    "  -V, --version  show the versions of convo and its libraries\n\n"
	    "Options apply when run from a shell; under a web server "
	    "arguments are\n"
	    "ignored. Request bodies are limited to %d bytes. See "
	    "convo-webhook(1).\n", BODY_MAX);
	exit(0);
}

/*
 * Parse the options of a run from a shell. A web server may pass words
 * of a query as arguments, so they are ignored under CGI.
 */
static void
shell_options(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		CLI_COMPLETE_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	static const struct cli_program prog = { "hqvV", options, NULL };
	int c;

	while ((c = getopt_long(argc, argv, prog.shortopts, options, NULL))
	    != -1) {
		switch (c) {
		case CLI_OPT_COMPLETE:
			cli_complete(&prog, optarg, argc - optind, argv + optind);
		case 'h': help(); break;
		case 'q': cli_verbosity = CLI_QUIET; break;
		case 'v': cli_verbosity = CLI_VERBOSE; break;
		case 'V': db_print_version(); break;
		default: usage();
		}
	}
	cli_reject_operands(optind, argc, argv, usage);
}

int
main(int argc, char **argv)
{
	struct request rq;
	const char *method;

	if (getenv("GATEWAY_INTERFACE") == NULL)
		shell_options(argc, argv);
	clock_gettime(CLOCK_MONOTONIC, &started);
	memset(&rq, 0, sizeof(rq));
	/* Twilio sends no time, so the record's time is the request's. */
	time_now_increasing(rq.received);
	signal(SIGPIPE, SIG_IGN);
	if (on_exit(respond_on_exit, NULL) != 0)
		err(EX_OSERR, "on_exit");
	method = getenv("REQUEST_METHOD");
	if (method == NULL || strcmp(method, "POST") != 0)
		fail(405, "Allow: POST", "method %.16s is not allowed: Twilio "
		    "webhooks are POST requests", method ? method : "(none)");
	load_config();
	check_config();
	start_timeout();
	cli_phase("configuration");
	read_body(&rq);
	rq.content_type = getenv("CONTENT_TYPE");
	rq.signature = getenv("HTTP_X_TWILIO_SIGNATURE");
	rq.settings = getenv("HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS");
	build_url(&rq);
	check_signature(&rq);
	cli_phase("signature");
	record_request(&rq);
	free(rq.body);
	buf_free(&rq.url);
	return 0;
}
