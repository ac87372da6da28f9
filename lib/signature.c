#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "buf.h"
#include "signature.h"

/*
 * A bodySHA256 value too long for this buffer is no SHA-256, and
 * signature_url_param() then reports it absent.
 */
_Static_assert(SIGNATURE_BODY_HASH_MAX == 2 * SHA256_DIGEST_LENGTH + 1,
    "bodySHA256 holds a hex SHA-256");

/* One decoded form parameter, pointing into a shared buffer. */
struct param {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

static int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode N bytes at S into OUT, which has room for N bytes, and return
 * the decoded length. '+' is a space and %XX a byte; a '%' without two
 * hex digits is kept, as Python's unquote_plus and WHATWG keep it.
 */
static size_t
form_unescape(const char *s, size_t n, char *out)
{
	size_t i, len = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[len++] = ' ';
			continue;
		}
		hi = s[i] == '%' && i + 2 < n ? hex_digit(s[i + 1]) : -1;
		lo = hi >= 0 ? hex_digit(s[i + 2]) : -1;
		if (lo < 0) {
			out[len++] = s[i];
			continue;
		}
		out[len++] = (char)(hi << 4 | lo);
		i += 2;
	}
	return len;
}

/*
 * Split the form BODY into PARAMS (at most LEN / 2 + 1 of them), decoded
 * into TEXT, which has room for LEN bytes. Empty pairs are skipped and a
 * pair without '=' has an empty value. Returns the number of parameters.
 */
static size_t
form_split(const char *body, size_t len, char *text, struct param *params)
{
	const char *pair, *end, *eq;
	size_t count = 0, used = 0;

	for (pair = body; pair < body + len; pair = end + 1) {
		end = memchr(pair, '&', body + len - pair);
		if (end == NULL)
			end = body + len;
		if (end == pair)
			continue;
		eq = memchr(pair, '=', end - pair);
		if (eq == NULL)
			eq = end;
		params[count].name = text + used;
		params[count].name_len = form_unescape(pair, eq - pair,
		    text + used);
		used += params[count].name_len;
		params[count].value = text + used;
		params[count].value_len = eq < end ?
		    form_unescape(eq + 1, end - eq - 1, text + used) : 0;
		used += params[count].value_len;
		count++;
	}
	return count;
}

static int
compare_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

/* Order by name, then by value, byte by byte as in Unicode order. */
static int
compare_params(const void *x, const void *y)
{
	const struct param *a = x, *b = y;
	int c = compare_bytes(a->name, a->name_len, b->name, b->name_len);

	if (c != 0)
		return c;
	return compare_bytes(a->value, a->value_len, b->value, b->value_len);
}

/*
 * Append the parameters of the form BODY to DATA sorted by name and
 * value. A parameter repeated with the same value counts once, as in
 * twilio-python and twilio-node, which sign each distinct value.
 */
static void
append_sorted_params(struct buf *data, const char *body, size_t len)
{
	struct param *params, *prev = NULL;
	char *text;
	size_t i, count;

	params = xmalloc((len / 2 + 1) * sizeof(*params));
	text = xmalloc(len + 1);
	count = form_split(body, len, text, params);
	qsort(params, count, sizeof(*params), compare_params);
	for (i = 0; i < count; i++) {
		if (prev != NULL && compare_params(prev, &params[i]) == 0)
			continue;
		buf_add(data, params[i].name, params[i].name_len);
		buf_add(data, params[i].value, params[i].value_len);
		prev = &params[i];
	}
	free(text);
	free(params);
}

static const EVP_MD *
digest_of(enum signature_algorithm alg)
{
	return alg == SIGNATURE_HMAC_SHA256 ? EVP_sha256() : EVP_sha1();
}

int
signature_compute(enum signature_algorithm alg,
    const struct signature_key *key, const char *url, const char *body,
    size_t len, char out[SIGNATURE_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	struct buf data = { 0 };
	char hash[SIGNATURE_BODY_HASH_MAX];
	int ok;

	buf_adds(&data, url);
	if (!signature_url_param(url, "bodySHA256", hash, sizeof(hash)))
		append_sorted_params(&data, body, len);
	ok = data.len <= (size_t)INT_MAX && key->len <= (size_t)INT_MAX &&
	    HMAC(digest_of(alg), key->data, (int)key->len,
	    (const unsigned char *)data.data, data.len, md, &md_len) != NULL;
	buf_free(&data);
	if (!ok)
		return -1;
	/* EVP_EncodeBlock writes 4 characters per 3 bytes and a NUL. */
	EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

/* Write the lower-case hex SHA-256 of BODY to OUT. */
static void
body_sha256(const char *body, size_t len, char out[SIGNATURE_BODY_HASH_MAX])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256((const unsigned char *)body, len, md);
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * i] = '\0';
}

/* Compare two strings in time that depends only on their lengths. */
static int
strings_equal(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);

	return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

int
signature_body_matches(const char *url, const char *body, size_t len)
{
	char given[SIGNATURE_BODY_HASH_MAX], actual[SIGNATURE_BODY_HASH_MAX];
	size_t i;

	if (!signature_url_param(url, "bodySHA256", given, sizeof(given)))
		return 1;
	for (i = 0; given[i] != '\0'; i++)
		if (given[i] >= 'A' && given[i] <= 'F')
			given[i] += 'a' - 'A';
	body_sha256(body, len, actual);
	return strings_equal(given, actual);
}

/*
 * Find the port of URL: *START is the index of its ':' (or where one
 * would go) and *END the index after its digits. Returns 1 when URL has
 * a port, 0 when not, -1 when URL has no "scheme://".
 */
static int
find_port(const char *url, size_t *start, size_t *end)
{
	const char *authority, *host, *stop, *p;

	if ((p = strstr(url, "://")) == NULL)
		return -1;
	authority = p + 3;
	stop = authority + strcspn(authority, "/?#");
	host = authority;
	for (p = authority; p < stop; p++)
		if (*p == '@')
			host = p + 1;
	if (*host == '[') {
		p = memchr(host, ']', stop - host);
		host = p != NULL ? p + 1 : stop;
	}
	p = memchr(host, ':', stop - host);
	*start = (p != NULL ? p : stop) - url;
	*end = stop - url;
	return p != NULL;
}

/* Write URL without its port to WITHOUT, and with one to WITH_PORT. */
static void
url_variants(const char *url, struct buf *without, struct buf *with_port)
{
	size_t start, end;
	int has_port = find_port(url, &start, &end);

	buf_adds(without, url);
	buf_adds(with_port, url);
	if (has_port < 0)
		return;
	buf_reset(without);
	buf_reset(with_port);
	buf_add(without, url, start);
	buf_adds(without, url + end);
	buf_add(with_port, url, start);
	if (has_port)
		buf_add(with_port, url + start, end - start);
	else if (strncasecmp(url, "https:", 6) == 0)
		buf_adds(with_port, ":443");
	else
		buf_adds(with_port, ":80");
	buf_adds(with_port, url + end);
}

/* Return 1 when SIGNATURE is the signature of a request to URL. */
static int
matches(enum signature_algorithm alg, const struct signature_key *key,
    const char *url, const char *body, size_t len, const char *signature)
{
	char expected[SIGNATURE_MAX];
	int equal;

	if (signature_compute(alg, key, url, body, len, expected) != 0)
		return 0;
	equal = strings_equal(expected, signature);
	OPENSSL_cleanse(expected, sizeof(expected));
	return equal;
}

int
signature_verify(enum signature_algorithm alg,
    const struct signature_key *key, const char *url, const char *body,
    size_t len, const char *signature)
{
	struct buf without = { 0 }, with_port = { 0 };
	int valid;

	if (signature == NULL || *signature == '\0')
		return 0;
	url_variants(url, &without, &with_port);
	/* Both are computed, so the time does not tell which one matched. */
	valid = matches(alg, key, without.data, body, len, signature);
	valid |= matches(alg, key, with_port.data, body, len, signature);
	valid &= signature_body_matches(url, body, len);
	buf_free(&without);
	buf_free(&with_port);
	return valid;
}

int
signature_url_param(const char *url, const char *name, char *out,
    size_t size)
{
	const char *p = strchr(url, '?'), *end, *value;
	size_t name_len = strlen(name), n;

	if (p == NULL)
		return 0;
	for (p++; *p != '\0' && *p != '#'; p = *end == '&' ? end + 1 : end) {
		end = p + strcspn(p, "&#");
		if ((size_t)(end - p) <= name_len || p[name_len] != '=' ||
		    strncmp(p, name, name_len) != 0)
			continue;
		value = p + name_len + 1;
		n = end - value;
		if (n >= size)
			return 0;
		memcpy(out, value, n);
		out[n] = '\0';
		return 1;
	}
	return 0;
}

/* Copy the value of setting NAME in the settings header VALUE to OUT. */
static int
setting(const char *value, const char *name, char *out, size_t size)
{
	const char *p, *end, *v;
	size_t name_len = strlen(name), n;

	for (p = value; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		p += strspn(p, " \t");
		end = p + strcspn(p, ",");
		if (strncasecmp(p, name, name_len) != 0)
			continue;
		v = p + name_len + strspn(p + name_len, " \t");
		if (*v != '=')
			continue;
		v++;
		v += strspn(v, " \t");
		n = end - v;
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n >= size)
			return 0;
		memcpy(out, v, n);
		out[n] = '\0';
		return 1;
	}
	return 0;
}

/*
 * twilio-node's examples/WebhookSignatureValidation.md gives the header
 * as "key=...,algorithm=HMAC_SHA256", and the signed text is the same.
 * HMAC_SHA1, Twilio's default algorithm, is accepted by analogy.
 * TODO: no source confirms that key= names the SharedKey, or HMAC_SHA1.
 */
int
signature_settings_parse(const char *value,
    enum signature_algorithm *alg, char key_id[SIGNATURE_KEY_ID_MAX])
{
	char name[32];

	if (!setting(value, "key", key_id, SIGNATURE_KEY_ID_MAX))
		key_id[0] = '\0';
	if (!setting(value, "algorithm", name, sizeof(name)))
		return -1;
	if (strcasecmp(name, "HMAC_SHA256") == 0)
		*alg = SIGNATURE_HMAC_SHA256;
	else if (strcasecmp(name, "HMAC_SHA1") == 0)
		*alg = SIGNATURE_HMAC_SHA1;
	else
		return -1;
	return 0;
}
