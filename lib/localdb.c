/*
 * The built-in local database. initdb, pg_ctl and postgres reject root,
 * so as root the server runs as the "postgres" user. The server listens
 * on a unix socket in a mode 0700 directory and on no TCP address, so
 * "trust" authentication admits only the directory's owner and root.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "localdb.h"

/* The socket directory is ours alone, so the default port cannot clash. */
#define LOCALDB_PORT "5432"
#define LOCALDB_DBNAME "convo"
#define SOCKET_NAME ".s.PGSQL." LOCALDB_PORT

/* Linux's sockaddr_un.sun_path is 108 bytes, the NUL included. */
#define SOCKET_PATH_MAX 107

#define SERVER_USER "postgres"
#define ROOT_HOME "/var/lib/convo"
#define PG_LIBDIR "/usr/lib/postgresql"

/*
 * Generous limits: a first initdb and start took about 1 s in testing,
 * but slow disks and busy machines take longer.
 */
#define LOCK_WAIT_SECONDS 120
#define PG_CTL_WAIT_SECONDS "60"
#define STOP_WAIT_SECONDS 60
#define ZOMBIE_WAIT_SECONDS 5
#define POLL_MS 50

#define GROUPS_MAX 256

/* Identity that the forked child takes before it runs a server tool. */
struct server_user {
	int	 switch_user;
	uid_t	 uid;
	gid_t	 gid;
	gid_t	 groups[GROUPS_MAX];
	int	 ngroups;
};

/* Failure report that a child sends through its close-on-exec pipe. */
struct child_failure {
	int	 step;
	int	 errnum;
};

enum { STEP_SETUP, STEP_EXEC };

static int fail(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

static int
join_path(char *out, size_t n, const char *dir, const char *name)
{
	int len;

	len = snprintf(out, n, "%s/%s", dir, name);
	return len < 0 || (size_t)len >= n ? -1 : 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		continue;
}

static void
strip_trailing_slashes(char *path)
{
	size_t len;

	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
}

/* pg_ctl starts the server through /bin/sh with paths in double quotes. */
static int
check_shell_safe(const char *what, const char *path, char *err,
    size_t errsz)
{
	const char *p;

	for (p = path; *p != '\0'; p++) {
		if (strchr("\"$`\\", *p) != NULL || iscntrl((unsigned char)*p))
			return fail(err, errsz, "%s \"%s\" contains a "
			    "character that pg_ctl cannot quote (\", $, `, \\ "
			    "or a control character); choose another "
			    "directory", what, path);
	}
	return 0;
}

static int
home_from_env(const char *env, char *home, size_t n, char *err,
    size_t errsz)
{
	char cwd[4096];
	int len;

	if (env[0] == '/')
		len = snprintf(home, n, "%s", env);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		return fail(err, errsz, "cannot resolve CONVO_HOME \"%s\" "
		    "against the current directory: %s", env,
		    strerror(errno));
	else
		len = snprintf(home, n, "%s/%s", cwd, env);
	if (len < 0 || (size_t)len >= n)
		return fail(err, errsz, "CONVO_HOME \"%s\" is too long", env);
	return 0;
}

/*
 * Root's home is closed to the server user, so root gets ROOT_HOME.
 * The XDG base directory rules ignore a relative XDG_DATA_HOME.
 */
static int
find_home(char *home, size_t n, char *err, size_t errsz)
{
	const char *env, *base;
	struct passwd *pw;
	int len;

	env = getenv("CONVO_HOME");
	if (env != NULL && env[0] != '\0') {
		if (home_from_env(env, home, n, err, errsz) == -1)
			return -1;
		strip_trailing_slashes(home);
		return 0;
	}
	if (geteuid() == 0)
		len = snprintf(home, n, "%s", ROOT_HOME);
	else if ((env = getenv("XDG_DATA_HOME")) != NULL && env[0] == '/')
		len = snprintf(home, n, "%s/convo", env);
	else {
		base = getenv("HOME");
		if (base == NULL || base[0] != '/') {
			if ((pw = getpwuid(geteuid())) == NULL)
				return fail(err, errsz, "cannot find the home "
				    "directory of uid %u; set CONVO_HOME",
				    (unsigned)geteuid());
			base = pw->pw_dir;
		}
		len = snprintf(home, n, "%s/.local/share/convo", base);
	}
	if (len < 0 || (size_t)len >= n)
		return fail(err, errsz, "the default convo home is too long; "
		    "set CONVO_HOME");
	strip_trailing_slashes(home);
	return 0;
}

static int
has_initdb(const char *bindir)
{
	char path[4200];

	if (join_path(path, sizeof(path), bindir, "initdb") == -1)
		return 0;
	return access(path, X_OK) == 0;
}

/* Return the major version in DATADIR/PG_VERSION, or 0 without one. */
static int
cluster_version(const struct localdb *db)
{
	char path[4200];
	FILE *fp;
	int version;

	if (join_path(path, sizeof(path), db->datadir, "PG_VERSION") == -1)
		return 0;
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(fp, "%d", &version) != 1 || version < 0)
		version = 0;
	fclose(fp);
	return version;
}

/* Debian installs each major version under PG_LIBDIR/N/bin. */
static int
newest_version(void)
{
	struct dirent *entry;
	char bindir[300];
	char *end;
	long version, best;
	DIR *dir;

	if ((dir = opendir(PG_LIBDIR)) == NULL)
		return 0;
	best = 0;
	while ((entry = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)entry->d_name[0]))
			continue;
		version = strtol(entry->d_name, &end, 10);
		if (*end != '\0' || version <= best || version > 9999)
			continue;
		snprintf(bindir, sizeof(bindir), PG_LIBDIR "/%ld/bin", version);
		if (has_initdb(bindir))
			best = version;
	}
	closedir(dir);
	return (int)best;
}

/*
 * A cluster can only be run by its own major version, so an existing
 * cluster picks its bindir even when a newer PostgreSQL is installed.
 */
static int
find_bindir(struct localdb *db, char *err, size_t errsz)
{
	const char *env;
	int version;

	env = getenv("CONVO_PG_BINDIR");
	if (env != NULL && env[0] != '\0') {
		snprintf(db->bindir, sizeof(db->bindir), "%s", env);
		if (!has_initdb(db->bindir))
			return fail(err, errsz, "no initdb in CONVO_PG_BINDIR "
			    "\"%s\"; set it to a PostgreSQL bin directory such "
			    "as " PG_LIBDIR "/15/bin", env);
		return 0;
	}
	if ((version = cluster_version(db)) > 0) {
		snprintf(db->bindir, sizeof(db->bindir), PG_LIBDIR "/%d/bin",
		    version);
		if (!has_initdb(db->bindir))
			return fail(err, errsz, "the cluster in %s needs "
			    "PostgreSQL %d, but %s has no initdb; install "
			    "that version or set CONVO_PG_BINDIR", db->datadir,
			    version, db->bindir);
		return 0;
	}
	if ((version = newest_version()) == 0)
		return fail(err, errsz, "no PostgreSQL server found in "
		    PG_LIBDIR "/N/bin; install the postgresql package or set "
		    "CONVO_PG_BINDIR");
	snprintf(db->bindir, sizeof(db->bindir), PG_LIBDIR "/%d/bin",
	    version);
	return 0;
}

static int
server_user(const struct localdb *db, struct server_user *su, char *err,
    size_t errsz)
{
	struct passwd *pw;

	memset(su, 0, sizeof(*su));
	if (db->runas[0] == '\0')
		return 0;
	if ((pw = getpwnam(db->runas)) == NULL)
		return fail(err, errsz, "user \"%s\" not found; as root, convo "
		    "runs the local database server as that user, which the "
		    "postgresql package creates", db->runas);
	su->switch_user = 1;
	su->uid = pw->pw_uid;
	su->gid = pw->pw_gid;
	su->ngroups = GROUPS_MAX;
	if (getgrouplist(db->runas, pw->pw_gid, su->groups,
	    &su->ngroups) == -1)
		return fail(err, errsz, "user \"%s\" is in more than %d groups",
		    db->runas, GROUPS_MAX);
	return 0;
}

static int
find_users(struct localdb *db, char *err, size_t errsz)
{
	struct server_user su;
	struct passwd *pw;

	if (geteuid() == 0) {
		snprintf(db->runas, sizeof(db->runas), "%s", SERVER_USER);
		snprintf(db->dbuser, sizeof(db->dbuser), "%s", SERVER_USER);
		return server_user(db, &su, err, errsz);
	}
	db->runas[0] = '\0';
	if ((pw = getpwuid(geteuid())) == NULL)
		return fail(err, errsz, "uid %u has no user name, which the "
		    "local database needs as its superuser name",
		    (unsigned)geteuid());
	if (strlen(pw->pw_name) >= sizeof(db->dbuser))
		return fail(err, errsz, "user name \"%s\" is too long",
		    pw->pw_name);
	snprintf(db->dbuser, sizeof(db->dbuser), "%s", pw->pw_name);
	return 0;
}

int
localdb_locate(struct localdb *db, char *err, size_t errsz)
{
	size_t socklen;

	memset(db, 0, sizeof(*db));
	if (find_home(db->home, sizeof(db->home), err, errsz) == -1)
		return -1;
	if (check_shell_safe("convo home", db->home, err, errsz) == -1)
		return -1;
	if (join_path(db->datadir, sizeof(db->datadir), db->home,
	    "pgdata") == -1 ||
	    join_path(db->sockdir, sizeof(db->sockdir), db->home,
	    "run") == -1 ||
	    join_path(db->logfile, sizeof(db->logfile), db->home,
	    "postgresql.log") == -1)
		return fail(err, errsz, "convo home \"%s\" is too long",
		    db->home);
	socklen = strlen(db->sockdir) + 1 + strlen(SOCKET_NAME);
	if (socklen > SOCKET_PATH_MAX)
		return fail(err, errsz, "socket path \"%s/%s\" is %zu bytes, "
		    "over the limit of %d for unix sockets; set CONVO_HOME to "
		    "a shorter directory", db->sockdir, SOCKET_NAME, socklen,
		    SOCKET_PATH_MAX);
	if (find_bindir(db, err, errsz) == -1)
		return -1;
	if (check_shell_safe("PostgreSQL bin directory", db->bindir, err,
	    errsz) == -1)
		return -1;
	return find_users(db, err, errsz);
}

/* Runs in the forked child before exec, so it makes system calls only. */
static int
become_server_user(const struct server_user *su)
{
	if (!su->switch_user)
		return 0;
	if (setgroups((size_t)su->ngroups, su->groups) == -1 ||
	    setgid(su->gid) == -1 || setuid(su->uid) == -1)
		return -1;
	return 0;
}

/*
 * Keep the caller's descriptors out of the long-lived postmaster, because
 * an inherited pipe would keep a reader such as bats waiting until the
 * server stops. They stay open until exec so the failure pipe works.
 */
static void
mark_fds_cloexec(void)
{
	long fd, max;

	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

static void
report_child_failure(int fd, int step)
{
	struct child_failure failure;
	ssize_t n;

	failure.step = step;
	failure.errnum = errno;
	n = write(fd, &failure, sizeof(failure));
	(void)n;
	_exit(127);
}

static void
exec_child(const struct server_user *su, int logfd, int reportfd,
    char *const argv[], char *const envp[])
{
	sigset_t none;
	int nullfd;

	if ((nullfd = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(nullfd, STDIN_FILENO) == -1 ||
	    dup2(logfd, STDOUT_FILENO) == -1 ||
	    dup2(logfd, STDERR_FILENO) == -1 ||
	    become_server_user(su) == -1 || chdir("/") == -1)
		report_child_failure(reportfd, STEP_SETUP);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	mark_fds_cloexec();
	execve(argv[0], argv, envp);
	report_child_failure(reportfd, STEP_EXEC);
}

static int
open_log(const struct localdb *db, const struct server_user *su,
    char *err, size_t errsz)
{
	int fd;

	fd = open(db->logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1)
		return fail(err, errsz, "cannot open log file \"%s\": %s",
		    db->logfile, strerror(errno));
	if (su->switch_user && fchown(fd, su->uid, su->gid) == -1) {
		fail(err, errsz, "cannot give log file \"%s\" to user \"%s\": "
		    "%s", db->logfile, db->runas, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
log_header(int logfd, const char *what)
{
	char stamp[64];
	struct tm tm;
	time_t now;

	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		stamp[0] = '\0';
	dprintf(logfd, "%s convo: running %s\n", stamp, what);
}

/*
 * The tools get a fixed environment so that the caller's PGDATA, PGPORT
 * or PGOPTIONS cannot redirect them. TZ passes because initdb records
 * the time zone.
 */
static void
tool_environment(char *envp[3], char *tz, size_t tzsz)
{
	static char path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
	const char *value;
	int i;

	i = 0;
	envp[i++] = path;
	value = getenv("TZ");
	if (value != NULL && (size_t)snprintf(tz, tzsz, "TZ=%s", value) < tzsz)
		envp[i++] = tz;
	envp[i] = NULL;
}

static int
wait_child(pid_t pid, int *status, char *err, size_t errsz)
{
	while (waitpid(pid, status, 0) == -1) {
		if (errno != EINTR)
			return fail(err, errsz, "cannot wait for process %ld: "
			    "%s", (long)pid, strerror(errno));
	}
	return 0;
}

static int
spawn_tool(const struct server_user *su, int logfd, char *const argv[],
    char *err, size_t errsz)
{
	struct child_failure failure;
	char tz[256], *envp[3];
	int report[2], status;
	ssize_t n;
	pid_t pid;

	tool_environment(envp, tz, sizeof(tz));
	if (pipe2(report, O_CLOEXEC) == -1)
		return fail(err, errsz, "cannot create a pipe: %s",
		    strerror(errno));
	if ((pid = fork()) == -1) {
		close(report[0]);
		close(report[1]);
		return fail(err, errsz, "cannot fork: %s", strerror(errno));
	}
	if (pid == 0)
		exec_child(su, logfd, report[1], argv, envp);
	close(report[1]);
	do
		n = read(report[0], &failure, sizeof(failure));
	while (n == -1 && errno == EINTR);
	close(report[0]);
	if (wait_child(pid, &status, err, errsz) == -1)
		return -1;
	if (n == (ssize_t)sizeof(failure))
		return fail(err, errsz, "cannot %s %s: %s",
		    failure.step == STEP_EXEC ? "run" : "prepare to run",
		    argv[0], strerror(failure.errnum));
	return status;
}

/*
 * Run ARGV with its output appended to the log file, as the server user
 * when convo runs as root. WHAT names the step in messages.
 */
static int
run_tool(const struct localdb *db, const char *what, char *const argv[],
    char *err, size_t errsz)
{
	struct server_user su;
	int logfd, status;

	if (server_user(db, &su, err, errsz) == -1)
		return -1;
	if ((logfd = open_log(db, &su, err, errsz)) == -1)
		return -1;
	log_header(logfd, what);
	status = spawn_tool(&su, logfd, argv, err, errsz);
	close(logfd);
	if (status == -1)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		return fail(err, errsz, "%s was killed by signal %d; see %s",
		    what, WTERMSIG(status), db->logfile);
	return fail(err, errsz, "%s failed with exit status %d; see %s", what,
	    WEXITSTATUS(status), db->logfile);
}

/* Create PATH and missing parents with MODE, whatever the umask. */
static int
make_dirs(const char *path, mode_t mode, char *err, size_t errsz)
{
	char buf[4096];
	struct stat st;
	char *p, saved;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return fail(err, errsz, "path \"%s\" is too long", path);
	for (p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		saved = *p;
		*p = '\0';
		if (mkdir(buf, mode) == 0) {
			if (chmod(buf, mode) == -1)
				return fail(err, errsz, "cannot set the mode "
				    "of \"%s\": %s", buf, strerror(errno));
		} else if (errno != EEXIST)
			return fail(err, errsz, "cannot create directory "
			    "\"%s\": %s", buf, strerror(errno));
		if (saved == '\0')
			break;
		*p = saved;
	}
	if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode))
		return fail(err, errsz, "\"%s\" is not a directory", path);
	return 0;
}

/* Root's home must let the server user through to the socket and log. */
static int
make_home(const struct localdb *db, char *err, size_t errsz)
{
	return make_dirs(db->home, geteuid() == 0 ? 0711 : 0700, err, errsz);
}

static int
check_server_access(const struct localdb *db, const struct server_user *su,
    char *err, size_t errsz)
{
	int status;
	pid_t pid;

	if (!su->switch_user)
		return 0;
	if ((pid = fork()) == -1)
		return fail(err, errsz, "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		if (become_server_user(su) == -1)
			_exit(2);
		if (access(db->sockdir, W_OK | X_OK) == -1 ||
		    access(db->logfile, W_OK) == -1)
			_exit(1);
		_exit(0);
	}
	if (wait_child(pid, &status, err, errsz) == -1)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		return fail(err, errsz, "cannot switch to user \"%s\"",
		    db->runas);
	return fail(err, errsz, "user \"%s\" cannot reach \"%s\" and \"%s\"; "
	    "give it search permission on every directory above them, or "
	    "set CONVO_HOME to a directory such as " ROOT_HOME, db->runas,
	    db->sockdir, db->logfile);
}

/* Make the home, the socket directory and the log file, owned by SU. */
static int
prepare_home(const struct localdb *db, const struct server_user *su,
    char *err, size_t errsz)
{
	int logfd;

	if (make_home(db, err, errsz) == -1)
		return -1;
	if (mkdir(db->sockdir, 0700) == -1 && errno != EEXIST)
		return fail(err, errsz, "cannot create directory \"%s\": %s",
		    db->sockdir, strerror(errno));
	if (su->switch_user && lchown(db->sockdir, su->uid, su->gid) == -1)
		return fail(err, errsz, "cannot give \"%s\" to user \"%s\": %s",
		    db->sockdir, db->runas, strerror(errno));
	if (chmod(db->sockdir, 0700) == -1)
		return fail(err, errsz, "cannot set the mode of \"%s\": %s",
		    db->sockdir, strerror(errno));
	if ((logfd = open_log(db, su, err, errsz)) == -1)
		return -1;
	close(logfd);
	return check_server_access(db, su, err, errsz);
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
remove_tree(const char *path, char *err, size_t errsz)
{
	struct stat st;

	if (lstat(path, &st) == -1 && errno == ENOENT)
		return 0;
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == -1)
		return fail(err, errsz, "cannot remove \"%s\", left by an "
		    "interrupted initdb: %s", path, strerror(errno));
	return 0;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Settings that follow the include line in postgresql.conf override
 * those in convo.conf, which is rewritten before each start.
 */
static int
add_include(const char *datadir, char *err, size_t errsz)
{
	static const char line[] = "\n"
	    "# convo writes convo.conf before each start; "
	    "settings below override it.\n"
	    "include = 'convo.conf'\n";
	char path[4200];
	int fd, rc;

	if (join_path(path, sizeof(path), datadir, "postgresql.conf") == -1)
		return fail(err, errsz, "path \"%s\" is too long", datadir);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1)
		return fail(err, errsz, "cannot open \"%s\": %s", path,
		    strerror(errno));
	rc = write_all(fd, line, sizeof(line) - 1);
	if (close(fd) == -1 || rc == -1)
		return fail(err, errsz, "cannot write \"%s\": %s", path,
		    strerror(errno));
	return 0;
}

/* Return 1 when PATH is missing or an empty directory. */
static int
dir_missing_or_empty(const char *path)
{
	struct dirent *entry;
	DIR *dir;
	int empty;

	if ((dir = opendir(path)) == NULL)
		return errno == ENOENT;
	empty = 1;
	while (empty && (entry = readdir(dir)) != NULL)
		empty = strcmp(entry->d_name, ".") == 0 ||
		    strcmp(entry->d_name, "..") == 0;
	closedir(dir);
	return empty;
}

/*
 * Run initdb in a scratch directory and rename it into place, so that a
 * data directory exists only once it is complete and configured.
 */
static int
create_cluster(const struct localdb *db, const struct server_user *su,
    char *err, size_t errsz)
{
	char scratch[4200], initdb[4200];
	char *argv[] = { initdb, "-D", scratch, "-U", (char *)db->dbuser,
	    "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
	    "--no-instructions", NULL };

	if ((size_t)snprintf(scratch, sizeof(scratch), "%s.new",
	    db->datadir) >= sizeof(scratch) ||
	    join_path(initdb, sizeof(initdb), db->bindir, "initdb") == -1)
		return fail(err, errsz, "path \"%s\" is too long", db->datadir);
	if (!dir_missing_or_empty(db->datadir))
		return fail(err, errsz, "\"%s\" is not empty but holds no "
		    "PostgreSQL cluster (PG_VERSION is missing); move it away",
		    db->datadir);
	if (remove_tree(scratch, err, errsz) == -1)
		return -1;
	if (mkdir(scratch, 0700) == -1)
		return fail(err, errsz, "cannot create directory \"%s\": %s",
		    scratch, strerror(errno));
	if (su->switch_user && chown(scratch, su->uid, su->gid) == -1)
		return fail(err, errsz, "cannot give \"%s\" to user \"%s\": %s",
		    scratch, db->runas, strerror(errno));
	if (run_tool(db, "initdb", argv, err, errsz) == -1)
		return -1;
	if (add_include(scratch, err, errsz) == -1)
		return -1;
	if (rename(scratch, db->datadir) == -1)
		return fail(err, errsz, "cannot rename \"%s\" to \"%s\": %s",
		    scratch, db->datadir, strerror(errno));
	return 0;
}

/* Double single quotes, as postgresql.conf strings require. */
static int
quote_conf(char *out, size_t n, const char *value)
{
	size_t len;

	for (len = 0; *value != '\0'; value++) {
		if (len + 2 >= n)
			return -1;
		if (*value == '\'')
			out[len++] = '\'';
		out[len++] = *value;
	}
	out[len] = '\0';
	return 0;
}

/*
 * Sized for one user's programs, each of which uses one connection.
 * Checkpoint lines are off because they would fill the log during imports.
 */
static int
format_config(const struct localdb *db, char *buf, size_t n)
{
	char sockdir[8200];
	int len;

	if (quote_conf(sockdir, sizeof(sockdir), db->sockdir) == -1)
		return -1;
	len = snprintf(buf, n,
	    "# Written by convo before each start of the local database.\n"
	    "listen_addresses = ''\n"
	    "port = " LOCALDB_PORT "\n"
	    "unix_socket_directories = '%s'\n"
	    "unix_socket_permissions = 0700\n"
	    "max_connections = 50\n"
	    "log_checkpoints = off\n", sockdir);
	return len < 0 || (size_t)len >= n ? -1 : len;
}

/* Write convo.conf anew so that a moved home gets its new socket path. */
static int
write_config(const struct localdb *db, const struct server_user *su,
    char *err, size_t errsz)
{
	char path[4200], scratch[4200], text[9000];
	int fd, len, rc;

	if (join_path(path, sizeof(path), db->datadir, "convo.conf") == -1 ||
	    join_path(scratch, sizeof(scratch), db->datadir,
	    "convo.conf.new") == -1 ||
	    (len = format_config(db, text, sizeof(text))) == -1)
		return fail(err, errsz, "path \"%s\" is too long", db->datadir);
	fd = open(scratch, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1)
		return fail(err, errsz, "cannot create \"%s\": %s", scratch,
		    strerror(errno));
	rc = write_all(fd, text, (size_t)len);
	if (rc == 0 && su->switch_user)
		rc = fchown(fd, su->uid, su->gid);
	if (close(fd) == -1 || rc == -1)
		return fail(err, errsz, "cannot write \"%s\": %s", scratch,
		    strerror(errno));
	if (rename(scratch, path) == -1)
		return fail(err, errsz, "cannot rename \"%s\" to \"%s\": %s",
		    scratch, path, strerror(errno));
	return 0;
}

static void
trim_newline(char *s)
{
	size_t len;

	len = strlen(s);
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
}

static int
conn_fail(PGconn *conn, const char *what, char *err, size_t errsz)
{
	fail(err, errsz, "%s: %s", what, PQerrorMessage(conn));
	trim_newline(err);
	PQfinish(conn);
	return -1;
}

static int
create_database(const struct localdb *db, char *err, size_t errsz)
{
	const char *keys[] = { "host", "port", "dbname", "user",
	    "application_name", NULL };
	const char *values[] = { db->sockdir, LOCALDB_PORT, "postgres",
	    db->dbuser, "convo", NULL };
	const char *name = LOCALDB_DBNAME;
	const char *state;
	PGresult *res;
	PGconn *conn;
	int exists;

	conn = PQconnectdbParams(keys, values, 0);
	if (PQstatus(conn) != CONNECTION_OK)
		return conn_fail(conn, "cannot connect to the local database",
		    err, errsz);
	res = PQexecParams(conn, "SELECT 1 FROM pg_database "
	    "WHERE datname = $1", 1, NULL, &name, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return conn_fail(conn, "cannot list databases", err, errsz);
	}
	exists = PQntuples(res) > 0;
	PQclear(res);
	if (exists) {
		PQfinish(conn);
		return 0;
	}
	res = PQexec(conn, "CREATE DATABASE " LOCALDB_DBNAME);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    (state == NULL || strcmp(state, "42P04") != 0)) {
		PQclear(res);
		return conn_fail(conn, "cannot create database \""
		    LOCALDB_DBNAME "\"", err, errsz);
	}
	PQclear(res);
	PQfinish(conn);
	return 0;
}

static int
cluster_exists(const struct localdb *db)
{
	char path[4200];

	if (join_path(path, sizeof(path), db->datadir, "PG_VERSION") == -1)
		return 0;
	return access(path, F_OK) == 0;
}

/*
 * Return 1 when process PID exists and is not a zombie. A killed
 * postmaster stays a zombie until init reaps it, which can take a
 * second, and kill() alone reports a zombie as alive.
 */
static int
process_alive(long pid)
{
	char path[64], buf[512], *paren;
	ssize_t n;
	int fd;

	if (kill((pid_t)pid, 0) == -1 && errno != EPERM)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	if ((paren = strrchr(buf, ')')) == NULL || paren[1] != ' ')
		return 1;
	return paren[2] != 'Z' && paren[2] != 'X';
}

/* Return the process id in postmaster.pid, or 0 without one. */
static long
postmaster_pid(const struct localdb *db)
{
	char path[4200], buf[32];
	long pid;
	ssize_t n;
	int fd;

	if (join_path(path, sizeof(path), db->datadir, "postmaster.pid") == -1)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 ? pid : 0;
}

/*
 * A crash leaves a postmaster.pid whose process is gone, while a clean
 * shutdown removes the file.
 */
int
localdb_running(const struct localdb *db)
{
	long pid;

	if (!cluster_exists(db))
		return -1;
	if ((pid = postmaster_pid(db)) == 0)
		return 0;
	return process_alive(pid);
}

/*
 * The postmaster does not start while the process named in a stale
 * postmaster.pid exists, and a crashed server's zombie counts as existing.
 */
static void
wait_zombie_reaped(const struct localdb *db)
{
	long pid;
	int i;

	if ((pid = postmaster_pid(db)) == 0)
		return;
	for (i = 0; i < ZOMBIE_WAIT_SECONDS * 1000 / POLL_MS; i++) {
		if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
			return;
		sleep_ms(POLL_MS);
	}
}

/* Lock HOME/lock exclusively and return its descriptor, or -1. */
static int
lock_home(const struct localdb *db, char *err, size_t errsz)
{
	char path[4200];
	int fd, i;

	if (join_path(path, sizeof(path), db->home, "lock") == -1)
		return fail(err, errsz, "path \"%s\" is too long", db->home);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return fail(err, errsz, "cannot open lock file \"%s\": %s",
		    path, strerror(errno));
	for (i = 0; i < LOCK_WAIT_SECONDS * 1000 / POLL_MS; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			fail(err, errsz, "cannot lock \"%s\": %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		sleep_ms(POLL_MS);
	}
	close(fd);
	return fail(err, errsz, "timed out after %d s waiting for \"%s\", "
	    "locked by another program that is starting or stopping the local "
	    "database", LOCK_WAIT_SECONDS, path);
}

static int
init_locked(const struct localdb *db, char *err, size_t errsz)
{
	struct server_user su;

	if (cluster_exists(db))
		return 0;
	if (server_user(db, &su, err, errsz) == -1 ||
	    prepare_home(db, &su, err, errsz) == -1)
		return -1;
	return create_cluster(db, &su, err, errsz);
}

/*
 * Keep root from giving the socket directory of a cluster that a normal
 * user runs to the server user, which would lock that user out.
 */
static int
check_cluster_owner(const struct localdb *db, const struct server_user *su,
    char *err, size_t errsz)
{
	struct passwd *pw;
	struct stat st;
	char owner[96];

	if (!su->switch_user)
		return 0;
	if (stat(db->datadir, &st) == -1)
		return fail(err, errsz, "cannot read \"%s\": %s", db->datadir,
		    strerror(errno));
	if (st.st_uid == su->uid)
		return 0;
	if ((pw = getpwuid(st.st_uid)) != NULL)
		snprintf(owner, sizeof(owner), "user \"%s\"", pw->pw_name);
	else
		snprintf(owner, sizeof(owner), "uid %u", (unsigned)st.st_uid);
	return fail(err, errsz, "the cluster in \"%s\" belongs to %s, not to "
	    "\"%s\"; run convo as its owner or set CONVO_HOME to another "
	    "directory", db->datadir, owner, db->runas);
}

/* Create the "convo" database too, in case an earlier start died first. */
static int
start_locked(const struct localdb *db, char *err, size_t errsz)
{
	struct server_user su;
	char pg_ctl[4200];
	char *argv[] = { pg_ctl, "start", "-w", "-t", PG_CTL_WAIT_SECONDS,
	    "-s", "-D", (char *)db->datadir, "-l", (char *)db->logfile, NULL };
	int running;

	if ((running = localdb_running(db)) == 1)
		return 0;
	if (running == -1)
		return fail(err, errsz, "no database cluster in \"%s\"; create "
		    "it with \"convo-db init\"", db->datadir);
	if (join_path(pg_ctl, sizeof(pg_ctl), db->bindir, "pg_ctl") == -1)
		return fail(err, errsz, "path \"%s\" is too long", db->bindir);
	if (server_user(db, &su, err, errsz) == -1 ||
	    check_cluster_owner(db, &su, err, errsz) == -1 ||
	    prepare_home(db, &su, err, errsz) == -1 ||
	    write_config(db, &su, err, errsz) == -1)
		return -1;
	wait_zombie_reaped(db);
	if (run_tool(db, "pg_ctl start", argv, err, errsz) == -1)
		return -1;
	return create_database(db, err, errsz);
}

/* The stopped postmaster can linger as a zombie, so watch its pid file. */
static int
wait_pidfile_gone(const struct localdb *db, char *err, size_t errsz)
{
	char path[4200];
	int i;

	if (join_path(path, sizeof(path), db->datadir, "postmaster.pid") == -1)
		return fail(err, errsz, "path \"%s\" is too long", db->datadir);
	for (i = 0; i < STOP_WAIT_SECONDS * 1000 / POLL_MS; i++) {
		if (access(path, F_OK) == -1 && errno == ENOENT)
			return 0;
		sleep_ms(POLL_MS);
	}
	return fail(err, errsz, "the server did not remove \"%s\" within %d s; "
	    "see %s", path, STOP_WAIT_SECONDS, db->logfile);
}

static int
stop_locked(const struct localdb *db, char *err, size_t errsz)
{
	char pg_ctl[4200];
	char *argv[] = { pg_ctl, "stop", "-w", "-t", PG_CTL_WAIT_SECONDS,
	    "-s", "-m", "fast", "-D", (char *)db->datadir, NULL };

	if (localdb_running(db) != 1)
		return 0;
	if (join_path(pg_ctl, sizeof(pg_ctl), db->bindir, "pg_ctl") == -1)
		return fail(err, errsz, "path \"%s\" is too long", db->bindir);
	if (run_tool(db, "pg_ctl stop", argv, err, errsz) == -1)
		return -1;
	return wait_pidfile_gone(db, err, errsz);
}

int
localdb_init(const struct localdb *db, char *err, size_t errsz)
{
	int lockfd, rc;

	if (cluster_exists(db))
		return 0;
	if (make_home(db, err, errsz) == -1 ||
	    (lockfd = lock_home(db, err, errsz)) == -1)
		return -1;
	rc = init_locked(db, err, errsz);
	close(lockfd);
	return rc;
}

int
localdb_start(const struct localdb *db, char *err, size_t errsz)
{
	int lockfd, rc;

	if (localdb_running(db) == 1)
		return 0;
	if (make_home(db, err, errsz) == -1 ||
	    (lockfd = lock_home(db, err, errsz)) == -1)
		return -1;
	rc = start_locked(db, err, errsz);
	close(lockfd);
	return rc;
}

int
localdb_stop(const struct localdb *db, char *err, size_t errsz)
{
	int lockfd, rc;

	if (localdb_running(db) != 1)
		return 0;
	if ((lockfd = lock_home(db, err, errsz)) == -1)
		return -1;
	rc = stop_locked(db, err, errsz);
	close(lockfd);
	return rc;
}

/* Append " KEY=VALUE", quoting VALUE by the libpq conninfo rules. */
static int
append_param(char *buf, size_t n, size_t *len, const char *key,
    const char *value)
{
	int quote, w;

	quote = value[0] == '\0' || strpbrk(value, " \t\n\r\f\v'\\") != NULL;
	w = snprintf(buf + *len, n - *len, "%s%s=%s", *len > 0 ? " " : "",
	    key, quote ? "'" : "");
	if (w < 0 || (size_t)w >= n - *len)
		return -1;
	*len += (size_t)w;
	for (; *value != '\0'; value++) {
		if (*len + 3 >= n)
			return -1;
		if (quote && (*value == '\'' || *value == '\\'))
			buf[(*len)++] = '\\';
		buf[(*len)++] = *value;
	}
	if (quote)
		buf[(*len)++] = '\'';
	buf[*len] = '\0';
	return 0;
}

static int
format_conninfo(const struct localdb *db, char *buf, size_t n, char *err,
    size_t errsz)
{
	size_t len;

	len = 0;
	if (n == 0 ||
	    append_param(buf, n, &len, "host", db->sockdir) == -1 ||
	    append_param(buf, n, &len, "port", LOCALDB_PORT) == -1 ||
	    append_param(buf, n, &len, "dbname", LOCALDB_DBNAME) == -1 ||
	    append_param(buf, n, &len, "user", db->dbuser) == -1)
		return fail(err, errsz, "connection string for \"%s\" does not "
		    "fit in %zu bytes", db->home, n);
	return 0;
}

/* Fill DB with localdb_locate() first, so the caller may pass it unset. */
int
localdb_ensure(struct localdb *db, char *conninfo, size_t n, char *err,
    size_t errsz)
{
	int lockfd, rc;

	if (localdb_locate(db, err, errsz) == -1)
		return -1;
	if (localdb_running(db) != 1) {
		if (make_home(db, err, errsz) == -1 ||
		    (lockfd = lock_home(db, err, errsz)) == -1)
			return -1;
		rc = init_locked(db, err, errsz);
		if (rc == 0)
			rc = start_locked(db, err, errsz);
		close(lockfd);
		if (rc == -1)
			return -1;
	}
	return format_conninfo(db, conninfo, n, err, errsz);
}
