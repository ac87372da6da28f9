/*
 * Helpers shared by the libFuzzer harnesses. A broken invariant prints
 * where and what failed and aborts, so libFuzzer reports it as a crash
 * and saves the input that caused it.
 */
#ifndef CONVO_FUZZ_H
#define CONVO_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void
fuzz_fail(const char *file, int line, const char *condition)
{
	fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line,
	    condition);
	abort();
}

#define FUZZ_ASSERT(c) \
	((c) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #c))

/*
 * Return a NUL-terminated copy of the SIZE bytes at DATA, which the
 * caller frees. An input byte 0 ends the string early, as it would in a
 * C string read from a record.
 */
static inline char *
fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * Read every byte of every string in V (borrowed), keys included, and
 * return their sum. The harnesses are built with AddressSanitizer and
 * libjq is not, so this read in harness code is what reports a string
 * that a jv_free() too many has released while V still refers to it.
 * The terminating NUL is read too, so an empty string is checked.
 */
static inline unsigned
fuzz_touch(jv v)
{
	const char *s;
	unsigned sum = 0;
	int i, n;

	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		s = jv_string_value(v);
		n = jv_string_length_bytes(jv_copy(v));
		for (i = 0; i <= n; i++)
			sum += (unsigned char)s[i];
		break;
	case JV_KIND_ARRAY:
		jv_array_foreach(v, index, item) {
			sum += fuzz_touch(item);
			jv_free(item);
		}
		break;
	case JV_KIND_OBJECT:
		jv_object_foreach(v, key, value) {
			sum += fuzz_touch(key) + fuzz_touch(value);
			jv_free(key);
			jv_free(value);
		}
		break;
	default:
		break;
	}
	return sum;
}

/* Check that every string of V (borrowed) is still allocated. */
static inline void
fuzz_check_alive(jv v)
{
	unsigned sum = fuzz_touch(v);

	/* An empty asm that uses the sum keeps the reads from being elided. */
	__asm__ __volatile__("" : : "r"(sum));
}

#endif
