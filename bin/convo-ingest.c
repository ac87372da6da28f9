/*
 * convo-ingest: record messages, delivery receipts, consent changes and
 * profiles from NDJSON records or Twilio webhook bodies, in batches.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jv.h>
#include <libpq-fe.h>

#include "buf.h"
#include "cli.h"
#include "convo.h"
#include "db.h"
#include "form.h"
#include "linereader.h"
#include "match.h"
#include "progress.h"
#include "record.h"
#include "ingest.h"
#include "spool.h"
#include "timeutil.h"
#include "views.h"

/* Drawn on a terminal while files or standard input are read. */
static struct progress progress;

static void
usage(void)
{
	fprintf(stderr, "usage: convo-ingest [-qv] [--account NAME] "
	    "[--db CONNINFO] [--format auto|ndjson|twilio]\n"
	    "                    [--rejects FILE] [--batch-size N] "
	    "[FILE ...]\n"
	    "       convo-ingest [-qv] [--account NAME] [--db CONNINFO] "
	    "[--format FORMAT]\n"
	    "                    [--batch-size N] --spool DIR\n");
	exit(EX_USAGE);
}

static void
help(void)
{
	printf("usage: convo-ingest [options] [FILE ...]\n"
	    "Record messages, delivery receipts, consent and profiles from\n"
	    "NDJSON records or Twilio webhook bodies (standard input or "
	    "FILEs).\n\n"
	    "  -a, --account NAME    account (default $CONVO_ACCOUNT or "
	    "\"default\")\n"
	    "  -d, --db CONNINFO     PostgreSQL connection (default "
	    "$CONVO_DB, libpq\n"
	    "                        variables, else the local database)\n"
	    "  -f, --format FORMAT   auto, ndjson or twilio (default auto)\n"
	    "  -r, --rejects FILE    append rejected lines to FILE as "
	    "NDJSON\n"
	    "  -b, --batch-size N    records per transaction (default "
	    "20000)\n"
	    "  -s, --spool DIR       record the files in DIR/new and move "
	    "them to DIR/cur,\n"
	    "                        or to DIR/failed when rejected\n"
	    "  -q, --quiet           no summary line or progress on standard "
	    "error\n"
	    "  -v, --verbose         report each batch and the time it takes\n"
	    "  -h, --help            show this help\n"
	    "  -V, --version         show the versions of convo and its "
	    "libraries\n\n"
	    "Lines are limited to %d bytes. See convo-ingest(1) and "
	    "convo(5).\n", CONVO_LINE_MAX);
	exit(0);
}

static void
ingest_fd(struct ingest *in, int fd, const char *file)
{
	struct linereader r;
	const char *line;
	size_t len;
	int too_long, rc;

	linereader_init(&r, fd, CONVO_LINE_MAX);
	for (;;) {
		/* A slow producer's records are written after a short wait. */
		if (ingest_pending(in) && !linereader_ready(&r, 200))
			ingest_flush(in);
		rc = linereader_next(&r, &line, &len, &too_long);
		if (rc < 0) {
			warn("%s: read error", file ? file : "standard input");
			in->status = exit_merge(in->status, EX_IOERR);
			break;
		}
		if (rc == 0)
			break;
		if (!too_long && linereader_blank(line, len))
			continue;
		ingest_line(in, file, r.lineno, line, len, too_long);
		progress_add(&progress, 1, len + 1);
		if (ingest_batch_full(in))
			ingest_send(in);
	}
	ingest_flush(in);
	linereader_free(&r);
}

static void
ingest_file(struct ingest *in, const char *path)
{
	int fd;

	if (strcmp(path, "-") == 0) {
		ingest_fd(in, STDIN_FILENO, NULL);
		return;
	}
	if ((fd = open(path, O_RDONLY)) < 0) {
		warn("cannot open \"%s\"", path);
		in->status = exit_merge(in->status, EX_NOINPUT);
		return;
	}
	ingest_fd(in, fd, path);
	close(fd);
}

static void
summary(struct ingest *in, double seconds)
{
	if (in->quiet)
		return;
	fprintf(stderr, "convo-ingest: %lld %s in %.1f s: %lld inserted, "
	    "%lld updated, %lld duplicate, %lld conflict, %lld pending, "
	    "%lld rejected; %lld keyword %s\n", in->records,
	    in->records == 1 ? "record" : "records", seconds, in->inserted,
	    in->updated, in->duplicate, in->conflict, in->pending,
	    in->rejected, in->replies, in->replies == 1 ? "reply" : "replies");
}

/* Values of option arguments and operands for the shell completions. */
static const char *
complete_value(int option, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	switch (option) {
	case 'a': return CLI_ACCOUNT;
	case 'f': return "auto ndjson twilio";
	case 'r': case 0: return CLI_FILE;
	case 's': return CLI_DIRECTORY;
	}
	return NULL;
}

/* Path of the rejects file that --rejects names, for error messages. */
static const char *rejects_path;

static void
parse_options(struct ingest *in, int argc, char **argv, const char **db,
    const char **account, const char **spool)
{
	static const struct option options[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "batch-size", required_argument, NULL, 'b' },
		{ "db", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "rejects", required_argument, NULL, 'r' },
		{ "spool", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		CLI_COMPLETE_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	static const struct cli_program prog = {
		"a:b:d:f:hqr:s:vV", options, complete_value,
	};
	const char *errstr;
	int c;

	while ((c = getopt_long(argc, argv, prog.shortopts, options, NULL))
	    != -1) {
		switch (c) {
		case CLI_OPT_COMPLETE:
			cli_complete(&prog, optarg, argc - optind, argv + optind);
		case 'a': *account = optarg; break;
		case 'd': *db = cli_conninfo_option(optarg); break;
		case 's': *spool = optarg; break;
		case 'q':
			in->quiet = 1;
			cli_verbosity = CLI_QUIET;
			break;
		case 'v':
			in->verbose = 1;
			cli_verbosity = CLI_VERBOSE;
			break;
		case 'h': help(); break;
		case 'V': db_print_version(); break;
		case 'b':
			in->batch_size = cli_number(optarg, 1, INGEST_BATCH_MAX,
			    &errstr);
			if (errstr != NULL)
				errx(EX_USAGE, "batch size \"%s\" is %s: "
				    "expected 1 to %d lines", optarg, errstr,
				    INGEST_BATCH_MAX);
			break;
		case 'f':
			if (strcmp(optarg, "auto") == 0)
				in->format = FORMAT_AUTO;
			else if (strcmp(optarg, "ndjson") == 0)
				in->format = FORMAT_NDJSON;
			else if (strcmp(optarg, "twilio") == 0)
				in->format = FORMAT_TWILIO;
			else
				errx(EX_USAGE, "unknown format \"%s\": expected "
				    "auto, ndjson or twilio", optarg);
			break;
		case 'r':
			rejects_path = optarg;
			in->rejects = fopen(optarg, "a");
			if (in->rejects == NULL)
				err(EX_CANTCREAT, "cannot open rejects file "
				    "\"%s\"", optarg);
			break;
		default:
			usage();
		}
	}
}

/*
 * Exit when the rejects file is a regular file that is also one of the
 * ARGC input files of ARGV, or standard input when there are none. Its
 * rejects would be read again as input lines and rejected again, so the
 * file would grow without end. A device such as /dev/null may be both.
 */
static void
check_rejects_apart(const struct ingest *in, int argc, char **argv)
{
	struct stat rejects, input;
	const char *path;
	int i, rc;

	if (in->rejects == NULL || fstat(fileno(in->rejects), &rejects) != 0 ||
	    !S_ISREG(rejects.st_mode))
		return;
	for (i = 0; i < (argc > 0 ? argc : 1); i++) {
		path = argc > 0 ? argv[i] : "-";
		if (strcmp(path, "-") == 0)
			rc = fstat(STDIN_FILENO, &input);
		else
			rc = stat(path, &input);
		if (rc == 0 && input.st_dev == rejects.st_dev &&
		    input.st_ino == rejects.st_ino)
			errx(EX_USAGE, "rejects file \"%s\" is also input file "
			    "\"%s\"; name another file with --rejects",
			    rejects_path, path);
	}
}

/* Lock the spool DIR before connecting, or exit when it is busy. */
static void
open_spool(struct spool *sp, const char *dir, const struct ingest *in,
    int argc)
{
	int rc;

	if (argc > 0)
		errx(EX_USAGE, "--spool reads DIR/new, so it takes no FILE "
		    "arguments");
	if (in->rejects != NULL)
		errx(EX_USAGE, "--spool moves rejected files to DIR/failed, "
		    "so it takes no --rejects");
	if ((rc = spool_open(sp, dir)) != 0)
		exit(rc);
}

int
main(int argc, char **argv)
{
	struct ingest in = { .batch_size = 20000 };
	const char *db = NULL, *account = NULL, *spool_dir = NULL;
	struct spool spool;
	struct timespec t0, t1;
	int i;

	signal(SIGPIPE, SIG_IGN);
	parse_options(&in, argc, argv, &db, &account, &spool_dir);
	argc -= optind;
	argv += optind;
	account = convo_account(account);
	if (spool_dir != NULL)
		open_spool(&spool, spool_dir, &in, argc);
	else
		check_rejects_apart(&in, argc, argv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	in.conn = db_connect(db);
	ingest_open(&in, account);
	progress_start(&progress, !in.quiet && spool_dir == NULL);
	if (argc == 0)
		progress_expect(&progress, STDIN_FILENO, NULL);
	for (i = 0; i < argc; i++)
		progress_expect(&progress, strcmp(argv[i], "-") == 0 ?
		    STDIN_FILENO : -1, argv[i]);
	if (spool_dir != NULL) {
		in.status = exit_merge(in.status, spool_ingest(&spool, &in));
		spool_close(&spool);
	} else if (argc == 0) {
		ingest_file(&in, "-");
	}
	for (i = 0; i < argc; i++)
		ingest_file(&in, argv[i]);
	progress_end(&progress);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	summary(&in, (double)(t1.tv_sec - t0.tv_sec) +
	    (t1.tv_nsec - t0.tv_nsec) / 1e9);
	PQfinish(in.conn);
	ingest_close(&in);
	if (in.rejects != NULL && fclose(in.rejects) != 0)
		err(EX_CANTCREAT, "cannot write the rejects file");
	if (in.output_failed || view_flush() != 0)
		in.status = exit_merge(in.status, EX_IOERR);
	if (in.rejected > 0)
		in.status = exit_merge(in.status, EX_DATAERR);
	return in.status;
}
