/*
 * Fuzzes webhook signatures. The input starts with a 4-byte header.
 * Bit 0 of byte 0 picks HMAC-SHA256 and bit 1 adds the body's bodySHA256
 * to the URL, byte 1 is the key length, and bytes 2 and 3 give the
 * position of the byte that is changed. The key, the URL up to a newline
 * and the body follow.
 * Invariants: a signature computed by the library verifies, and
 * changing one byte of the signature, the key, the URL or the body makes
 * it fail. For the body that holds when it has one parameter or when the
 * URL carries its hash. The URL is also parsed as a signature settings header.
 */
#include <openssl/sha.h>

#include "buf.h"
#include "signature.h"
#include "fuzz.h"

#define HEADER_SIZE 4

struct request {
	enum signature_algorithm alg;
	struct signature_key key;
	char *url;
	char *body;
	size_t len;
};

/*
 * Return a copy of URL with a bodySHA256 query parameter, the hex SHA-256
 * of BODY of LEN bytes, added at its end. The caller frees it.
 */
static char *
add_body_hash(const char *url, const char *body, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct buf b = { 0 };
	size_t i;

	SHA256((const unsigned char *)body, len, md);
	buf_adds(&b, url);
	buf_adds(&b, strchr(url, '?') != NULL ? "&" : "?");
	buf_adds(&b, "bodySHA256=");
	for (i = 0; i < sizeof(md); i++) {
		buf_addc(&b, digits[md[i] >> 4]);
		buf_addc(&b, digits[md[i] & 15]);
	}
	return b.data;
}

/*
 * Return 1 when the URL signs only itself and its bodySHA256 is not the
 * hash of the body, so no signature can verify.
 */
static int
body_hash_wrong(const struct request *rq)
{
	char given[2 * SHA256_DIGEST_LENGTH + 1], *with_hash, actual[128];
	size_t i;
	int wrong;

	if (!signature_url_param(rq->url, "bodySHA256", given,
	    sizeof(given)))
		return 0;
	with_hash = add_body_hash("", rq->body, rq->len);
	FUZZ_ASSERT(signature_url_param(with_hash, "bodySHA256", actual,
	    sizeof(actual)));
	for (i = 0; given[i] != '\0'; i++)
		if (given[i] >= 'A' && given[i] <= 'F')
			given[i] += 'a' - 'A';
	wrong = strcmp(given, actual) != 0;
	free(with_hash);
	return wrong;
}

static int
verifies(const struct request *rq, const char *signature)
{
	return signature_verify(rq->alg, &rq->key, rq->url, rq->body,
	    rq->len, signature);
}

/* Check that changing byte AT of each part of RQ breaks SIGNATURE. */
static void
check_changes(struct request *rq, const char *signature, size_t at)
{
	char changed[SIGNATURE_MAX], hash[2 * SHA256_DIGEST_LENGTH + 1];
	unsigned char *key = (unsigned char *)rq->key.data;
	size_t url_len = strlen(rq->url);

	strcpy(changed, signature);
	changed[at % strlen(changed)] ^= 1;
	FUZZ_ASSERT(!verifies(rq, changed));

	if (rq->key.len > 0) {
		key[at % rq->key.len] ^= 1;
		FUZZ_ASSERT(!verifies(rq, signature));
		key[at % rq->key.len] ^= 1;
	}
	/* A byte 0x01 would become a NUL that cuts the URL short. */
	if (url_len > 0 && rq->url[at % url_len] != 1) {
		rq->url[at % url_len] ^= 1;
		FUZZ_ASSERT(!verifies(rq, signature));
		rq->url[at % url_len] ^= 1;
	}
	/*
	 * A parameter repeated with the same value is signed once, so a
	 * change that turns one parameter into a copy of another keeps the
	 * signature. A body must make it fail when it has one parameter, or
	 * when the URL carries its hash.
	 */
	if (rq->len > 0 && (memchr(rq->body, '&', rq->len) == NULL ||
	    signature_url_param(rq->url, "bodySHA256", hash, sizeof(hash)))) {
		rq->body[at % rq->len] ^= 1;
		FUZZ_ASSERT(!verifies(rq, signature));
		rq->body[at % rq->len] ^= 1;
	}
}

static void
check_settings(const char *value)
{
	enum signature_algorithm alg = (enum signature_algorithm)-1;
	char key_id[SIGNATURE_KEY_ID_MAX + 8];

	memset(key_id, 'x', sizeof(key_id));
	if (signature_settings_parse(value, &alg, key_id) == 0)
		FUZZ_ASSERT(alg == SIGNATURE_HMAC_SHA1 ||
		    alg == SIGNATURE_HMAC_SHA256);
	FUZZ_ASSERT(memchr(key_id, '\0', SIGNATURE_KEY_ID_MAX) != NULL);
	FUZZ_ASSERT(memcmp(key_id + SIGNATURE_KEY_ID_MAX, "xxxxxxxx", 8) ==
	    0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request rq;
	char signature[SIGNATURE_MAX], again[SIGNATURE_MAX], *url;
	const uint8_t *p, *end = data + size, *nl;
	size_t at, key_len;

	if (size < HEADER_SIZE)
		return 0;
	rq.alg = data[0] & 1 ? SIGNATURE_HMAC_SHA256 : SIGNATURE_HMAC_SHA1;
	key_len = data[1];
	at = (size_t)data[2] << 8 | data[3];
	p = data + HEADER_SIZE;
	if (key_len > (size_t)(end - p))
		key_len = end - p;
	rq.key.data = fuzz_string(p, key_len);
	rq.key.len = key_len;
	p += key_len;
	nl = memchr(p, '\n', end - p);
	if (nl == NULL)
		nl = end;
	url = fuzz_string(p, nl - p);
	p = nl < end ? nl + 1 : end;
	/* The body is a copy of its own size, so ASan detects a read past it. */
	rq.len = end - p;
	rq.body = malloc(rq.len > 0 ? rq.len : 1);
	FUZZ_ASSERT(rq.body != NULL);
	memcpy(rq.body, p, rq.len);
	rq.url = data[0] & 2 ? add_body_hash(url, rq.body, rq.len) :
	    fuzz_string((const uint8_t *)url, strlen(url));

	check_settings(url);
	FUZZ_ASSERT(signature_compute(rq.alg, &rq.key, rq.url, rq.body,
	    rq.len, signature) == 0);
	FUZZ_ASSERT(strlen(signature) ==
	    (rq.alg == SIGNATURE_HMAC_SHA256 ? 44 : 28));
	FUZZ_ASSERT(signature_compute(rq.alg, &rq.key, rq.url, rq.body,
	    rq.len, again) == 0);
	FUZZ_ASSERT(strcmp(again, signature) == 0);
	if (body_hash_wrong(&rq)) {
		FUZZ_ASSERT(!verifies(&rq, signature));
	} else {
		FUZZ_ASSERT(verifies(&rq, signature));
		check_changes(&rq, signature, at);
	}
	FUZZ_ASSERT(!verifies(&rq, ""));

	free((void *)rq.key.data);
	free(rq.url);
	free(url);
	free(rq.body);
	return 0;
}
