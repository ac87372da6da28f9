/*
 * Twilio webhook signatures (X-Twilio-Signature): the base64 HMAC of the
 * request URL followed by the POST parameters sorted by name, each as
 * name and value with no separator. A JSON webhook carries the hex
 * SHA-256 of its body in the URL parameter bodySHA256, and only the URL
 * is signed. The key is the account's auth token with HMAC-SHA1, unless
 * the X-Twilio-Webhooks-Signature-Settings header names a shared key and
 * its algorithm.
 */
#ifndef CONVO_SIGNATURE_H
#define CONVO_SIGNATURE_H

#include <stddef.h>

/* Size of a base64 signature buffer; HMAC-SHA256 takes 44 characters. */
#define SIGNATURE_MAX 64

/* Size of a bodySHA256 buffer: 64 hex digits and a NUL. */
#define SIGNATURE_BODY_HASH_MAX 65

/* Maximum size of a key id from the signature settings header. */
#define SIGNATURE_KEY_ID_MAX 128

enum signature_algorithm {
	SIGNATURE_HMAC_SHA1,
	SIGNATURE_HMAC_SHA256,
};

/* A secret key: the auth token or a shared key, not NUL-terminated. */
struct signature_key {
	const void *data;
	size_t len;
};

/*
 * Compute the signature of a request to URL with BODY of LEN bytes into
 * OUT as base64 with a NUL. When URL has a bodySHA256 query parameter,
 * only URL is signed. Otherwise BODY is read as a form whose malformed
 * escapes stay as they are, so that every body has a signature. Returns
 * 0, or -1 when libcrypto fails.
 */
int signature_compute(enum signature_algorithm alg,
    const struct signature_key *key, const char *url, const char *body,
    size_t len, char out[SIGNATURE_MAX]);

/*
 * Return 1 when SIGNATURE is valid for a request to URL with BODY, else
 * 0. As in twilio-python's RequestValidator and twilio-node's
 * validateRequest, the URL is tried without its port and with one, and
 * a URL without a port gets the scheme's default (443 for https, else
 * 80). So a signature over https://host/p is also valid for
 * https://host:8443/p.
 * A URL with bodySHA256 also needs that value to be the hex SHA-256 of
 * BODY. Comparisons take constant time.
 */
int signature_verify(enum signature_algorithm alg,
    const struct signature_key *key, const char *url, const char *body,
    size_t len, const char *signature);

/*
 * Return 1 when URL has no bodySHA256 query parameter or its value, in
 * either case of hex digits, is the SHA-256 of BODY, else 0. The
 * comparison takes constant time.
 */
int signature_body_matches(const char *url, const char *body, size_t len);

/*
 * Parse VALUE, the X-Twilio-Webhooks-Signature-Settings header, such as
 * "key=KS0123,algorithm=HMAC_SHA256". Sets *ALG and copies the key id
 * (empty when absent) into KEY_ID. Returns 0, or -1 when the algorithm
 * is missing or neither HMAC_SHA1 nor HMAC_SHA256.
 */
int signature_settings_parse(const char *value,
    enum signature_algorithm *alg, char key_id[SIGNATURE_KEY_ID_MAX]);

/*
 * Copy the value of query parameter NAME of URL, as it is written there,
 * into OUT of SIZE bytes. Returns 1 when found and it fits, else 0.
 */
int signature_url_param(const char *url, const char *name, char *out,
    size_t size);

#endif
