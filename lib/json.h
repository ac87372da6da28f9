/*
 * Compact JSON text of jv values, byte for byte what jv_dump_string(v, 0)
 * of libjq 1.6 returns, written straight into a buffer.
 */
#ifndef CONVO_JSON_H
#define CONVO_JSON_H

#include <jv.h>

#include "buf.h"

/*
 * Append the JSON text of V to B and free V. V must be valid. libjq
 * appends to its own string one piece at a time, which took a tenth of
 * the CPU time of convo-list in perf profiles of a 50-record page.
 */
void json_append(struct buf *b, jv v);

/*
 * Return the length of the parse error MSG of libjq without the
 * " (while parsing '...')" that libjq 1.6 appends, which repeats the
 * whole input and so can be as long as the longest line.
 */
int json_parse_error_length(const char *msg);

/*
 * Parse the JSON text LINE of LEN bytes, one input line. On failure,
 * return an invalid jv whose message is the reason: "invalid UTF-8 at
 * column N", "invalid JSON at column N: " and libjq's error without its
 * position, or "invalid JSON: " and libjq's error when it names none.
 * Columns count bytes from 1.
 */
jv json_parse_line(const char *line, size_t len);

#endif
