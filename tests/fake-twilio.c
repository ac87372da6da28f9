/*
 * fake-twilio: a local stand-in for the Twilio Messages API (2010-04-01)
 * for the tests of the programs that send messages. It serves HTTP/1.1
 * on 127.0.0.1 only and checks Basic auth and the form fields that Twilio
 * checks. A script file can make it fail requests, and it logs each
 * request as one NDJSON line. Plain libc, no HTTP library.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define HEADER_MAX	16384	/* request line and header fields, bytes */
#define BODY_MAX	65536	/* request body, bytes */
#define TARGET_MAX	4096	/* request target, bytes */
#define METHOD_MAX	16
#define AUTH_MAX	1024	/* Authorization field value, bytes */
#define FIELD_MAX	256	/* form parameters in one body */
#define CONN_MAX	64	/* connections served at once */
#define RULE_MAX	256	/* script lines */
#define SCRIPT_LINE_MAX	1024
#define DELAY_MAX	300	/* seconds, for slow and retry-after */
#define BODY_CHARS_MAX	1600	/* Twilio error 21617 above this */
#define LIFETIME_MS	(10 * 60 * 1000)
#define IDLE_MS		(30 * 1000)	/* close idle connections */
#define LINGER_MS	2000	/* drain input after a closing response */

#define STRINGIFY(x)	#x
#define STR(x)		STRINGIFY(x)

#define DEFAULT_SID	"AC00000000000000000000000000000000"
#define DEFAULT_TOKEN	"test-token"
#define ERRORS_URL	"https://www.twilio.com/docs/errors/"
#define MESSAGES_PREFIX	"/2010-04-01/Accounts/"
#define MESSAGES_SUFFIX	"/Messages.json"

struct sbuf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

enum action {
	ACTION_OK,
	ACTION_DROP,
	ACTION_SLOW,
	ACTION_STATUS,
	ACTION_ERROR,
	ACTION_NO_SID
};

/* A parsed script line. */
struct rule {
	enum action	 action;
	int		 always;	/* not consumed when taken */
	int		 used;
	char		*to;		/* NULL matches every recipient */
	int		 status;
	int		 code;
	int		 seconds;	/* slow delay or Retry-After, -1 none */
	char		*message;
};

struct request {
	int	 line_ok;	/* the request line parsed */
	char	 method[METHOD_MAX + 1];
	char	 target[TARGET_MAX + 1];
	int	 minor;		/* HTTP/1.minor */
	size_t	 body_len;
	int	 has_length;
	int	 too_large;
	int	 chunked;
	int	 close;
	int	 keep_alive;
	int	 expect_continue;
	char	 auth[AUTH_MAX + 1];
};

struct field {
	char	*key;
	char	*value;
};

struct form {
	char		*buf;
	struct field	 fields[FIELD_MAX];
	int		 n;
	const char	*error;		/* why the body is not a valid form */
};

struct reply {
	int		 status;
	struct sbuf	 body;
	int		 retry_after;	/* seconds, -1 for no header */
	int		 delay;		/* seconds before the answer */
	int		 drop;		/* close without answering */
	int		 close;
	const char	*header;	/* one more header line, or NULL */
	char		 sid[40];	/* the created message, or "" */
};

enum state {
	STATE_READ,
	STATE_WRITE,
	STATE_WAIT,	/* a slow answer is due later */
	STATE_LINGER,	/* output shut down, draining input */
	STATE_DEAD
};

struct conn {
	int		 fd;
	enum state	 state;
	char		 in[HEADER_MAX + BODY_MAX];
	size_t		 inlen;
	struct sbuf	 out;
	size_t		 outoff;
	int		 interim;	/* out holds 100 Continue */
	int		 continued;	/* 100 Continue sent for this request */
	int		 close_after;
	long long	 due;		/* WAIT: start writing, LINGER: close */
	long long	 idle;		/* READ: close when idle past this */
};

static const char *account_sid = DEFAULT_SID;
static const char *auth_token = DEFAULT_TOKEN;
static struct rule rules[RULE_MAX];
static int nrules;
static const char *script_path;
static int script_lineno;
static int log_fd = -1;
static const char *log_path;
static unsigned long long messages_created;
static int unordered_sids;
static int counted_sids;
/* The start time in microseconds, which SIDs begin with, or 0. */
static unsigned long long sid_stamp;
static unsigned long long requests_logged;
static struct conn *conns[CONN_MAX];
static volatile sig_atomic_t stop_signal;

static void usage(void) __attribute__((noreturn));
static void help(void) __attribute__((noreturn));
static void script_error(const char *, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static void sb_printf(struct sbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
usage(void)
{
	fprintf(stderr, "usage: fake-twilio --port-file FILE --log FILE "
	    "[--script FILE]\n"
	    "                   [--account-sid SID] [--auth-token TOKEN]\n"
	    "                   [--unordered-sids | --counted-sids]\n");
	exit(EX_USAGE);
}

static void
help(void)
{
	printf("usage: fake-twilio [options]\n"
	    "Serve a fake Twilio Messages API on 127.0.0.1 until SIGTERM, "
	    "SIGINT\nor 10 minutes have passed.\n\n"
	    "  --port-file FILE     write the listening port to FILE\n"
	    "  --log FILE           append one NDJSON line per request\n"
	    "  --script FILE        rules for the replies, one a line\n"
	    "  --account-sid SID    expected Basic auth user, default\n"
	    "                       " DEFAULT_SID "\n"
	    "  --auth-token TOKEN   expected Basic auth password (default "
	    DEFAULT_TOKEN ")\n"
	    "  --unordered-sids     give message SIDs that do not sort in the "
	    "order\n"
	    "                       messages were created, as Twilio's do\n"
	    "  --counted-sids       give SM and 32 hex digits of the count of "
	    "messages;\n"
	    "                       by default the start time comes first, "
	    "so that\n"
	    "                       a fake started again gives new SIDs\n"
	    "  --help               show this help\n\n"
	    "Script lines: [always] [to=ADDRESS] ACTION, where ACTION is one "
	    "of\n"
	    "  ok | drop | no-sid | slow SECONDS | status HTTP [retry-after "
	    "SECONDS]\n"
	    "  | error HTTP CODE MESSAGE\n"
	    "A valid message request takes the first unused rule that "
	    "matches its To.\n"
	    "Rules without \"always\" are used once. Lines starting with # "
	    "are comments.\n");
	exit(0);
}

/* Growable string buffer. Running out of memory ends the program. */

static void
sb_add(struct sbuf *sb, const char *s, size_t n)
{
	size_t cap;

	if (n == 0)
		return;
	if (n > SIZE_MAX / 4 - sb->len)
		errx(EX_SOFTWARE, "buffer size overflow");
	if (sb->len + n + 1 > sb->cap) {
		cap = sb->cap ? sb->cap : 256;
		while (cap < sb->len + n + 1)
			cap *= 2;
		if ((sb->data = realloc(sb->data, cap)) == NULL)
			err(EX_OSERR, "realloc");
		sb->cap = cap;
	}
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

static void
sb_str(struct sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

static void
sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		errx(EX_SOFTWARE, "formatted text longer than %zu bytes",
		    sizeof(tmp) - 1);
	sb_add(sb, tmp, n);
}

static void
sb_free(struct sbuf *sb)
{
	free(sb->data);
	memset(sb, 0, sizeof(*sb));
}

/*
 * Decode the UTF-8 sequence at s (n > 0 bytes left) into *cp and return
 * its length, or 0 if it is truncated, overlong, a surrogate or above
 * U+10FFFF.
 */
static size_t
utf8_next(const unsigned char *s, size_t n, unsigned long *cp)
{
	unsigned long c, min;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Return the number of code points in s, or -1 if s is not UTF-8. */
static long
utf8_count(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i, len;
	unsigned long cp;
	long count = 0;

	for (i = 0; i < n; i += len) {
		if ((len = utf8_next(p + i, n - i, &cp)) == 0)
			return -1;
		count++;
	}
	return count;
}

/* Append s as a JSON string, with U+FFFD for each invalid UTF-8 byte. */
static void
json_str(struct sbuf *sb, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	size_t i, len;

	sb_add(sb, "\"", 1);
	for (i = 0; i < n; i += len) {
		len = utf8_next(p + i, n - i, &cp);
		if (len == 0) {
			sb_str(sb, "\\ufffd");
			len = 1;
		} else if (cp == '"' || cp == '\\') {
			sb_add(sb, "\\", 1);
			sb_add(sb, s + i, 1);
		} else if (cp == '\n')
			sb_str(sb, "\\n");
		else if (cp == '\r')
			sb_str(sb, "\\r");
		else if (cp == '\t')
			sb_str(sb, "\\t");
		else if (cp < 0x20)
			sb_printf(sb, "\\u%04lx", cp);
		else
			sb_add(sb, s + i, len);
	}
	sb_add(sb, "\"", 1);
}

/* Append s as a JSON string, or null when s is NULL or empty. */
static void
json_opt(struct sbuf *sb, const char *s)
{
	if (s == NULL || *s == '\0')
		sb_str(sb, "null");
	else
		json_str(sb, s, strlen(s));
}

static long long
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		err(EX_OSERR, "clock_gettime");
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Format the current UTC time with strftime(3) in the C locale. */
static void
format_time(char *buf, size_t size, const char *fmt)
{
	struct tm tm;
	time_t t;

	t = time(NULL);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, fmt, &tm) == 0)
		errx(EX_SOFTWARE, "cannot format the time with \"%s\"", fmt);
}

/* Format the current UTC time as RFC 3339 with milliseconds. */
static void
format_rfc3339_ms(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char date[24];

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		err(EX_OSERR, "clock_gettime");
	if (gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		errx(EX_SOFTWARE, "cannot format the time");
	snprintf(buf, size, "%s.%03dZ", date,
	    (int)(ts.tv_nsec / 1000000 % 1000));
}

static char *
xstrdup(const char *s)
{
	char *copy;

	if ((copy = strdup(s)) == NULL)
		err(EX_OSERR, "strdup");
	return copy;
}

/* Script file */

static void
script_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fake-twilio: %s:%d: ", script_path, script_lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EX_DATAERR);
}

/* Split off the next word of *p, or return NULL at the end. */
static char *
next_word(char **p)
{
	char *word;

	*p += strspn(*p, " \t");
	if (**p == '\0')
		return NULL;
	word = *p;
	*p += strcspn(*p, " \t");
	if (**p != '\0')
		*(*p)++ = '\0';
	return word;
}

static int
script_number(const char *word, const char *what, long min, long max)
{
	char *end;
	long n;

	if (word == NULL)
		script_error("missing %s", what);
	errno = 0;
	n = strtol(word, &end, 10);
	if (errno != 0 || end == word || *end != '\0' || n < min || n > max)
		script_error("invalid %s \"%s\": expected %ld to %ld", what,
		    word, min, max);
	return (int)n;
}

/* Parse the words after the action name into r. */
static void
parse_action(struct rule *r, const char *name, char **p)
{
	char *word;

	if (strcmp(name, "ok") == 0)
		r->action = ACTION_OK;
	else if (strcmp(name, "drop") == 0)
		r->action = ACTION_DROP;
	else if (strcmp(name, "no-sid") == 0)
		r->action = ACTION_NO_SID;
	else if (strcmp(name, "slow") == 0) {
		r->action = ACTION_SLOW;
		r->seconds = script_number(next_word(p), "slow seconds", 0,
		    DELAY_MAX);
	} else if (strcmp(name, "status") == 0) {
		r->action = ACTION_STATUS;
		r->status = script_number(next_word(p), "HTTP status", 400,
		    599);
		if ((word = next_word(p)) == NULL)
			return;
		if (strcmp(word, "retry-after") != 0)
			script_error("expected retry-after, found \"%s\"",
			    word);
		r->seconds = script_number(next_word(p),
		    "retry-after seconds", 0, DELAY_MAX);
	} else if (strcmp(name, "error") == 0) {
		r->action = ACTION_ERROR;
		r->status = script_number(next_word(p), "HTTP status", 400,
		    599);
		r->code = script_number(next_word(p), "error code", 1,
		    999999);
		*p += strspn(*p, " \t");
		if (**p == '\0')
			script_error("missing error message");
		r->message = xstrdup(*p);
		*p += strlen(*p);
	} else
		script_error("unknown action \"%s\"", name);
}

static void
parse_rule(char *line)
{
	struct rule *r;
	char *p = line, *word;

	if ((word = next_word(&p)) == NULL || *word == '#')
		return;
	if (nrules == RULE_MAX)
		script_error("more than %d rules", RULE_MAX);
	r = &rules[nrules];
	r->seconds = -1;
	if (strcmp(word, "always") == 0) {
		r->always = 1;
		word = next_word(&p);
	}
	if (word != NULL && strncmp(word, "to=", 3) == 0) {
		if (word[3] == '\0')
			script_error("empty to= address");
		r->to = xstrdup(word + 3);
		word = next_word(&p);
	}
	if (word == NULL)
		script_error("missing action");
	parse_action(r, word, &p);
	if ((word = next_word(&p)) != NULL)
		script_error("unexpected \"%s\" after the action", word);
	nrules++;
}

static void
load_script(const char *path)
{
	char line[SCRIPT_LINE_MAX];
	FILE *fp;
	size_t len;

	script_path = path;
	if ((fp = fopen(path, "r")) == NULL)
		err(EX_NOINPUT, "%s", path);
	while (fgets(line, sizeof(line), fp) != NULL) {
		script_lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(fp))
			script_error("line longer than %d bytes",
			    SCRIPT_LINE_MAX - 2);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		parse_rule(line);
	}
	if (ferror(fp))
		err(EX_IOERR, "%s", path);
	fclose(fp);
}

/* Take the first unused rule that matches the recipient, if any. */
static const struct rule *
take_rule(const char *to)
{
	struct rule *r;
	int i;

	for (i = 0; i < nrules; i++) {
		r = &rules[i];
		if (r->used || (r->to != NULL && strcmp(r->to, to) != 0))
			continue;
		if (!r->always)
			r->used = 1;
		return r;
	}
	return NULL;
}

/* Form bodies (application/x-www-form-urlencoded) */

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode '+' and %XX escapes in place. Return -1 on %00 or bad escapes. */
static int
form_unescape(char *s)
{
	char *out = s;
	int hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '+')
			*out++ = ' ';
		else if (*s != '%')
			*out++ = *s;
		else {
			if ((hi = hex_value(s[1])) < 0 ||
			    (lo = hex_value(s[2])) < 0 || (hi | lo) == 0)
				return -1;
			*out++ = (char)(hi << 4 | lo);
			s += 2;
		}
	}
	*out = '\0';
	return 0;
}

static int
form_add(struct form *fm, char *pair)
{
	char *eq, *value;

	if ((eq = strchr(pair, '=')) != NULL) {
		*eq = '\0';
		value = eq + 1;
	} else
		value = pair + strlen(pair);
	if (form_unescape(pair) == -1 || form_unescape(value) == -1) {
		fm->error = "invalid percent escape or %00 in the form "
		    "body";
		return -1;
	}
	if (utf8_count(pair) < 0 || utf8_count(value) < 0) {
		fm->error = "form body is not UTF-8";
		return -1;
	}
	if (fm->n == FIELD_MAX) {
		fm->error = "form body has too many parameters";
		return -1;
	}
	fm->fields[fm->n].key = pair;
	fm->fields[fm->n].value = value;
	fm->n++;
	return 0;
}

/* Decode body into fm. On failure, fm has no fields and fm->error is set. */
static void
form_parse(struct form *fm, const char *body, size_t len)
{
	char *p, *pair;

	memset(fm, 0, sizeof(*fm));
	if (len == 0)
		return;
	if (memchr(body, '\0', len) != NULL) {
		fm->error = "form body contains a NUL byte";
		return;
	}
	if ((fm->buf = malloc(len + 1)) == NULL)
		err(EX_OSERR, "malloc");
	memcpy(fm->buf, body, len);
	fm->buf[len] = '\0';
	p = fm->buf;
	while ((pair = strsep(&p, "&")) != NULL) {
		if (*pair == '\0')
			continue;
		if (form_add(fm, pair) == -1) {
			fm->n = 0;
			return;
		}
	}
}

/* Return the first value of key, or NULL. */
static const char *
form_get(const struct form *fm, const char *key)
{
	int i;

	for (i = 0; i < fm->n; i++)
		if (strcmp(fm->fields[i].key, key) == 0)
			return fm->fields[i].value;
	return NULL;
}

static int
form_count(const struct form *fm, const char *key)
{
	int i, count = 0;

	for (i = 0; i < fm->n; i++)
		if (strcmp(fm->fields[i].key, key) == 0)
			count++;
	return count;
}

/* Append fm as a JSON object, with an array of values per repeated key. */
static void
form_json(struct sbuf *sb, const struct form *fm)
{
	const char *key;
	int i, j, seen, count;

	sb_str(sb, "{");
	for (i = 0; i < fm->n; i++) {
		key = fm->fields[i].key;
		for (seen = 0, j = 0; j < i && !seen; j++)
			seen = strcmp(fm->fields[j].key, key) == 0;
		if (seen)
			continue;
		if (sb->data[sb->len - 1] != '{')
			sb_str(sb, ",");
		json_str(sb, key, strlen(key));
		sb_str(sb, ":");
		if ((count = form_count(fm, key)) == 1) {
			json_str(sb, fm->fields[i].value,
			    strlen(fm->fields[i].value));
			continue;
		}
		sb_str(sb, "[");
		for (j = i; j < fm->n; j++) {
			if (strcmp(fm->fields[j].key, key) != 0)
				continue;
			json_str(sb, fm->fields[j].value,
			    strlen(fm->fields[j].value));
			if (--count > 0)
				sb_str(sb, ",");
		}
		sb_str(sb, "]");
	}
	sb_str(sb, "}");
}

/* Replies */

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return status < 500 ? "Client Error" : "Server Error";
}

static void
reply_init(struct reply *rp)
{
	memset(rp, 0, sizeof(*rp));
	rp->retry_after = -1;
}

/* Set a Twilio REST error: {"code", "message", "more_info", "status"}. */
static void
twilio_error(struct reply *rp, int status, int code, const char *message)
{
	rp->status = status;
	sb_printf(&rp->body, "{\"code\":%d,\"message\":", code);
	json_str(&rp->body, message, strlen(message));
	sb_printf(&rp->body, ",\"more_info\":\"" ERRORS_URL "%d\","
	    "\"status\":%d}", code, status);
}

/*
 * Set an error that comes before any Twilio logic, such as a malformed
 * request. It has the Twilio shape with null code and more_info.
 */
static void
http_error(struct reply *rp, int status, const char *message)
{
	rp->status = status;
	sb_str(&rp->body, "{\"code\":null,\"message\":");
	json_str(&rp->body, message, strlen(message));
	sb_printf(&rp->body, ",\"more_info\":null,\"status\":%d}", status);
}

/* Set a scripted status reply with code 20000 + status and no more_info. */
static void
status_error(struct reply *rp, int status, int retry_after)
{
	rp->status = status;
	rp->retry_after = retry_after;
	sb_printf(&rp->body, "{\"code\":%d,\"message\":\"%s\","
	    "\"status\":%d}", 20000 + status, reason_phrase(status), status);
}

static void
not_found(struct reply *rp, const char *path)
{
	struct sbuf message = { 0 };

	sb_str(&message, "The requested resource ");
	sb_str(&message, path);
	sb_str(&message, " was not found");
	twilio_error(rp, 404, 20404, message.data);
	sb_free(&message);
}

static int
is_empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* Check for E.164 (+ and 2 to 15 digits) after an optional whatsapp:. */
static int
is_e164(const char *s)
{
	size_t digits;

	if (strncmp(s, "whatsapp:", 9) == 0)
		s += 9;
	if (s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	digits = strspn(s + 1, "0123456789");
	return s[1 + digits] == '\0' && digits >= 2 && digits <= 15;
}

/*
 * Check the form fields that Twilio requires. On failure, set the error
 * reply and return -1. NOTE: Twilio documents the codes, not the order of
 * the checks, so a request with several faults may get another code there.
 */
static int
validate(struct reply *rp, const struct form *fm)
{
	const char *to = form_get(fm, "To");
	const char *text = form_get(fm, "Body");
	struct sbuf message = { 0 };

	if (is_empty(to)) {
		twilio_error(rp, 400, 21604,
		    "A 'To' phone number is required.");
		return -1;
	}
	if (is_empty(form_get(fm, "From")) &&
	    is_empty(form_get(fm, "MessagingServiceSid"))) {
		twilio_error(rp, 400, 21603, "A 'From' or "
		    "'MessagingServiceSid' parameter is required to send a "
		    "message.");
		return -1;
	}
	if (is_empty(text) && form_count(fm, "MediaUrl") == 0 &&
	    is_empty(form_get(fm, "ContentSid"))) {
		twilio_error(rp, 400, 21602, "Message body is required.");
		return -1;
	}
	if (text != NULL && utf8_count(text) > BODY_CHARS_MAX) {
		twilio_error(rp, 400, 21617, "The concatenated message body "
		    "exceeds the 1600 character limit.");
		return -1;
	}
	if (!is_e164(to)) {
		sb_str(&message, "The 'To' number ");
		sb_str(&message, to);
		sb_str(&message, " is not a valid phone number.");
		twilio_error(rp, 400, 21211, message.data);
		sb_free(&message);
		return -1;
	}
	return 0;
}

/*
 * Map N to a number that does not sort like N. Each step can be undone,
 * so distinct numbers stay distinct.
 */
/* Return the time since the epoch in microseconds. */
static unsigned long long
start_microseconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000;
}

static unsigned long long
scramble(unsigned long long n)
{
	n ^= n >> 30;
	n *= 0xbf58476d1ce4e5b9ULL;
	n ^= n >> 27;
	n *= 0x94d049bb133111ebULL;
	n ^= n >> 31;
	return n;
}

/*
 * Set a 201 reply with a new Message resource. A message sent through a
 * Messaging Service starts as "accepted" (Twilio's guide "Outbound Message
 * Status in Status Callbacks"), and its num_segments is "0" until the
 * service picks a sender (Message resource schema, API 2010-04-01).
 */
static void
create_message(struct reply *rp, const struct form *fm)
{
	struct sbuf *b = &rp->body;
	const char *from = form_get(fm, "From");
	const char *text = form_get(fm, "Body");
	char date[40];
	int service = !is_empty(form_get(fm, "MessagingServiceSid"));

	messages_created++;
	if (unordered_sids)
		snprintf(rp->sid, sizeof(rp->sid), "SM%016llx%016llx",
		    scramble(messages_created), messages_created);
	else
		snprintf(rp->sid, sizeof(rp->sid), "SM%016llx%016llx",
		    sid_stamp, messages_created);
	format_time(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000");
	rp->status = 201;
	sb_printf(b, "{\"account_sid\":\"%s\",\"api_version\":\"2010-04-01\","
	    "\"body\":", account_sid);
	json_str(b, text ? text : "", text ? strlen(text) : 0);
	sb_printf(b, ",\"date_created\":\"%s\",\"date_sent\":null,"
	    "\"date_updated\":\"%s\",\"direction\":\"outbound-api\","
	    "\"error_code\":null,\"error_message\":null,\"from\":", date, date);
	json_opt(b, from);
	sb_str(b, ",\"messaging_service_sid\":");
	json_opt(b, form_get(fm, "MessagingServiceSid"));
	sb_printf(b, ",\"num_media\":\"%d\",\"num_segments\":\"%d\","
	    "\"price\":null,\"price_unit\":\"USD\",\"sid\":\"%s\","
	    "\"status\":\"%s\",", form_count(fm, "MediaUrl"), service ? 0 : 1,
	    rp->sid, service ? "accepted" : "queued");
	sb_printf(b, "\"subresource_uris\":{\"media\":\"" MESSAGES_PREFIX
	    "%s/Messages/%s/Media.json\"},\"to\":", account_sid, rp->sid);
	json_opt(b, form_get(fm, "To"));
	sb_printf(b, ",\"uri\":\"" MESSAGES_PREFIX "%s/Messages/%s.json\"}",
	    account_sid, rp->sid);
}

static void
apply_rule(struct reply *rp, const struct form *fm, const struct rule *r)
{
	switch (r->action) {
	case ACTION_OK:
		create_message(rp, fm);
		break;
	case ACTION_SLOW:
		create_message(rp, fm);
		rp->delay = r->seconds;
		break;
	case ACTION_NO_SID:
		/* A success that names no message, as a wrong server might. */
		rp->status = 201;
		sb_str(&rp->body, "{\"status\":\"queued\"}");
		break;
	case ACTION_DROP:
		rp->drop = 1;
		break;
	case ACTION_STATUS:
		status_error(rp, r->status, r->seconds);
		break;
	case ACTION_ERROR:
		twilio_error(rp, r->status, r->code, r->message);
		break;
	}
}

/* Decode RFC 4648 base64 with padding. Return -1 on any other byte. */
static int
base64_decode(const char *s, char *out, size_t size, size_t *outlen)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p;
	unsigned long acc = 0;
	size_t n = 0;
	int bits = 0, pad = 0;

	for (; *s != '\0'; s++) {
		if (*s == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (p = strchr(alphabet, *s)) == NULL)
			return -1;
		acc = (acc << 6 | (unsigned long)(p - alphabet)) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n + 1 >= size)
				return -1;
			out[n++] = (char)(acc >> bits & 0xff);
		}
	}
	if (pad > 2)
		return -1;
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/* Check the Basic credentials against the account SID and token. */
static int
check_auth(const struct request *rq)
{
	char decoded[AUTH_MAX];
	const char *p = rq->auth;
	char *colon;
	size_t n;

	if (strncasecmp(p, "Basic ", 6) != 0)
		return 0;
	p += 6;
	p += strspn(p, " ");
	if (base64_decode(p, decoded, sizeof(decoded), &n) == -1 ||
	    memchr(decoded, '\0', n) != NULL ||
	    (colon = strchr(decoded, ':')) == NULL)
		return 0;
	*colon = '\0';
	return strcmp(decoded, account_sid) == 0 &&
	    strcmp(colon + 1, auth_token) == 0;
}

/* Copy the {AccountSid} of a Messages.json path into sid. */
static int
messages_path(const char *target, char *sid, size_t size)
{
	size_t len, prefix, suffix;

	len = strcspn(target, "?");
	prefix = strlen(MESSAGES_PREFIX);
	suffix = strlen(MESSAGES_SUFFIX);
	if (len <= prefix + suffix ||
	    strncmp(target, MESSAGES_PREFIX, prefix) != 0 ||
	    strncmp(target + len - suffix, MESSAGES_SUFFIX, suffix) != 0)
		return 0;
	len -= prefix + suffix;
	if (len >= size || memchr(target + prefix, '/', len) != NULL)
		return 0;
	memcpy(sid, target + prefix, len);
	sid[len] = '\0';
	return 1;
}

static void
route(const struct request *rq, const struct form *fm, int authorized,
    struct reply *rp)
{
	const struct rule *r;
	char sid[TARGET_MAX + 1];

	if (!messages_path(rq->target, sid, sizeof(sid)))
		not_found(rp, rq->target);
	else if (!authorized) {
		twilio_error(rp, 401, 20003,
		    "Authentication Error - invalid username");
		rp->header = "WWW-Authenticate: Basic realm=\"Twilio API\"";
	} else if (strcmp(sid, account_sid) != 0)
		not_found(rp, rq->target);
	else if (strcmp(rq->method, "POST") != 0) {
		twilio_error(rp, 405, 20004, "Method not allowed");
		rp->header = "Allow: POST";
	} else if (fm->error != NULL)
		http_error(rp, 400, fm->error);
	else if (validate(rp, fm) == 0) {
		if ((r = take_rule(form_get(fm, "To"))) != NULL)
			apply_rule(rp, fm, r);
		else
			create_message(rp, fm);
	}
}

static void
write_log(const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(log_fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			err(EX_IOERR, "%s", log_path);
		}
		data += n;
		len -= n;
	}
}

static void
log_request(const struct request *rq, const struct form *fm,
    int authorized, const struct reply *rp)
{
	struct sbuf sb = { 0 };
	char at[40];

	format_rfc3339_ms(at, sizeof(at));
	sb_str(&sb, "{\"method\":");
	json_opt(&sb, rq->line_ok ? rq->method : NULL);
	sb_str(&sb, ",\"path\":");
	json_opt(&sb, rq->line_ok ? rq->target : NULL);
	sb_printf(&sb, ",\"authorized\":%s,\"form\":",
	    authorized ? "true" : "false");
	form_json(&sb, fm);
	if (rp->drop)
		sb_str(&sb, ",\"response_status\":null");
	else
		sb_printf(&sb, ",\"response_status\":%d", rp->status);
	sb_str(&sb, ",\"sid\":");
	json_opt(&sb, rp->sid);
	sb_printf(&sb, ",\"at\":\"%s\"}\n", at);
	write_log(sb.data, sb.len);
	sb_free(&sb);
	requests_logged++;
}

/* HTTP requests */

static int
has_token(const char *value, size_t len, const char *token)
{
	size_t tlen = strlen(token), i = 0, start;

	while (i < len) {
		while (i < len && strchr(" \t,", value[i]) != NULL)
			i++;
		start = i;
		while (i < len && strchr(" \t,", value[i]) == NULL)
			i++;
		if (i - start == tlen &&
		    strncasecmp(value + start, token, tlen) == 0)
			return 1;
	}
	return 0;
}

static int
parse_length(struct request *rq, const char *value, size_t len)
{
	size_t n = 0, i;

	if (len == 0)
		return 400;
	for (i = 0; i < len; i++) {
		if (value[i] < '0' || value[i] > '9')
			return 400;
		if (n <= BODY_MAX)
			n = n * 10 + (value[i] - '0');
	}
	if (rq->has_length && n != rq->body_len)
		return 400;
	rq->has_length = 1;
	rq->body_len = n;
	rq->too_large = n > BODY_MAX;
	return 0;
}

#define NAME_IS(s)	(nlen == strlen(s) && strncasecmp(name, s, nlen) == 0)

/* Parse one header field line. Return 0 or an HTTP error status. */
static int
parse_field(struct request *rq, const char *line, size_t len)
{
	const char *name = line, *colon, *value, *end = line + len;
	size_t nlen, vlen, i;

	for (i = 0; i < len; i++)
		if (((unsigned char)line[i] < ' ' && line[i] != '\t') ||
		    line[i] == 0x7f)
			return 400;
	if ((colon = memchr(line, ':', len)) == NULL || colon == line)
		return 400;
	nlen = colon - line;
	if (memchr(name, ' ', nlen) != NULL || memchr(name, '\t', nlen))
		return 400;
	for (value = colon + 1; value < end && (*value == ' ' ||
	    *value == '\t'); value++)
		;
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	vlen = end - value;
	if (NAME_IS("Content-Length"))
		return parse_length(rq, value, vlen);
	if (NAME_IS("Transfer-Encoding"))
		rq->chunked = 1;
	else if (NAME_IS("Connection")) {
		rq->close |= has_token(value, vlen, "close");
		rq->keep_alive |= has_token(value, vlen, "keep-alive");
	} else if (NAME_IS("Expect"))
		rq->expect_continue = vlen == 12 &&
		    strncasecmp(value, "100-continue", 12) == 0;
	else if (NAME_IS("Authorization") && vlen <= AUTH_MAX) {
		memcpy(rq->auth, value, vlen);
		rq->auth[vlen] = '\0';
	}
	return 0;
}

/* Parse "METHOD SP TARGET SP HTTP/1.x". Return 0 or an HTTP status. */
static int
parse_request_line(struct request *rq, const char *line, size_t len)
{
	const char *sp1, *sp2, *version, *end = line + len;
	size_t mlen, tlen, i;

	if ((sp1 = memchr(line, ' ', len)) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', end - sp1 - 1)) == NULL)
		return 400;
	mlen = sp1 - line;
	tlen = sp2 - sp1 - 1;
	version = sp2 + 1;
	if (mlen == 0 || mlen > METHOD_MAX || tlen == 0 || sp1[1] != '/')
		return 400;
	if (tlen > TARGET_MAX)
		return 414;
	if (end - version != 8 || strncmp(version, "HTTP/1.", 7) != 0)
		return strncmp(version, "HTTP/", 5) == 0 ? 505 : 400;
	if (version[7] != '0' && version[7] != '1')
		return 505;
	for (i = 0; i < tlen; i++)
		if ((unsigned char)sp1[1 + i] <= ' ' || sp1[1 + i] == 0x7f)
			return 400;
	memcpy(rq->method, line, mlen);
	memcpy(rq->target, sp1 + 1, tlen);
	rq->minor = version[7] - '0';
	rq->line_ok = 1;
	return 0;
}

/*
 * Parse the head (request line and header fields, ending in an empty
 * line) of hlen bytes. Return 0 or the HTTP status to reject it with.
 */
static int
parse_head(struct request *rq, const char *head, size_t hlen)
{
	const char *p = head, *end = head + hlen - 2, *eol;
	int status;

	eol = memmem(p, end - p, "\r\n", 2);
	if ((status = parse_request_line(rq, p, eol - p)) != 0)
		return status;
	for (p = eol + 2; p < end; p = eol + 2) {
		eol = memmem(p, end - p, "\r\n", 2);
		if (*p == ' ' || *p == '\t')
			return 400;	/* obsolete line folding */
		if ((status = parse_field(rq, p, eol - p)) != 0)
			return status;
	}
	if (rq->minor == 0 && !rq->keep_alive)
		rq->close = 1;
	return 0;
}

/* Return the length of the head in the buffer, or 0 if incomplete. */
static size_t
head_length(const char *buf, size_t len)
{
	const char *end;

	if (len > HEADER_MAX)
		len = HEADER_MAX;
	if ((end = memmem(buf, len, "\r\n\r\n", 4)) == NULL)
		return 0;
	return end - buf + 4;
}

/* Connections */

static void
conn_queue(struct conn *c, const struct reply *rp)
{
	char date[40];

	if (rp->drop) {
		c->state = STATE_DEAD;
		return;
	}
	format_time(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT");
	sb_printf(&c->out, "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n", rp->status, reason_phrase(rp->status),
	    date, rp->body.len);
	if (rp->retry_after >= 0)
		sb_printf(&c->out, "Retry-After: %d\r\n", rp->retry_after);
	if (rp->header != NULL)
		sb_printf(&c->out, "%s\r\n", rp->header);
	sb_printf(&c->out, "Connection: %s\r\n\r\n",
	    rp->close ? "close" : "keep-alive");
	sb_add(&c->out, rp->body.data, rp->body.len);
	c->close_after = rp->close;
	c->outoff = 0;
	if (rp->delay > 0) {
		c->state = STATE_WAIT;
		c->due = now_ms() + rp->delay * 1000LL;
	} else
		c->state = STATE_WRITE;
}

/* Reply with an error to a request that cannot be served, then close. */
static void
conn_reject(struct conn *c, const struct request *rq, int status,
    const char *message)
{
	struct reply rp;
	struct form fm;

	reply_init(&rp);
	memset(&fm, 0, sizeof(fm));
	http_error(&rp, status, message);
	rp.close = 1;
	log_request(rq, &fm, 0, &rp);
	conn_queue(c, &rp);
	sb_free(&rp.body);
	c->inlen = 0;
}

static void
conn_serve(struct conn *c, const struct request *rq, const char *body)
{
	struct reply rp;
	struct form fm;
	int authorized;

	reply_init(&rp);
	form_parse(&fm, body, rq->body_len);
	authorized = check_auth(rq);
	route(rq, &fm, authorized, &rp);
	rp.close = rq->close;
	log_request(rq, &fm, authorized, &rp);
	conn_queue(c, &rp);
	sb_free(&rp.body);
	free(fm.buf);
}

static void
conn_continue(struct conn *c)
{
	sb_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	c->outoff = 0;
	c->interim = 1;
	c->continued = 1;
	c->state = STATE_WRITE;
}

/* Serve the request at the start of the input buffer once complete. */
static void
conn_process(struct conn *c)
{
	struct request rq;
	size_t head, total;
	int status;

	memset(&rq, 0, sizeof(rq));
	if ((head = head_length(c->in, c->inlen)) == 0) {
		if (c->inlen >= HEADER_MAX)
			conn_reject(c, &rq, 431, "request line and header "
			    "fields exceed " STR(HEADER_MAX) " bytes");
		return;
	}
	if ((status = parse_head(&rq, c->in, head)) != 0)
		conn_reject(c, &rq, status, "malformed HTTP request head");
	else if (rq.chunked)
		conn_reject(c, &rq, 411, "Transfer-Encoding is not "
		    "supported: send the body with Content-Length");
	else if (rq.too_large)
		conn_reject(c, &rq, 413, "request body exceeds "
		    STR(BODY_MAX) " bytes");
	else if (c->inlen < (total = head + rq.body_len)) {
		if (rq.expect_continue && !c->continued)
			conn_continue(c);
	} else {
		c->continued = 0;
		conn_serve(c, &rq, c->in + head);
		memmove(c->in, c->in + total, c->inlen - total);
		c->inlen -= total;
	}
}

static void
conn_linger(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->state = STATE_LINGER;
	c->due = now_ms() + LINGER_MS;
}

static void
conn_read(struct conn *c)
{
	char discard[4096];
	ssize_t n;

	if (c->state == STATE_LINGER) {
		n = recv(c->fd, discard, sizeof(discard), 0);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			c->state = STATE_DEAD;
		return;
	}
	if (c->inlen == sizeof(c->in)) {
		c->state = STATE_DEAD;
		return;
	}
	n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1 && errno != ECONNRESET)
		warn("recv failed on connection fd %d", c->fd);
	if (n <= 0) {
		c->state = STATE_DEAD;
		return;
	}
	c->inlen += n;
	c->idle = now_ms() + IDLE_MS;
	conn_process(c);
}

static void
conn_write(struct conn *c)
{
	ssize_t n;

	n = send(c->fd, c->out.data + c->outoff, c->out.len - c->outoff,
	    MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (errno != ECONNRESET && errno != EPIPE)
			warn("send failed on connection fd %d", c->fd);
		c->state = STATE_DEAD;
		return;
	}
	c->outoff += n;
	if (c->outoff < c->out.len)
		return;
	c->out.len = 0;
	c->outoff = 0;
	c->state = STATE_READ;
	c->idle = now_ms() + IDLE_MS;
	if (c->interim)
		c->interim = 0;
	else if (c->close_after)
		conn_linger(c);
	else
		conn_process(c);	/* a pipelined request may be waiting */
}

static void
conn_accept(int lfd)
{
	struct conn *c;
	int fd, i;

	for (i = 0; i < CONN_MAX && conns[i] != NULL; i++)
		;
	if (i == CONN_MAX)
		return;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			warn("accept");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		err(EX_OSERR, "calloc");
	c->fd = fd;
	c->state = STATE_READ;
	c->idle = now_ms() + IDLE_MS;
	conns[i] = c;
}

static void
conn_free(int i)
{
	close(conns[i]->fd);
	sb_free(&conns[i]->out);
	free(conns[i]);
	conns[i] = NULL;
}

/*
 * Start slow replies that are due, close idle and lingering connections
 * past their deadline and free dead ones. Return the next deadline.
 */
static long long
conn_timers(long long now, long long next)
{
	struct conn *c;
	int i;

	for (i = 0; i < CONN_MAX; i++) {
		if ((c = conns[i]) == NULL)
			continue;
		if (c->state == STATE_WAIT && c->due <= now)
			c->state = STATE_WRITE;
		else if (c->state == STATE_LINGER && c->due <= now)
			c->state = STATE_DEAD;
		else if (c->state == STATE_READ && c->idle <= now)
			c->state = STATE_DEAD;
		if (c->state == STATE_DEAD)
			conn_free(i);
		else if (c->state == STATE_WAIT || c->state == STATE_LINGER)
			next = c->due < next ? c->due : next;
		else if (c->state == STATE_READ)
			next = c->idle < next ? c->idle : next;
	}
	return next;
}

static short
conn_events(const struct conn *c)
{
	switch (c->state) {
	case STATE_READ:
	case STATE_LINGER:
		return POLLIN;
	case STATE_WRITE:
		return POLLOUT;
	default:
		return 0;
	}
}

/* Server */

static void
on_signal(int sig)
{
	stop_signal = sig;
}

/*
 * Block SIGINT and SIGTERM so that they arrive only inside ppoll, and
 * store the mask for ppoll in waitmask.
 */
static void
setup_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		err(EX_OSERR, "sigaction");
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, waitmask) == -1)
		err(EX_OSERR, "sigprocmask");
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGTERM);
}

/* Listen on 127.0.0.1 at a port the kernel picks. Return the socket. */
static int
listen_loopback(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		err(EX_OSERR, "socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(EX_OSERR, "bind 127.0.0.1");
	if (listen(fd, CONN_MAX) == -1)
		err(EX_OSERR, "listen");
	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		err(EX_OSERR, "getsockname");
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Write the port to a temporary file and rename it over path. */
static void
write_port_file(const char *path, int port)
{
	char tmp[PATH_MAX];
	FILE *fp;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		errx(EX_USAGE, "port file name too long: %s", path);
	if ((fp = fopen(tmp, "w")) == NULL)
		err(EX_CANTCREAT, "%s", tmp);
	fprintf(fp, "%d\n", port);
	if (fclose(fp) == EOF)
		err(EX_IOERR, "%s", tmp);
	if (rename(tmp, path) == -1)
		err(EX_CANTCREAT, "rename %s to %s", tmp, path);
}

/* Poll the listening socket and the connections once. */
static void
poll_once(int lfd, long long now, long long next, const sigset_t *mask)
{
	struct pollfd pfd[CONN_MAX + 1];
	struct timespec ts;
	int map[CONN_MAX + 1], n = 0, i, room = 0;

	for (i = 0; i < CONN_MAX; i++) {
		if (conns[i] == NULL) {
			room = 1;
			continue;
		}
		pfd[n].fd = conns[i]->fd;
		pfd[n].events = conn_events(conns[i]);
		map[n++] = i;
	}
	pfd[n].fd = lfd;
	pfd[n].events = room ? POLLIN : 0;
	map[n++] = -1;
	next -= now;
	ts.tv_sec = next / 1000;
	ts.tv_nsec = next % 1000 * 1000000;
	if (ppoll(pfd, n, &ts, mask) == -1) {
		if (errno != EINTR)
			err(EX_OSERR, "ppoll");
		return;
	}
	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (map[i] == -1)
			conn_accept(lfd);
		else if (pfd[i].revents & (POLLERR | POLLNVAL) ||
		    (pfd[i].revents & POLLHUP && pfd[i].events == 0))
			conns[map[i]]->state = STATE_DEAD;
		else if (pfd[i].revents & POLLOUT)
			conn_write(conns[map[i]]);
		else
			conn_read(conns[map[i]]);
	}
}

static void
serve(int lfd, const sigset_t *mask)
{
	long long now, deadline, next;
	int i;

	deadline = now_ms() + LIFETIME_MS;
	while (!stop_signal && (now = now_ms()) < deadline) {
		next = conn_timers(now, deadline);
		if (next > now + 1000)
			next = now + 1000;
		poll_once(lfd, now, next, mask);
	}
	for (i = 0; i < CONN_MAX; i++)
		if (conns[i] != NULL)
			conn_free(i);
	if (stop_signal)
		fprintf(stderr, "fake-twilio: stopped by %s after %llu "
		    "requests\n", stop_signal == SIGINT ? "SIGINT" : "SIGTERM",
		    requests_logged);
	else
		fprintf(stderr, "fake-twilio: stopped after the 10-minute "
		    "limit and %llu requests\n", requests_logged);
}

static int
is_account_sid(const char *s)
{
	return strlen(s) == 34 && strncmp(s, "AC", 2) == 0 &&
	    strspn(s + 2, "0123456789abcdefABCDEF") == 32;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "port-file", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'l' },
		{ "script", required_argument, NULL, 's' },
		{ "account-sid", required_argument, NULL, 'a' },
		{ "auth-token", required_argument, NULL, 't' },
		{ "unordered-sids", no_argument, NULL, 'u' },
		{ "counted-sids", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *port_file = NULL, *script = NULL;
	sigset_t waitmask;
	int ch, lfd, port;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			port_file = optarg;
			break;
		case 'l':
			log_path = optarg;
			break;
		case 's':
			script = optarg;
			break;
		case 'a':
			account_sid = optarg;
			break;
		case 't':
			auth_token = optarg;
			break;
		case 'u':
			unordered_sids = 1;
			break;
		case 'c':
			counted_sids = 1;
			break;
		case 'h':
			help();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port_file == NULL || log_path == NULL ||
	    (counted_sids && unordered_sids))
		usage();
	if (!counted_sids)
		sid_stamp = start_microseconds();
	if (!is_account_sid(account_sid))
		errx(EX_USAGE, "invalid account SID \"%s\": expected AC and "
		    "32 hex digits", account_sid);
	if (script != NULL)
		load_script(script);
	log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644);
	if (log_fd == -1)
		err(EX_CANTCREAT, "%s", log_path);
	setup_signals(&waitmask);
	lfd = listen_loopback(&port);
	write_port_file(port_file, port);
	fprintf(stderr, "fake-twilio: listening on 127.0.0.1:%d with %d "
	    "script rules\n", port, nrules);
	serve(lfd, &waitmask);
	close(lfd);
	close(log_fd);
	return 0;
}
