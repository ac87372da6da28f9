#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jv.h>
#include <openssl/evp.h>

#include "buf.h"
#include "cli.h"
#include "convo.h"
#include "form.h"
#include "ingest.h"
#include "linereader.h"
#include "spool.h"
#include "timeutil.h"
#include "views.h"

/* The directories of a spool; tmp is the producers' own. */
static const char *const spool_dirs[] = { "tmp", "new", "cur", "failed" };

enum file_state {
	FILE_READING,		/* lines are still being added */
	FILE_READ,		/* every line is in the batch */
	FILE_UNREADABLE,	/* stays in new for the next run */
};

/* A file whose lines are in the current batch. */
struct spool_file {
	char *name;		/* its name in new */
	char *path;		/* DIR/new/NAME, as results show it */
	enum file_state state;
	long long rejected;
	struct buf reason;	/* "line N: error" for each rejected line */
};

/* One spool_ingest() call: the files of the batch and where they go. */
struct spool_run {
	struct spool *sp;
	struct ingest *in;
	struct spool_file *files;
	size_t nfiles;
	size_t cursor;		/* the file that results now belong to */
	int status;
};

static int
open_subdir(struct spool *sp, const char *name)
{
	int fd;

	if (mkdirat(sp->dir_fd, name, 0770) != 0 && errno != EEXIST) {
		warn("cannot create \"%s/%s\"", sp->dir, name);
		return -1;
	}
	fd = openat(sp->dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		warn("cannot open \"%s/%s\"", sp->dir, name);
	return fd;
}

int
spool_open(struct spool *sp, const char *dir)
{
	size_t i;
	int fd;

	memset(sp, 0, sizeof(*sp));
	sp->dir = xstrdup(dir);
	sp->lock_fd = sp->new_fd = sp->cur_fd = sp->failed_fd = -1;
	sp->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dir_fd < 0) {
		warn("cannot open spool directory \"%s\"", dir);
		return EX_NOINPUT;
	}
	sp->lock_fd = openat(sp->dir_fd, ".lock",
	    O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (sp->lock_fd < 0) {
		warn("cannot create \"%s/.lock\"", dir);
		return EX_CANTCREAT;
	}
	if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			warn("cannot lock \"%s/.lock\"", dir);
			return EX_CANTCREAT;
		}
		warnx("spool \"%s\" is locked by another convo-ingest; try "
		    "again when it has finished", dir);
		return EX_TEMPFAIL;
	}
	for (i = 0; i < sizeof(spool_dirs) / sizeof(*spool_dirs); i++) {
		if ((fd = open_subdir(sp, spool_dirs[i])) < 0)
			return EX_CANTCREAT;
		if (strcmp(spool_dirs[i], "new") == 0)
			sp->new_fd = fd;
		else if (strcmp(spool_dirs[i], "cur") == 0)
			sp->cur_fd = fd;
		else if (strcmp(spool_dirs[i], "failed") == 0)
			sp->failed_fd = fd;
		else
			close(fd);
	}
	return 0;
}

void
spool_close(struct spool *sp)
{
	if (sp->failed_fd >= 0)
		close(sp->failed_fd);
	if (sp->cur_fd >= 0)
		close(sp->cur_fd);
	if (sp->new_fd >= 0)
		close(sp->new_fd);
	/* Closing the last descriptor of the lock file releases the lock. */
	if (sp->lock_fd >= 0)
		close(sp->lock_fd);
	if (sp->dir_fd >= 0)
		close(sp->dir_fd);
	free(sp->dir);
	sp->dir = NULL;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Warn that the entry NAME of new is not a regular file and stays there. */
static void
warn_not_regular(const struct spool *sp, const char *name)
{
	char shown[NAME_MAX + 1];

	warnx("\"%s/new/%s\" is not a regular file, so it stays in new; "
	    "remove it or move it away", sp->dir,
	    cli_printable(name, shown, sizeof(shown)));
}

/*
 * Return 1 for a regular file whose name does not start with a dot. Warn
 * about other entries without a dot, which stay in new: a producer
 * writes regular files only.
 */
static int
is_spool_file(const struct spool *sp, const struct dirent *d)
{
	struct stat st;
	int regular;

	if (d->d_name[0] == '.')
		return 0;
	if (d->d_type != DT_UNKNOWN)
		regular = d->d_type == DT_REG;
	else if (fstatat(sp->new_fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;	/* removed since, or read as it is opened */
	else
		regular = S_ISREG(st.st_mode);
	if (!regular)
		warn_not_regular(sp, d->d_name);
	return regular;
}

/*
 * List the files in new sorted by name, which is their arrival order
 * for maildir names, into *NAMES. Returns the count, or -1 on error.
 */
static long
list_new(struct spool *sp, char ***names)
{
	struct dirent *d;
	DIR *dir;
	size_t count = 0, cap = 0;
	int fd = dup(sp->new_fd);

	*names = NULL;
	if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
		warn("cannot read \"%s/new\"", sp->dir);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(dir);
	while ((d = readdir(dir)) != NULL) {
		if (!is_spool_file(sp, d))
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			*names = xrealloc(*names, cap * sizeof(**names));
		}
		(*names)[count++] = xstrdup(d->d_name);
	}
	closedir(dir);
	/* qsort() must not get the null *NAMES of an empty directory. */
	if (count > 1)
		qsort(*names, count, sizeof(**names), compare_names);
	return (long)count;
}

#define REASON_SUFFIX	".reason"
#define REASON_HASH_LEN	16	/* hex digits of SHA-256 in a short name */

/*
 * Write the name of the reason file of the failed file NAME to REASON:
 * NAME.reason, unless that is longer than NAME_MAX bytes. Then it is the
 * first 231 bytes of NAME, fewer when byte 232 continues a UTF-8
 * character, "~", the first 16 hex digits of the SHA-256 of NAME and
 * ".reason": at most NAME_MAX bytes. Returns 1 for such a short name.
 */
static int
reason_name(const char *name, char reason[NAME_MAX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t len = strlen(name), keep, i;

	if (len + strlen(REASON_SUFFIX) <= NAME_MAX) {
		snprintf(reason, NAME_MAX + 1, "%s" REASON_SUFFIX, name);
		return 0;
	}
	if (!EVP_Digest(name, len, md, NULL, EVP_sha256(), NULL))
		errx(EX_SOFTWARE, "cannot compute a SHA-256 digest");
	/* A UTF-8 character has at most 3 continuation bytes. */
	keep = NAME_MAX - strlen(REASON_SUFFIX) - 1 - REASON_HASH_LEN;
	for (i = 0; i < 3 && ((unsigned char)name[keep] & 0xc0) == 0x80; i++)
		keep--;
	memcpy(reason, name, keep);
	reason[keep] = '~';
	for (i = 0; i < REASON_HASH_LEN / 2; i++)
		snprintf(reason + keep + 1 + 2 * i, 3, "%02x", md[i]);
	snprintf(reason + keep + 1 + REASON_HASH_LEN,
	    NAME_MAX + 1 - keep - 1 - REASON_HASH_LEN, REASON_SUFFIX);
	return 1;
}

/* Write TEXT to the file REASON of failed. Returns 0 or -1. */
static int
write_reason(struct spool *sp, const char *reason, const struct buf *text)
{
	ssize_t n;
	size_t done = 0;
	int fd;

	fd = openat(sp->failed_fd, reason,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0660);
	if (fd < 0)
		return -1;
	while (done < text->len) {
		n = write(fd, text->data + done, text->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += n;
	}
	return close(fd);
}

/* Move a read file to cur, or to failed with its reason. */
static void
move_file(struct spool_run *run, struct spool_file *f)
{
	struct spool *sp = run->sp;
	int to = f->rejected > 0 ? sp->failed_fd : sp->cur_fd;
	const char *where = f->rejected > 0 ? "failed" : "cur";

	char name[NAME_MAX + 1], reason[NAME_MAX + 1], shown[NAME_MAX + 1];
	int shortened = 0;

	cli_printable(f->name, name, sizeof(name));
	if (f->rejected > 0) {
		shortened = reason_name(f->name, reason);
		cli_printable(reason, shown, sizeof(shown));
		if (write_reason(sp, reason, &f->reason) != 0) {
			warn("cannot write \"%s/failed/%s\"; \"%s\" stays in "
			    "new", sp->dir, shown, name);
			run->status = exit_merge(run->status, EX_IOERR);
			return;
		}
	}
	if (renameat(sp->new_fd, f->name, to, f->name) != 0) {
		warn("cannot move \"%s/new/%s\" to \"%s/%s\"", sp->dir, name,
		    sp->dir, where);
		run->status = exit_merge(run->status, EX_IOERR);
	} else if (shortened) {
		warnx("the reason file of \"%s/failed/%s\" is \"%s/failed/%s\", "
		    "because the file name is too long to add \"%s\"",
		    sp->dir, name, sp->dir, shown, REASON_SUFFIX);
	}
}

static void
free_file(struct spool_file *f)
{
	free(f->name);
	free(f->path);
	buf_free(&f->reason);
}

/*
 * Record the batch, then move each file that was read whole. A file
 * still being read stays first in the list for the next batch.
 */
static void
flush_batch(struct spool_run *run)
{
	size_t i, reading = 0;

	ingest_flush(run->in);
	for (i = 0; i < run->nfiles; i++) {
		struct spool_file *f = &run->files[i];

		if (f->state == FILE_READING) {
			run->files[reading++] = *f;
			continue;
		}
		if (f->state == FILE_READ)
			move_file(run, f);
		free_file(f);
	}
	run->nfiles = reading;
	run->cursor = 0;
}

/* Note a rejected line of file F for its reason file. */
static void
note_rejected(struct spool_file *f, long long line, const char *error)
{
	char head[64];

	f->rejected++;
	snprintf(head, sizeof(head), "line %lld: ", line);
	buf_adds(&f->reason, head);
	buf_adds(&f->reason, error);
	buf_addc(&f->reason, '\n');
}

/* Find the file that result RECORD is about, starting at the cursor. */
static struct spool_file *
file_of_result(struct spool_run *run, jv record)
{
	jv file = jv_object_get(jv_copy(record), jv_string("file"));
	struct spool_file *found = NULL;
	size_t i;

	if (jv_get_kind(file) == JV_KIND_STRING) {
		for (i = run->cursor; i < run->nfiles; i++) {
			if (strcmp(run->files[i].path,
			    jv_string_value(file)) == 0) {
				found = &run->files[i];
				run->cursor = i;
				break;
			}
		}
	}
	jv_free(file);
	return found;
}

/* Print an output record as convo-ingest does without a callback. */
static void
print_record(struct ingest *in, jv record)
{
	if (in->output_failed)
		jv_free(record);
	else if (view_print(record) != 0)
		in->output_failed = 1;
}

/* The emit callback of the ingest: notes rejected lines per file. */
static void
emit_result(void *arg, jv record)
{
	struct spool_run *run = arg;
	struct spool_file *f;
	jv result, error, line;

	result = jv_object_get(jv_copy(record), jv_string("result"));
	if (jv_get_kind(result) == JV_KIND_STRING &&
	    strcmp(jv_string_value(result), "rejected") == 0 &&
	    (f = file_of_result(run, record)) != NULL) {
		error = jv_object_get(jv_copy(record), jv_string("error"));
		line = jv_object_get(jv_copy(record), jv_string("input_line"));
		note_rejected(f, (long long)jv_number_value(line),
		    jv_get_kind(error) == JV_KIND_STRING ?
		    jv_string_value(error) : "rejected");
		jv_free(error);
		jv_free(line);
	}
	jv_free(result);
	print_record(run->in, record);
}

/* Write the time of TS as RFC 3339 in UTC with microseconds. */
static void
format_time(const struct timespec *ts, char out[TIME_MAX])
{
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(out, TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, TIME_MAX - n, ".%06ldZ", ts->tv_nsec / 1000);
}

/*
 * The file being read. It is always the last in the list, and a batch
 * recorded while it is read moves it to the front, so callers look it
 * up again after adding a line.
 */
static struct spool_file *
current_file(struct spool_run *run)
{
	return &run->files[run->nfiles - 1];
}

/*
 * Add the webhook body LINE, line LINENO of the current file, as a
 * record whose time is MTIME, the time the producer wrote the file.
 */
static void
add_webhook(struct spool_run *run, long long lineno, const char *line,
    size_t len, const struct timespec *mtime)
{
	struct spool_file *f = current_file(run);
	struct ingest *in = run->in;
	enum format format = in->format;
	char received[TIME_MAX];
	jv rec, msg;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	format_time(mtime, received);
	rec = twilio_form_to_record(form_decode(line, len), received);
	if (!jv_is_valid(rec)) {
		msg = jv_invalid_get_msg(rec);
		ingest_reject(in, f->path, lineno, line, len,
		    jv_get_kind(msg) == JV_KIND_STRING ?
		    jv_string_value(msg) : "invalid webhook body");
		jv_free(msg);
		return;
	}
	rec = jv_dump_string(rec, 0);
	/* The record is JSON now, so no format may read it as a form. */
	in->format = FORMAT_NDJSON;
	ingest_line(in, f->path, lineno, jv_string_value(rec),
	    (size_t)jv_string_length_bytes(jv_copy(rec)), 0);
	in->format = format;
	jv_free(rec);
}

/* Return 1 when the single line of a file is a Twilio webhook body. */
static int
is_webhook(const struct ingest *in, const char *line, size_t len)
{
	if (in->format == FORMAT_TWILIO)
		return 1;
	return in->format == FORMAT_AUTO && form_looks_like(line, len);
}

/* Read the next line that is not blank, as convo-ingest skips those. */
static int
next_line(struct linereader *r, const char **line, size_t *len,
    int *too_long)
{
	int rc;

	do {
		rc = linereader_next(r, line, len, too_long);
	} while (rc == 1 && !*too_long && linereader_blank(*line, *len));
	return rc;
}

/* Add one line of the current file to the batch; record a full batch. */
static void
add_line(struct spool_run *run, long long lineno, const char *line,
    size_t len, int too_long)
{
	ingest_line(run->in, current_file(run)->path, lineno, line, len,
	    too_long);
	if (ingest_batch_full(run->in))
		flush_batch(run);
}

/*
 * Read the current file, open at FD, into the batch. A file of one line
 * that is a webhook body becomes one record with the time MTIME.
 */
static int
read_file(struct spool_run *run, int fd, const struct timespec *mtime)
{
	struct linereader r;
	const char *line;
	char *first = NULL;
	size_t len, first_len = 0;
	long long first_no = 0;
	int rc, too_long, first_too_long = 0, error;

	linereader_init(&r, fd, CONVO_LINE_MAX);
	if ((rc = next_line(&r, &line, &len, &first_too_long)) == 1) {
		first = xmalloc(first_too_long ? LINEREADER_HEAD : len + 1);
		memcpy(first, line, first_too_long ? LINEREADER_HEAD : len);
		first_len = len;
		first_no = r.lineno;
		rc = next_line(&r, &line, &len, &too_long);
		if (rc == 0 && !first_too_long &&
		    is_webhook(run->in, first, first_len))
			add_webhook(run, first_no, first, first_len, mtime);
		else if (rc >= 0)
			add_line(run, first_no, first, first_len,
			    first_too_long);
		/* The second line, then the rest. */
		while (rc == 1) {
			add_line(run, r.lineno, line, len, too_long);
			rc = next_line(&r, &line, &len, &too_long);
		}
	}
	/* The caller reports errno of a failed read. */
	error = errno;
	free(first);
	linereader_free(&r);
	errno = error;
	return rc;
}

/*
 * Open the file NAME that list_new() found in new and fill *ST. A producer
 * may have removed or replaced it since: a removed file is skipped, and
 * an entry that is no longer a regular file gets the warning of the
 * listing and stays in new. Returns the descriptor, or -1.
 */
static int
open_listed(struct spool_run *run, const char *name, struct stat *st)
{
	char shown[NAME_MAX + 1];
	int fd, error;

	/* O_NONBLOCK, so that a named pipe put in its place cannot block. */
	fd = openat(run->sp->new_fd, name,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		error = errno;
		if (error == ENOENT)
			return -1;
		/* openat() fails on a symbolic link, given O_NOFOLLOW. */
		if (fstatat(run->sp->new_fd, name, st,
		    AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st->st_mode)) {
			warn_not_regular(run->sp, name);
			return -1;
		}
		errno = error;
		warn("cannot open \"%s/new/%s\"", run->sp->dir,
		    cli_printable(name, shown, sizeof(shown)));
		run->status = exit_merge(run->status, EX_IOERR);
		return -1;
	}
	if (fstat(fd, st) != 0) {
		warn("cannot read \"%s/new/%s\"", run->sp->dir,
		    cli_printable(name, shown, sizeof(shown)));
		run->status = exit_merge(run->status, EX_IOERR);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		warn_not_regular(run->sp, name);
		close(fd);
		return -1;
	}
	return fd;
}

/* Open and read the file NAME of new into the batch. */
static void
spool_file(struct spool_run *run, const char *name)
{
	struct spool_file *f;
	struct stat st;
	char shown[NAME_MAX + 1];
	int fd;

	fd = open_listed(run, name, &st);
	if (fd < 0)
		return;
	run->files = xrealloc(run->files,
	    (run->nfiles + 1) * sizeof(*run->files));
	f = &run->files[run->nfiles++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	if (asprintf(&f->path, "%s/new/%s", run->sp->dir, name) < 0)
		err(EX_OSERR, "out of memory");
	/*
	 * Results name the file by its path as JSON text, which cannot hold
	 * invalid UTF-8, so such bytes become '?' in the path that the
	 * results and messages show and match.
	 */
	utf8_replace_invalid(f->path, '?');
	f->state = FILE_READING;
	if (read_file(run, fd, &st.st_mtim) < 0) {
		warn("cannot read \"%s/new/%s\"", run->sp->dir,
		    cli_printable(name, shown, sizeof(shown)));
		run->status = exit_merge(run->status, EX_IOERR);
		current_file(run)->state = FILE_UNREADABLE;
	} else {
		current_file(run)->state = FILE_READ;
	}
	close(fd);
	if (ingest_batch_full(run->in))
		flush_batch(run);
}

int
spool_ingest(struct spool *sp, struct ingest *in)
{
	struct spool_run run = { .sp = sp, .in = in };
	char **names;
	long i, count;

	if ((count = list_new(sp, &names)) < 0)
		return EX_IOERR;
	in->emit = emit_result;
	in->emit_arg = &run;
	for (i = 0; i < count; i++) {
		spool_file(&run, names[i]);
		free(names[i]);
	}
	flush_batch(&run);
	free(names);
	free(run.files);
	in->emit = NULL;
	in->emit_arg = NULL;
	return run.status;
}
