#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jv.h>
#include <openssl/crypto.h>

#include "convo.h"
#include "secret.h"
#include "twilio.h"

static int
copy_env(const char *name, char *out, size_t n)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0' || strlen(v) >= n)
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

/*
 * Write to ERR that neither ENV_VARIABLE nor FILE_VARIABLE is set, and
 * that TWILIO_ACCOUNT_SID is not set either when SID_MISSING is 1.
 */
static void
secret_missing(const char *file_variable, const char *env_variable,
    int sid_missing, char *err, size_t errsz)
{
	int token = strcmp(env_variable, "TWILIO_AUTH_TOKEN") == 0;
	const char *api_key = token ? ", or use an API key with "
	    "TWILIO_API_KEY and TWILIO_API_SECRET" : "";

	if (sid_missing)
		snprintf(err, errsz, "TWILIO_ACCOUNT_SID and %s are not set: "
		    "set both, or set TWILIO_ACCOUNT_SID and name a file that "
		    "contains the %s with %s%s", env_variable,
		    token ? "token" : "secret", file_variable, api_key);
	else
		snprintf(err, errsz, "%s is not set: set it, or name a file "
		    "that contains it with %s%s", env_variable, file_variable,
		    api_key);
}

/* Return 1 when FILE_VARIABLE or ENV_VARIABLE is set and not empty. */
static int
secret_is_set(const char *file_variable, const char *env_variable)
{
	const char *path = getenv(file_variable);
	const char *value = getenv(env_variable);

	return (path != NULL && *path != '\0') ||
	    (value != NULL && *value != '\0');
}

/*
 * Copy the secret from the file named by FILE_VARIABLE, without
 * surrounding white space, or else from ENV_VARIABLE, into OUT.
 */
static int
load_secret(const char *file_variable, const char *env_variable, char *out,
    size_t n, char *err, size_t errsz)
{
	const char *path = getenv(file_variable);
	char text[SECRET_FILE_MAX], msg[512], *start, *end;
	int rc = TWILIO_OK;

	if (path == NULL || *path == '\0') {
		if (copy_env(env_variable, out, n) == 0)
			return TWILIO_OK;
		secret_missing(file_variable, env_variable, 0, err, errsz);
		return TWILIO_MISSING;
	}
	if (secret_file_read(path, text, sizeof(text), msg, sizeof(msg)) < 0) {
		snprintf(err, errsz, "%s: %s", file_variable, msg);
		return TWILIO_INVALID;
	}
	start = text + strspn(text, " \t\r\n");
	end = start + strlen(start);
	while (end > start && strchr(" \t\r\n", end[-1]) != NULL)
		end--;
	if (end == start) {
		snprintf(err, errsz, "%s: \"%s\" is empty", file_variable,
		    path);
		rc = TWILIO_INVALID;
	} else if ((size_t)(end - start) >= n) {
		snprintf(err, errsz, "%s: the secret in \"%s\" is longer than "
		    "%zu bytes", file_variable, path, n - 1);
		rc = TWILIO_INVALID;
	} else {
		memcpy(out, start, (size_t)(end - start));
		out[end - start] = '\0';
	}
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

/*
 * Fill ERR for a missing TWILIO_ACCOUNT_SID, naming the secret too when
 * it is not set either. The secret file, if named, is not read.
 */
static void
account_sid_missing(char *err, size_t errsz)
{
	const char *file = "CONVO_TWILIO_AUTH_TOKEN_FILE";
	const char *env = "TWILIO_AUTH_TOKEN";
	const char *key = getenv("TWILIO_API_KEY");

	if (key != NULL && *key != '\0') {
		file = "CONVO_TWILIO_API_SECRET_FILE";
		env = "TWILIO_API_SECRET";
	}
	if (secret_is_set(file, env)) {
		snprintf(err, errsz, "TWILIO_ACCOUNT_SID is not set");
		return;
	}
	secret_missing(file, env, 1, err, errsz);
}

/* Read the account SID and the secret, filling ERR on failure. */
static int
load_credentials(struct twilio *t, char *err, size_t errsz)
{
	if (copy_env("TWILIO_ACCOUNT_SID", t->account_sid,
	    sizeof(t->account_sid)) != 0) {
		account_sid_missing(err, errsz);
		return TWILIO_MISSING;
	}
	if (copy_env("TWILIO_API_KEY", t->user, sizeof(t->user)) == 0)
		return load_secret("CONVO_TWILIO_API_SECRET_FILE",
		    "TWILIO_API_SECRET", t->secret, sizeof(t->secret), err,
		    errsz);
	memcpy(t->user, t->account_sid, sizeof(t->user));
	return load_secret("CONVO_TWILIO_AUTH_TOKEN_FILE", "TWILIO_AUTH_TOKEN",
	    t->secret, sizeof(t->secret), err, errsz);
}

/* Return 1 when HOST, as libcurl gives it, is a loopback address. */
static int
is_loopback(const char *host)
{
	struct in_addr a;

	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return 1;
	return inet_pton(AF_INET, host, &a) == 1 &&
	    (ntohl(a.s_addr) >> 24) == 127;
}

/*
 * Return 1 when the authority of URL BASE ends with a colon, as in
 * "http://127.0.0.1:$PORT" with PORT unset. libcurl reads an empty port
 * as the scheme's default.
 */
static int
empty_port(const char *base)
{
	const char *start = strstr(base, "://"), *end;

	if (start == NULL)
		return 0;
	start += 3;
	end = start + strcspn(start, "/?#");
	return end > start && end[-1] == ':';
}

/*
 * Check the scheme, user information and host of BASE against the
 * transport rules and set T->insecure. Messages show BASE only after
 * the check that it contains no user name or password.
 */
static int
check_base(struct twilio *t, const char *base, char *err, size_t errsz)
{
	const char *insecure = getenv(TWILIO_INSECURE_VARIABLE);
	char *scheme = NULL, *host = NULL, *user = NULL;
	CURLU *u;
	int rc = TWILIO_INVALID;

	if (insecure != NULL && *insecure != '\0' &&
	    strcmp(insecure, "1") != 0) {
		snprintf(err, errsz, "%s must be 1 or unset, not \"%.32s\"",
		    TWILIO_INSECURE_VARIABLE, insecure);
		return TWILIO_INVALID;
	}
	t->insecure = insecure != NULL && *insecure != '\0';
	if ((u = curl_url()) == NULL) {
		snprintf(err, errsz, "cannot start libcurl");
		return TWILIO_INVALID;
	}
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errsz, "TWILIO_API_BASE is not a valid URL; "
		    "expected one such as https://api.twilio.com");
	} else if (curl_url_get(u, CURLUPART_USER, &user, 0) !=
	    CURLUE_NO_USER) {
		snprintf(err, errsz, "TWILIO_API_BASE must not contain a user "
		    "name or password; set the credentials in "
		    "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN");
	} else if (empty_port(base)) {
		snprintf(err, errsz, "TWILIO_API_BASE \"%s\" has no port "
		    "number after the colon; give the port, or remove the colon "
		    "to use the default port of the scheme", base);
	} else if (t->insecure && !is_loopback(host)) {
		snprintf(err, errsz, "%s=1 applies only to a test server on a "
		    "loopback address, not to TWILIO_API_BASE \"%s\"; unset it",
		    TWILIO_INSECURE_VARIABLE, base);
	} else if (strcmp(scheme, "https") != 0 && (!t->insecure ||
	    strcmp(scheme, "http") != 0)) {
		snprintf(err, errsz, "TWILIO_API_BASE \"%s\" is not an https "
		    "URL; plain http is allowed only to a loopback test server "
		    "with %s=1", base, TWILIO_INSECURE_VARIABLE);
	} else {
		rc = TWILIO_OK;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

int
twilio_init(struct twilio *t, int flags, char *err, size_t errsz)
{
	const char *base = getenv("TWILIO_API_BASE");
	int rc, missing = 0;

	memset(t, 0, sizeof(*t));
	t->timeout_ms = 30000;
	rc = load_credentials(t, err, errsz);
	if (rc == TWILIO_MISSING && (flags & TWILIO_CREDENTIALS_OPTIONAL)) {
		explicit_bzero(t->secret, sizeof(t->secret));
		t->user[0] = t->account_sid[0] = '\0';
		missing = 1;
		rc = TWILIO_OK;
	}
	if (rc != TWILIO_OK)
		return rc;
	if (base != NULL && strlen(base) >= sizeof(t->base)) {
		snprintf(err, errsz, "TWILIO_API_BASE is longer than %zu bytes",
		    sizeof(t->base) - 1);
		return TWILIO_INVALID;
	}
	snprintf(t->base, sizeof(t->base), "%s",
	    base && *base ? base : "https://api.twilio.com");
	while (strlen(t->base) > 0 && t->base[strlen(t->base) - 1] == '/')
		t->base[strlen(t->base) - 1] = '\0';
	if ((rc = check_base(t, t->base, err, errsz)) != TWILIO_OK)
		return rc;
	/* ERR still has the message of the missing credentials. */
	if (missing)
		return TWILIO_MISSING;
	if (flags & TWILIO_CREDENTIALS_OPTIONAL)
		return TWILIO_OK;
	if ((t->multi = curl_multi_init()) == NULL) {
		snprintf(err, errsz, "cannot start libcurl");
		return TWILIO_INVALID;
	}
	return TWILIO_OK;
}

void
twilio_url(const struct twilio *t, char *out, size_t n)
{
	if (t->account_sid[0] == '\0')
		snprintf(out, n, "%s", "");
	else
		snprintf(out, n, "%s/2010-04-01/Accounts/%s/Messages.json",
		    t->base, t->account_sid);
}

void
twilio_auth_masked(const struct twilio *t, char *out, size_t n)
{
	if (t->secret[0] == '\0')
		snprintf(out, n, "%s", "");
	else
		snprintf(out, n, "%s:********", t->user);
}

void
twilio_free(struct twilio *t)
{
	if (t->multi != NULL)
		curl_multi_cleanup(t->multi);
	t->multi = NULL;
	explicit_bzero(t->secret, sizeof(t->secret));
}

/* Append KEY=VALUE, percent-encoded as application/x-www-form-urlencoded. */
static void
form_pair(struct buf *out, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	if (out->len > 0)
		buf_addc(out, '&');
	buf_adds(out, key);
	buf_addc(out, '=');
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL) {
			buf_addc(out, (char)*p);
		} else if (*p == ' ') {
			buf_addc(out, '+');
		} else {
			buf_addc(out, '%');
			buf_addc(out, hex[*p >> 4]);
			buf_addc(out, hex[*p & 15]);
		}
	}
}

void
twilio_form(const struct twilio_request *req, struct buf *out)
{
	int i;

	form_pair(out, "To", req->to);
	if (req->service_sid != NULL)
		form_pair(out, "MessagingServiceSid", req->service_sid);
	else
		form_pair(out, "From", req->from);
	if (req->body != NULL && *req->body != '\0')
		form_pair(out, "Body", req->body);
	for (i = 0; i < req->nmedia; i++)
		form_pair(out, "MediaUrl", req->media[i]);
	if (req->status_callback != NULL)
		form_pair(out, "StatusCallback", req->status_callback);
}

void
twilio_callback_url(const char *base, const char *outbox, struct buf *out)
{
	size_t end = strcspn(base, "#");
	const char *query = memchr(base, '?', end);

	buf_add(out, base, end);
	if (query == NULL)
		buf_addc(out, '?');
	else if (base[end - 1] != '?' && base[end - 1] != '&')
		buf_addc(out, '&');
	buf_adds(out, CONVO_OUTBOX_PARAM "=");
	buf_adds(out, outbox);
	buf_adds(out, base + end);
}

static size_t
collect_body(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (b->len + size * n > 1024 * 1024)
		return 0;
	buf_add(b, data, size * n);
	return size * n;
}

/* Seconds from a Retry-After value: a number, or an HTTP date. */
static long
retry_after(const char *value, size_t len)
{
	char text[128];
	char *end;
	long seconds;
	time_t when;

	snprintf(text, sizeof(text), "%.*s", (int)(len < 127 ? len : 127),
	    value);
	text[strcspn(text, "\r\n")] = '\0';
	seconds = strtol(text, &end, 10);
	if (end != text && seconds >= 0)
		return seconds;
	if ((when = curl_getdate(text, NULL)) < 0)
		return -1;
	return when > time(NULL) ? (long)(when - time(NULL)) : 0;
}

static size_t
collect_header(char *data, size_t size, size_t n, void *arg)
{
	struct twilio_response *res = arg;
	size_t len = size * n;

	if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0)
		res->retry_after_s = retry_after(data + 12, len - 12);
	return len;
}

static void
copy_field(jv obj, const char *key, char *out, size_t n)
{
	jv v = jv_object_get(jv_copy(obj), jv_string(key));

	if (jv_get_kind(v) == JV_KIND_STRING)
		snprintf(out, n, "%s", jv_string_value(v));
	else if (jv_get_kind(v) == JV_KIND_NUMBER)
		snprintf(out, n, "%.0f", jv_number_value(v));
	jv_free(v);
}

/* Read sid, status, code and message from the JSON response, if any. */
static void
parse_answer(const struct buf *body, struct twilio_response *res)
{
	jv obj = body->len > 0 ? jv_parse_sized(body->data, (int)body->len) :
	    jv_invalid();

	if (jv_get_kind(obj) == JV_KIND_OBJECT) {
		copy_field(obj, "sid", res->sid, sizeof(res->sid));
		copy_field(obj, "status", res->status, sizeof(res->status));
		if (res->http_status >= 400) {
			copy_field(obj, "code", res->error_code,
			    sizeof(res->error_code));
			copy_field(obj, "message", res->error_message,
			    sizeof(res->error_message));
		}
	}
	jv_free(obj);
	if (res->http_status >= 400 && res->error_message[0] == '\0')
		snprintf(res->error_message, sizeof(res->error_message),
		    "HTTP status %ld", res->http_status);
}

int
twilio_start(struct twilio *t, struct twilio_call *call,
    const struct twilio_request *req, void *owner)
{
	char url[1024];
	CURL *c;

	memset(call, 0, sizeof(*call));
	call->owner = owner;
	call->res.retry_after_s = -1;
	if ((c = curl_easy_init()) == NULL)
		return -1;
	call->easy = c;
	twilio_form(req, &call->form);
	twilio_url(t, url, sizeof(url));
	curl_easy_setopt(c, CURLOPT_URL, url);
	/*
	 * Redirects are not followed, and only https is used unless the
	 * insecure test setting allows http to loopback. Loopback requests
	 * then bypass any proxy.
	 */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
	    t->insecure ? "http,https" : "https");
	if (t->insecure)
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS,
	    call->form.data ? call->form.data : "");
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(c, CURLOPT_USERNAME, t->user);
	curl_easy_setopt(c, CURLOPT_PASSWORD, t->secret);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, t->insecure ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, t->insecure ? 0L : 2L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	/*
	 * libcurl sends a request again by itself when a reused connection
	 * closes without a response, and a POST to Twilio would then create
	 * a second message. Each request gets a connection of its own.
	 */
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "convo-send/" CONVO_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &call->answer);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &call->res);
	curl_easy_setopt(c, CURLOPT_PRIVATE, call);
	if (curl_multi_add_handle(t->multi, c) != CURLM_OK) {
		twilio_call_free(call);
		return -1;
	}
	t->in_flight++;
	return 0;
}

/* Fill the response of the finished CALL from curl's result RC. */
static void
finish(struct twilio_call *call, CURLcode rc)
{
	curl_off_t pretransfer = 0;

	if (rc != CURLE_OK) {
		call->res.http_status = 0;
		snprintf(call->res.transport_error,
		    sizeof(call->res.transport_error), "%s",
		    curl_easy_strerror(rc));
		/*
		 * A failure before the transfer began (no address, no
		 * connection, a failed TLS handshake) sent nothing. After it,
		 * such as a timeout or a closed connection, the provider may
		 * have taken the request.
		 */
		curl_easy_getinfo(call->easy, CURLINFO_PRETRANSFER_TIME_T,
		    &pretransfer);
		call->res.maybe_sent = pretransfer > 0;
		return;
	}
	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE,
	    &call->res.http_status);
	parse_answer(&call->answer, &call->res);
	/* A gateway's error without Twilio's error body does not show
	 * whether the API behind the gateway took the request. */
	call->res.maybe_sent = (call->res.http_status == 502 ||
	    call->res.http_status == 504) && call->res.error_code[0] == '\0';
}

struct twilio_call *
twilio_next(struct twilio *t, int timeout_ms, int wake_fd)
{
	struct curl_waitfd wake = { .fd = wake_fd, .events = CURL_WAIT_POLLIN };
	struct twilio_call *call;
	CURLMsg *msg;
	int running, left;

	curl_multi_perform(t->multi, &running);
	if ((msg = curl_multi_info_read(t->multi, &left)) == NULL) {
		curl_multi_poll(t->multi, wake_fd >= 0 ? &wake : NULL,
		    wake_fd >= 0 ? 1 : 0, timeout_ms, NULL);
		curl_multi_perform(t->multi, &running);
		msg = curl_multi_info_read(t->multi, &left);
	}
	for (; msg != NULL; msg = curl_multi_info_read(t->multi, &left)) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &call);
		finish(call, msg->data.result);
		curl_multi_remove_handle(t->multi, msg->easy_handle);
		t->in_flight--;
		return call;
	}
	return NULL;
}

void
twilio_limit(struct twilio *t, int n)
{
	curl_multi_setopt(t->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)n);
}

int
twilio_in_flight(const struct twilio *t)
{
	return t->in_flight;
}

void
twilio_call_free(struct twilio_call *call)
{
	if (call->easy != NULL)
		curl_easy_cleanup(call->easy);
	call->easy = NULL;
	buf_free(&call->form);
	buf_free(&call->answer);
}

int
twilio_retryable(const struct twilio_response *res)
{
	return res->http_status == 0 || res->http_status == 429 ||
	    res->http_status >= 500 || strcmp(res->error_code, "20429") == 0;
}
