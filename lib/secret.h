/*
 * Files that may contain secrets (auth tokens, API secrets, shared keys,
 * or settings files that may set one), read only when group and others
 * can neither read nor write them.
 */
#ifndef CONVO_SECRET_H
#define CONVO_SECRET_H

#include <stddef.h>
#include <sys/types.h>

/* Largest secret file read, in bytes, with room for the NUL. */
#define SECRET_FILE_MAX 4096

/*
 * Read the regular file PATH into OUT, at most SIZE - 1 bytes, and end
 * it with a NUL. Rejects a file whose mode has any group or other read
 * or write bit, checked on the open file. Returns its length, or -1
 * with a message in ERR that names the file. For a bad mode the message
 * also gives the mode and the chmod that fixes it. No message contains
 * any of the file's content, and OUT is wiped on failure.
 */
ssize_t secret_file_read(const char *path, char *out, size_t size,
    char *err, size_t errsz);

#endif
