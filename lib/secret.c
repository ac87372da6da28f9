#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "secret.h"

/* Group and other read or write bits. */
#define SHARED_BITS (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)

/*
 * Return 0 when the open file FD, named PATH, is a regular file that
 * only its owner can read or write, else fill ERR and return -1.
 */
static int
check_file(int fd, const char *path, char *err, size_t errsz)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errsz, "cannot read \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "\"%s\" is not a regular file", path);
		return -1;
	}
	if ((st.st_mode & SHARED_BITS) != 0) {
		snprintf(err, errsz, "\"%s\" has mode %04o, but it may hold "
		    "secrets, so group and others must not read or write it; "
		    "run chmod go-rw \"%s\"", path,
		    (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

ssize_t
secret_file_read(const char *path, char *out, size_t size, char *err,
    size_t errsz)
{
	ssize_t n = 0;
	size_t len = 0;
	int fd;

	/* O_NONBLOCK keeps the open of a FIFO from waiting for a writer. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errsz, "cannot read \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	if (check_file(fd, path, err, errsz) != 0) {
		close(fd);
		return -1;
	}
	while (len < size) {
		n = read(fd, out + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (n < 0)
		snprintf(err, errsz, "cannot read \"%s\": %s", path,
		    strerror(errno));
	else if (len >= size)
		snprintf(err, errsz, "\"%s\" is larger than %zu bytes", path,
		    size - 1);
	close(fd);
	if (n < 0 || len >= size) {
		OPENSSL_cleanse(out, size);
		return -1;
	}
	out[len] = '\0';
	return (ssize_t)len;
}
