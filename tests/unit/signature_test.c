#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "buf.h"
#include "signature.h"
#include "unit.h"

#define TOKEN "secret-token"
#define SHARED "shared-key"
#define URL "https://example.com/hook"
#define FORM "To=%2B15005550006&Body=Hello+world&From=%2B15005550101"
#define JSON "{\"a\":1}"
/* The hex SHA-256 of JSON. */
#define JSON_HASH \
	"015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"

/*
 * Expected signatures were computed with OpenSSL 3.0, for example
 *   printf '%s' 'https://example.com/hooka1a2' |
 *       openssl dgst -sha1 -hmac secret-token -binary | base64
 * where the string is the URL and the sorted names and values.
 */
struct compute_case {
	const char	*name;
	enum signature_algorithm alg;
	const char	*key;
	const char	*url;
	const char	*body;
	const char	*want;
};

static const struct compute_case compute_cases[] = {
	{ "parameters sorted by name", SIGNATURE_HMAC_SHA1, TOKEN, URL, FORM,
	    "di0CuTX2Ly6Kfk6VN8PfchCW2fM=" },
	{ "repeated value signed once", SIGNATURE_HMAC_SHA1, TOKEN, URL,
	    "a=2&a=1&a=2", "yl298cei81nqbbXe/CijjRxqSYY=" },
	{ "empty value and bare name", SIGNATURE_HMAC_SHA1, TOKEN, URL,
	    "b=&&c", "gT0I2pcjNMQ+6lOewOm3wULlZ9Q=" },
	{ "malformed escape kept", SIGNATURE_HMAC_SHA1, TOKEN, URL,
	    "Body=100%zz", "ZsPHvCDSdgFUJng7CiZW/QHvS2s=" },
	{ "byte order of names", SIGNATURE_HMAC_SHA1, TOKEN, URL,
	    "%C3%A9=1&ab=1&a=2&zz=&B=3", "HIlCiujGQ/0SJmrARTvcQ3kz6tY=" },
	{ "HMAC-SHA256 with shared key", SIGNATURE_HMAC_SHA256, SHARED, URL,
	    FORM, "UHRY07tUUzg8InGWGUHKcWBLTiAbjc5faAA/SSG98rI=" },
	{ "JSON body signs URL only", SIGNATURE_HMAC_SHA1, TOKEN,
	    URL "?bodySHA256=" JSON_HASH, JSON,
	    "bGsjT/fxIkxIRF9PXxCvUnGgrgk=" },
	{ "JSON body with HMAC-SHA256", SIGNATURE_HMAC_SHA256, SHARED,
	    URL "?bodySHA256=" JSON_HASH, JSON,
	    "qJLDoJLQ1vEEr5SR2yQGJNVC9yobXPPodiHEfvB9RuI=" },
};

struct verify_case {
	const char	*name;
	enum signature_algorithm alg;
	const char	*key;
	const char	*url;
	const char	*body;
	const char	*signature;
	int		 want;
};

static const struct verify_case verify_cases[] = {
	{ "valid form", SIGNATURE_HMAC_SHA1, TOKEN, URL, FORM,
	    "di0CuTX2Ly6Kfk6VN8PfchCW2fM=", 1 },
	{ "parameter order ignored", SIGNATURE_HMAC_SHA1, TOKEN, URL,
	    "From=%2B15005550101&To=%2B15005550006&Body=Hello%20world",
	    "di0CuTX2Ly6Kfk6VN8PfchCW2fM=", 1 },
	{ "changed parameter", SIGNATURE_HMAC_SHA1, TOKEN, URL,
	    "To=%2B15005550006&Body=Hello+World&From=%2B15005550101",
	    "di0CuTX2Ly6Kfk6VN8PfchCW2fM=", 0 },
	{ "added parameter", SIGNATURE_HMAC_SHA1, TOKEN, URL, FORM "&x=",
	    "di0CuTX2Ly6Kfk6VN8PfchCW2fM=", 0 },
	{ "other token", SIGNATURE_HMAC_SHA1, "secret-tokem", URL, FORM,
	    "di0CuTX2Ly6Kfk6VN8PfchCW2fM=", 0 },
	{ "other URL", SIGNATURE_HMAC_SHA1, TOKEN, URL "2", FORM,
	    "di0CuTX2Ly6Kfk6VN8PfchCW2fM=", 0 },
	{ "http for https", SIGNATURE_HMAC_SHA1, TOKEN,
	    "http://example.com/hook", FORM,
	    "di0CuTX2Ly6Kfk6VN8PfchCW2fM=", 0 },
	{ "empty signature", SIGNATURE_HMAC_SHA1, TOKEN, URL, FORM, "", 0 },
	{ "truncated signature", SIGNATURE_HMAC_SHA1, TOKEN, URL, FORM,
	    "di0CuTX2Ly6Kfk6VN8PfchCW2fM", 0 },
	{ "SHA-1 signature for SHA-256", SIGNATURE_HMAC_SHA256, TOKEN, URL,
	    FORM, "di0CuTX2Ly6Kfk6VN8PfchCW2fM=", 0 },
	{ "signed with :443, sent without", SIGNATURE_HMAC_SHA1, TOKEN,
	    URL, "Body=Hi", "OfH/GhjInCavzKKwmzMBQcFz8mA=", 1 },
	{ "signed without :443, sent with", SIGNATURE_HMAC_SHA1, TOKEN,
	    "https://example.com:443/hook", "Body=Hi",
	    "TTduW6ofFz5RFwv6pQIxhu3xXvc=", 1 },
	{ "http signed with :80", SIGNATURE_HMAC_SHA1, TOKEN,
	    "http://example.com/hook", "Body=Hi",
	    "arc5jbgN2HsdS8emWt8qFmAshfg=", 1 },
	{ "other port, signed without", SIGNATURE_HMAC_SHA1, TOKEN,
	    "https://example.com:8443/hook", "Body=Hi",
	    "TTduW6ofFz5RFwv6pQIxhu3xXvc=", 1 },
	{ "other port, signed with", SIGNATURE_HMAC_SHA1, TOKEN,
	    "https://example.com:8443/hook", "Body=Hi",
	    "AwjcG2XhZ7NEYOxZ5sKanu2gJd8=", 1 },
	{ "port not in URL is no match", SIGNATURE_HMAC_SHA1, TOKEN, URL,
	    "Body=Hi", "AwjcG2XhZ7NEYOxZ5sKanu2gJd8=", 0 },
	{ "valid JSON", SIGNATURE_HMAC_SHA1, TOKEN,
	    URL "?bodySHA256=" JSON_HASH, JSON,
	    "bGsjT/fxIkxIRF9PXxCvUnGgrgk=", 1 },
	{ "changed JSON body", SIGNATURE_HMAC_SHA1, TOKEN,
	    URL "?bodySHA256=" JSON_HASH, "{\"a\":2}",
	    "bGsjT/fxIkxIRF9PXxCvUnGgrgk=", 0 },
	{ "valid HMAC-SHA256", SIGNATURE_HMAC_SHA256, SHARED, URL, FORM,
	    "UHRY07tUUzg8InGWGUHKcWBLTiAbjc5faAA/SSG98rI=", 1 },
	{ "HMAC-SHA256 with token", SIGNATURE_HMAC_SHA256, TOKEN, URL, FORM,
	    "UHRY07tUUzg8InGWGUHKcWBLTiAbjc5faAA/SSG98rI=", 0 },
};

static struct signature_key
key_of(const char *s)
{
	struct signature_key key = { s, strlen(s) };

	return key;
}

static void
test_compute(void)
{
	const struct compute_case *c;
	struct signature_key key;
	char out[SIGNATURE_MAX];
	size_t i;

	for (i = 0; i < sizeof(compute_cases) / sizeof(*c); i++) {
		c = &compute_cases[i];
		key = key_of(c->key);
		if (signature_compute(c->alg, &key, c->url, c->body,
		    strlen(c->body), out) != 0)
			strcpy(out, "(failed)");
		unit_check_str(out, c->want, c->name);
	}
}

static void
test_verify(void)
{
	const struct verify_case *c;
	struct signature_key key;
	size_t i;
	int got;

	for (i = 0; i < sizeof(verify_cases) / sizeof(*c); i++) {
		c = &verify_cases[i];
		key = key_of(c->key);
		got = signature_verify(c->alg, &key, c->url, c->body,
		    strlen(c->body), c->signature);
		unit_check(got == c->want, c->name);
		if (got != c->want)
			printf("#   got %d, expected %d\n", got, c->want);
	}
}

struct settings_case {
	const char	*name;
	const char	*header;
	int		 rc;
	enum signature_algorithm alg;
	const char	*key_id;
};

static const struct settings_case settings_cases[] = {
	{ "key and SHA-256", "key=KS01,algorithm=HMAC_SHA256", 0,
	    SIGNATURE_HMAC_SHA256, "KS01" },
	{ "spaces and order", " algorithm = HMAC_SHA1 , key = KS02 ", 0,
	    SIGNATURE_HMAC_SHA1, "KS02" },
	{ "empty key", "key=,algorithm=HMAC_SHA256", 0,
	    SIGNATURE_HMAC_SHA256, "" },
	{ "lower-case algorithm", "algorithm=hmac_sha256", 0,
	    SIGNATURE_HMAC_SHA256, "" },
	{ "unknown algorithm", "key=KS01,algorithm=HMAC_MD5", -1,
	    SIGNATURE_HMAC_SHA1, "" },
	{ "no algorithm", "key=KS01", -1, SIGNATURE_HMAC_SHA1, "" },
	{ "similar name", "keyid=x,algorithms=HMAC_SHA256", -1,
	    SIGNATURE_HMAC_SHA1, "" },
};

static void
test_settings(void)
{
	const struct settings_case *c;
	enum signature_algorithm alg;
	char key_id[SIGNATURE_KEY_ID_MAX], name[128];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(settings_cases) / sizeof(*c); i++) {
		c = &settings_cases[i];
		alg = SIGNATURE_HMAC_SHA1;
		rc = signature_settings_parse(c->header, &alg, key_id);
		snprintf(name, sizeof(name), "settings: %s: result", c->name);
		unit_check(rc == c->rc, name);
		if (rc != 0)
			continue;
		snprintf(name, sizeof(name), "settings: %s: algorithm",
		    c->name);
		unit_check(alg == c->alg, name);
		snprintf(name, sizeof(name), "settings: %s: key", c->name);
		unit_check_str(key_id, c->key_id, name);
	}
}

static void
test_url_param(void)
{
	char out[16];

	unit_check(signature_url_param("https://h/p?a=1&b=22#f", "b", out,
	    sizeof(out)) && strcmp(out, "22") == 0, "URL parameter found");
	unit_check(!signature_url_param("https://h/p?ab=1", "a", out,
	    sizeof(out)), "URL parameter prefix is no match");
	unit_check(!signature_url_param("https://h/p#a=1", "a", out,
	    sizeof(out)), "URL fragment is no query");
	unit_check(!signature_url_param("https://h/p?a=0123456789abcdef",
	    "a", out, sizeof(out)), "URL parameter too long");
}

static void
test_body_matches(void)
{
	char upper[] = URL "?bodySHA256=" JSON_HASH;
	char *p;

	for (p = strchr(upper, '=') + 1; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p -= 'a' - 'A';
	unit_check(signature_body_matches(URL "?bodySHA256=" JSON_HASH,
	    JSON, strlen(JSON)), "body hash matches");
	unit_check(signature_body_matches(upper, JSON, strlen(JSON)),
	    "body hash in upper case matches");
	unit_check(!signature_body_matches(URL "?bodySHA256=" JSON_HASH,
	    "{\"a\":2}", 7), "body hash of other body");
	unit_check(!signature_body_matches(URL "?bodySHA256=", JSON,
	    strlen(JSON)), "empty body hash");
	unit_check(signature_body_matches(URL, JSON, strlen(JSON)),
	    "URL without body hash");
	unit_check(signature_body_matches(URL "?bodySHA256=" JSON_HASH "0",
	    JSON, strlen(JSON)), "overlong body hash counts as absent");
}

/* Append S to B form-encoded, as Twilio sends parameters. */
static void
add_escaped(struct buf *b, const char *s)
{
	char hex[4];

	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s) != NULL) {
			buf_addc(b, *s);
			continue;
		}
		snprintf(hex, sizeof(hex), "%%%02X", (unsigned char)*s);
		buf_adds(b, hex);
	}
}

static void
add_param(struct buf *b, jv name, jv value)
{
	if (b->len > 0)
		buf_addc(b, '&');
	add_escaped(b, jv_string_value(name));
	buf_addc(b, '=');
	add_escaped(b, jv_string_value(value));
	jv_free(name);
	jv_free(value);
}

/* Build the body of corpus case C: a form, or the JSON text. */
static void
corpus_body(jv c, struct buf *body)
{
	jv params = jv_object_get(jv_copy(c), jv_string("params"));
	jv multi = jv_object_get(jv_copy(c), jv_string("params_multi"));
	jv json = jv_object_get(jv_copy(c), jv_string("json_body"));

	if (jv_get_kind(json) == JV_KIND_STRING)
		buf_adds(body, jv_string_value(json));
	if (jv_get_kind(params) == JV_KIND_OBJECT) {
		jv_object_foreach(params, name, value)
			add_param(body, name, value);
	}
	jv_free(params);
	if (jv_get_kind(multi) == JV_KIND_ARRAY) {
		jv_array_foreach(multi, i, pair)
			add_param(body, jv_array_get(jv_copy(pair), 0),
			    jv_array_get(pair, 1));
	}
	jv_free(multi);
	jv_free(json);
}

static void
check_corpus_case(jv c, const char *token, int n)
{
	struct signature_key key = key_of(token);
	struct buf body = { 0 };
	jv url = jv_object_get(jv_copy(c), jv_string("url"));
	jv want = jv_object_get(jv_copy(c), jv_string("expected"));
	jv valid_with = jv_object_get(jv_copy(c),
	    jv_string("expected_valid_with"));
	char out[SIGNATURE_MAX], name[64];

	corpus_body(c, &body);
	if (jv_get_kind(want) == JV_KIND_STRING) {
		if (signature_compute(SIGNATURE_HMAC_SHA1, &key,
		    jv_string_value(url), body.data ? body.data : "", body.len,
		    out) != 0)
			strcpy(out, "(failed)");
		snprintf(name, sizeof(name), "corpus vector %d: computed", n);
		unit_check_str(out, jv_string_value(want), name);
	} else {
		jv_free(want);
		want = valid_with;
		valid_with = jv_null();
	}
	snprintf(name, sizeof(name), "corpus vector %d: valid", n);
	unit_check(signature_verify(SIGNATURE_HMAC_SHA1, &key,
	    jv_string_value(url), body.data ? body.data : "", body.len,
	    jv_string_value(want)) == 1, name);
	buf_free(&body);
	jv_free(url);
	jv_free(want);
	jv_free(valid_with);
	jv_free(c);
}

/* Check the vectors of twilio-python's tests that the corpus keeps. */
static void
test_corpus(void)
{
	const char *corpus = getenv("CONVO_CORPUS");
	char path[4096];
	jv file, token, cases;

	if (corpus == NULL || *corpus == '\0') {
		printf("ok %d - corpus vectors # skip CONVO_CORPUS not set\n",
		    ++unit_count);
		return;
	}
	snprintf(path, sizeof(path), "%s/twilio/signature_vectors.json",
	    corpus);
	file = jv_load_file(path, 0);
	if (!jv_is_valid(file) || jv_array_length(jv_copy(file)) != 1) {
		unit_check(0, "corpus vectors: file loads");
		printf("#   cannot read \"%s\"\n", path);
		jv_free(file);
		return;
	}
	file = jv_array_get(file, 0);
	token = jv_object_get(jv_copy(file), jv_string("auth_token"));
	cases = jv_object_get(file, jv_string("cases"));
	unit_check(jv_array_length(jv_copy(cases)) > 0,
	    "corpus vectors: cases present");
	jv_array_foreach(cases, i, c)
		check_corpus_case(c, jv_string_value(token), i + 1);
	jv_free(cases);
	jv_free(token);
}

int
main(void)
{
	test_compute();
	test_verify();
	test_settings();
	test_url_param();
	test_body_matches();
	test_corpus();
	return unit_done();
}
