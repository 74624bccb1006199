/*
 * coh: checks the c9fs coherence contract (docs/coherence-tests.md) across
 * two mounts of one file tree.
 *
 *   coh [-t TIMEOUT_MS] [-b BOUND_MS] [-o LIST] [-j] DIR_A DIR_B
 *   coh -l
 *
 * LIST: comma-separated clause ids ("3" = 3a, 3b, 3c) or check names; -l lists
 * the checks. Exit status 0 if all passed, 1 if any failed, 2 on usage errors.
 * scripts/coherence-test is the front end; it also runs the seed programs.
 *
 * Each check creates coh.PID.N.dat through DIR_A, then forks: the child is
 * the writer (it acts through one mount), the parent is the poller (it looks
 * through the other mount). They talk over two pipes:
 *
 *   writer                           poller
 *   prepare (open, map, ...)  READY ->
 *                                    prepare (open, read, map, stat ...)
 *                             <- GO
 *   act; t0 = now             DONE(t0) ->
 *                                    probe every POLL_NS until seen or timeout
 *                             <- FINISH
 *   unmap, close, exit
 *
 * The writer keeps its mapping and fd until FINISH: unmapping or closing would
 * push dirty pages out and hide exactly the case clause 3b/3c are about.
 * Clause 4 checks run in one process on DIR_A. The delay printed is from the
 * writer's call returning (t0, CLOCK_MONOTONIC, system-wide) to the return of
 * the first probe that saw the new state; it includes one pipe hop.
 *
 * Output: one line per check, "PASS|FAIL clause-ID NAME delay=Xms (detail)";
 * with -j each line is followed by the same result as one JSON object.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096               /* the tests place tokens by page; main() checks the real size */
#define MAP_LEN (2 * PAGE)
#define OFF 100                 /* token offset inside a page: not page aligned on purpose */
#define TOKEN_LEN 8
#define POLL_NS 250000L         /* the contract asks for a 1 ms-or-faster poll */
#define SHORT_LEN 50            /* size after the "truncate short" act */
#define EXTENDED_LEN (4 * PAGE)
#define NEW_MODE 0600
#define NEW_MTIME 1000000000L   /* 2001-09-09: far from "now", so no clock noise matches it */

static long timeout_ms = 3000;
static long bound_ms = 1000;    /* clause 3c: write-shared stores reach others within this */
static long margin_ms = 250;    /* scheduling slack allowed on top of bound_ms */
static int json;

/* Per-process view of one check: after fork each side has its own copy. */
struct ctx {
	char path_a[PATH_MAX], path_b[PATH_MAX];        /* the test file through A and B */
	char alt_a[PATH_MAX], alt_b[PATH_MAX];          /* a second name, for create and rename */
	const char *mine, *mine_alt;                    /* this process's view */
	size_t size;                                    /* initial file size */
	char token[TOKEN_LEN];
	int fd;
	char *map;
	char why[160];                                  /* reason for an error, if any */
};

typedef int (*step_fn)(struct ctx *);

struct check {
	const char *clause;
	const char *name;
	char writer;            /* 'a' or 'b': the writer's mount; '1': one process on A */
	size_t size;            /* initial size of the test file */
	int strict;             /* the first probe must already see the change */
	long limit_ms;          /* give up after this; 0: the -t timeout, -1: the clause 3c bound (-b) + margin */
	step_fn prep_writer, prep_poller, act, probe;
};

static int fail_errno(struct ctx *c, const char *what)
{
	snprintf(c->why, sizeof c->why, "%s: %s", what, strerror(errno));
	return -1;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- guarded loads: a load beyond EOF in a shared mapping raises SIGBUS ---- */

static sigjmp_buf bus_jump;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	if (!bus_armed) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(bus_jump, 1);
}

/* Copies n bytes from a mapping; returns -1 if the kernel raised SIGBUS. */
static int guarded_load(const volatile char *src, char *dst, size_t n)
{
	if (sigsetjmp(bus_jump, 1)) {
		bus_armed = 0;
		return -1;
	}
	bus_armed = 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i];
	bus_armed = 0;
	return 0;
}

/* ---- prepare steps ---- */

static int prep_open(struct ctx *c)
{
	c->fd = open(c->mine, O_RDWR);
	return c->fd < 0 ? fail_errno(c, "open") : 0;
}

/* Reading first puts the old bytes in this mount's page cache, which is what a stale reader would serve. */
static int prep_open_read(struct ctx *c)
{
	char buf[TOKEN_LEN];
	if (prep_open(c) < 0)
		return -1;
	return pread(c->fd, buf, sizeof buf, OFF) < 0 ? fail_errno(c, "pread") : 0;
}

static int prep_read_closed(struct ctx *c)
{
	int rc = prep_open_read(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	return rc;
}

/* Maps two pages and faults in those inside the file, so later loads hit cached pages. */
static int prep_open_map(struct ctx *c)
{
	char buf[1];
	if (prep_open(c) < 0)
		return -1;
	c->map = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		return fail_errno(c, "mmap");
	}
	for (size_t off = 0; off < c->size && off < MAP_LEN; off += PAGE)
		if (guarded_load(c->map + off, buf, 1) < 0) {
			snprintf(c->why, sizeof c->why, "SIGBUS faulting in page %zu", off / PAGE);
			return -1;
		}
	return 0;
}

static int prep_stat(struct ctx *c)
{
	struct stat st;
	return stat(c->mine, &st) < 0 ? fail_errno(c, "stat") : 0;
}

/* A failed lookup may be cached as a negative dentry: make A hold one before B creates the name. */
static int prep_stat_and_miss(struct ctx *c)
{
	if (prep_stat(c) < 0)
		return -1;
	if (access(c->mine_alt, F_OK) == 0 || errno != ENOENT) {
		snprintf(c->why, sizeof c->why, "second name unexpectedly present");
		return -1;
	}
	return 0;
}

/* Whether PATH's last name is in its directory's listing (opendir + readdir: what ls sees; the
 * kernel may answer from a listing it kept). 1 listed, 0 not, -1 error. */
static int listed(struct ctx *c, const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (slash)
		snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	else
		snprintf(dir, sizeof dir, ".");
	DIR *d = opendir(dir);
	if (!d)
		return fail_errno(c, "opendir");
	int found = 0;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d)) != NULL)
		found |= strcmp(e->d_name, base) == 0;
	int err = errno;
	closedir(d);
	errno = err;
	return err ? fail_errno(c, "readdir") : found;
}

static int prep_list(struct ctx *c)
{
	if (prep_stat(c) < 0)
		return -1;
	int rc = listed(c, c->mine);
	if (rc == 0)
		snprintf(c->why, sizeof c->why, "the file is not listed");
	return rc == 1 ? 0 : -1;
}

static int prep_list_and_miss(struct ctx *c)
{
	if (prep_list(c) < 0)
		return -1;
	int rc = listed(c, c->mine_alt);
	if (rc == 1)
		snprintf(c->why, sizeof c->why, "second name unexpectedly listed");
	return rc == 0 ? 0 : -1;
}

/* ---- acts (the writer's call whose return starts the clock) ---- */

static int act_pwrite(struct ctx *c)
{
	return pwrite(c->fd, c->token, TOKEN_LEN, OFF) != TOKEN_LEN ? fail_errno(c, "pwrite") : 0;
}

static int act_store(struct ctx *c)
{
	memcpy(c->map + OFF, c->token, TOKEN_LEN);
	return 0;
}

static int act_store_msync(struct ctx *c)
{
	act_store(c);
	return msync(c->map, MAP_LEN, MS_SYNC) < 0 ? fail_errno(c, "msync") : 0;
}

static int act_store_fsync(struct ctx *c)
{
	act_store(c);
	return fsync(c->fd) < 0 ? fail_errno(c, "fsync") : 0;
}

static int act_store_munmap(struct ctx *c)
{
	act_store(c);
	int rc = munmap(c->map, MAP_LEN);
	c->map = NULL;
	return rc < 0 ? fail_errno(c, "munmap") : 0;
}

static int act_truncate_page(struct ctx *c)
{
	return ftruncate(c->fd, PAGE) < 0 ? fail_errno(c, "ftruncate") : 0;
}

static int act_truncate_short(struct ctx *c)
{
	return ftruncate(c->fd, SHORT_LEN) < 0 ? fail_errno(c, "ftruncate") : 0;
}

static int act_extend(struct ctx *c)
{
	return ftruncate(c->fd, EXTENDED_LEN) < 0 ? fail_errno(c, "ftruncate") : 0;
}

/* Grows a one-page file to two pages and puts the token in the new page. */
static int act_extend_write(struct ctx *c)
{
	if (ftruncate(c->fd, MAP_LEN) < 0)
		return fail_errno(c, "ftruncate");
	return pwrite(c->fd, c->token, TOKEN_LEN, PAGE + OFF) != TOKEN_LEN ? fail_errno(c, "pwrite") : 0;
}

static int act_chmod(struct ctx *c)
{
	return chmod(c->mine, NEW_MODE) < 0 ? fail_errno(c, "chmod") : 0;
}

static int act_utimes(struct ctx *c)
{
	struct timespec ts[2] = { { NEW_MTIME, 0 }, { NEW_MTIME, 0 } };
	return utimensat(AT_FDCWD, c->mine, ts, 0) < 0 ? fail_errno(c, "utimensat") : 0;
}

static int act_create(struct ctx *c)
{
	int fd = open(c->mine_alt, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd < 0)
		return fail_errno(c, "create");
	return close(fd) < 0 ? fail_errno(c, "close") : 0;
}

static int act_rename(struct ctx *c)
{
	return rename(c->mine, c->mine_alt) < 0 ? fail_errno(c, "rename") : 0;
}

static int act_unlink(struct ctx *c)
{
	return unlink(c->mine) < 0 ? fail_errno(c, "unlink") : 0;
}

/* ---- probes: 1 = the change is seen, 0 = not yet, -1 = error ---- */

static int probe_pread(struct ctx *c)
{
	char buf[TOKEN_LEN];
	if (pread(c->fd, buf, sizeof buf, OFF) != TOKEN_LEN)
		return fail_errno(c, "pread");
	return memcmp(buf, c->token, TOKEN_LEN) == 0;
}

static int probe_open_read(struct ctx *c)
{
	int rc = prep_open(c);
	if (rc == 0)
		rc = probe_pread(c);
	close(c->fd);
	c->fd = -1;
	return rc;
}

static int probe_fstat_page(struct ctx *c)
{
	struct stat st;
	if (fstat(c->fd, &st) < 0)
		return fail_errno(c, "fstat");
	return st.st_size == PAGE;
}

static int probe_pread_short(struct ctx *c)
{
	char buf[MAP_LEN];
	ssize_t n = pread(c->fd, buf, sizeof buf, 0);
	if (n < 0)
		return fail_errno(c, "pread");
	return n == SHORT_LEN;
}

static int probe_map_at(struct ctx *c, size_t off)
{
	char buf[TOKEN_LEN];
	if (guarded_load(c->map + off, buf, TOKEN_LEN) < 0)
		return 0;       /* still beyond this mount's idea of EOF */
	return memcmp(buf, c->token, TOKEN_LEN) == 0;
}

static int probe_map(struct ctx *c)
{
	return probe_map_at(c, OFF);
}

static int probe_map_page2(struct ctx *c)
{
	return probe_map_at(c, PAGE + OFF);
}

static int probe_map_sigbus(struct ctx *c)
{
	char buf[1];
	return guarded_load(c->map + PAGE, buf, 1) < 0;
}

static int stat_mine(struct ctx *c, struct stat *st)
{
	if (stat(c->mine, st) < 0)
		return fail_errno(c, "stat");
	return 0;
}

static int probe_stat_extended(struct ctx *c)
{
	struct stat st;
	return stat_mine(c, &st) < 0 ? -1 : st.st_size == EXTENDED_LEN;
}

static int probe_stat_page(struct ctx *c)
{
	struct stat st;
	return stat_mine(c, &st) < 0 ? -1 : st.st_size == PAGE;
}

static int probe_stat_mode(struct ctx *c)
{
	struct stat st;
	return stat_mine(c, &st) < 0 ? -1 : (st.st_mode & 07777) == NEW_MODE;
}

static int probe_stat_mtime(struct ctx *c)
{
	struct stat st;
	return stat_mine(c, &st) < 0 ? -1 : st.st_mtim.tv_sec == NEW_MTIME;
}

static int probe_lookup_alt(struct ctx *c)
{
	if (access(c->mine_alt, F_OK) == 0)
		return 1;
	return errno == ENOENT ? 0 : fail_errno(c, "access");
}

static int probe_gone(struct ctx *c)
{
	struct stat st;
	if (stat(c->mine, &st) == 0)
		return 0;
	return errno == ENOENT ? 1 : fail_errno(c, "stat");
}

static int probe_listed_alt(struct ctx *c)
{
	return listed(c, c->mine_alt);
}

static int probe_unlisted(struct ctx *c)
{
	int rc = listed(c, c->mine);
	return rc < 0 ? rc : !rc;
}

static int probe_relisted(struct ctx *c)
{
	int rc = probe_listed_alt(c);
	return rc == 1 ? probe_unlisted(c) : rc;
}

static int probe_renamed(struct ctx *c)
{
	int rc = probe_lookup_alt(c);
	return rc == 1 ? probe_gone(c) : rc;
}

/* ---- the checks, by clause ----
 * clause, name, writer's mount, initial size, strict, limit,
 * writer prepares, poller prepares, writer acts, poller probes */

static const struct check checks[] = {
	{ "1", "a_pwrite_to_b_pread", 'a', MAP_LEN, 0, 0, prep_open, prep_open_read, act_pwrite, probe_pread },
	{ "1", "a_truncate_to_b_fstat", 'a', MAP_LEN, 0, 0, prep_open, prep_open_read, act_truncate_page, probe_fstat_page },
	{ "1", "a_truncate_to_b_pread", 'a', MAP_LEN, 0, 0, prep_open, prep_open_read, act_truncate_short, probe_pread_short },
	{ "2", "b_pwrite_to_a_mapped_load", 'b', MAP_LEN, 0, 0, prep_open, prep_open_map, act_pwrite, probe_map },
	{ "2", "b_msync_to_a_mapped_load", 'b', MAP_LEN, 0, 0, prep_open_map, prep_open_map, act_store_msync, probe_map },
	{ "3a", "a_msync_to_b_pread", 'a', MAP_LEN, 0, 0, prep_open_map, prep_open_read, act_store_msync, probe_pread },
	{ "3a", "a_fsync_to_b_pread", 'a', MAP_LEN, 0, 0, prep_open_map, prep_open_read, act_store_fsync, probe_pread },
	{ "3a", "a_munmap_to_b_pread", 'a', MAP_LEN, 0, 0, prep_open_map, prep_open_read, act_store_munmap, probe_pread },
	{ "3b", "a_store_to_b_open_read", 'a', MAP_LEN, 1, 0, prep_open_map, prep_read_closed, act_store, probe_open_read },
	{ "3c", "a_store_to_b_pread_bounded", 'a', MAP_LEN, 0, -1, prep_open_map, prep_open_read, act_store, probe_pread },
	{ "4", "pwrite_then_mapped_load", '1', MAP_LEN, 1, 0, prep_open_map, NULL, act_pwrite, probe_map },
	{ "4", "mapped_store_then_pread", '1', MAP_LEN, 1, 0, prep_open_map, NULL, act_store, probe_pread },
	{ "4", "truncate_then_mapped_sigbus", '1', MAP_LEN, 1, 0, prep_open_map, NULL, act_truncate_page, probe_map_sigbus },
	{ "5", "b_extend_to_a_stat", 'b', MAP_LEN, 0, 0, prep_open, prep_stat, act_extend, probe_stat_extended },
	{ "5", "b_truncate_to_a_stat", 'b', MAP_LEN, 0, 0, prep_open, prep_stat, act_truncate_page, probe_stat_page },
	{ "5", "b_chmod_to_a_stat", 'b', MAP_LEN, 0, 0, NULL, prep_stat, act_chmod, probe_stat_mode },
	{ "5", "b_utimes_to_a_stat", 'b', MAP_LEN, 0, 0, NULL, prep_stat, act_utimes, probe_stat_mtime },
	{ "5", "b_create_to_a_lookup", 'b', MAP_LEN, 0, 0, NULL, prep_stat_and_miss, act_create, probe_lookup_alt },
	{ "5", "b_rename_to_a_lookup", 'b', MAP_LEN, 0, 0, NULL, prep_stat_and_miss, act_rename, probe_renamed },
	{ "5", "b_unlink_to_a_lookup", 'b', MAP_LEN, 0, 0, NULL, prep_stat, act_unlink, probe_gone },
	{ "5", "b_create_to_a_readdir", 'b', MAP_LEN, 0, 0, NULL, prep_list_and_miss, act_create, probe_listed_alt },
	{ "5", "b_rename_to_a_readdir", 'b', MAP_LEN, 0, 0, NULL, prep_list_and_miss, act_rename, probe_relisted },
	{ "5", "b_unlink_to_a_readdir", 'b', MAP_LEN, 0, 0, NULL, prep_list, act_unlink, probe_unlisted },
	{ "5", "b_extend_to_a_mapped_load", 'b', PAGE, 0, 0, prep_open, prep_open_map, act_extend_write, probe_map_page2 },
	{ "5", "b_truncate_to_a_mapped_sigbus", 'b', MAP_LEN, 0, 0, prep_open, prep_open_map, act_truncate_page, probe_map_sigbus },
};

/* ---- result line ---- */

static void report(const struct check *k, int pass, double delay, const char *detail)
{
	char line[512];
	int n = snprintf(line, sizeof line, "%s clause-%-2s %-30s", pass ? "PASS" : "FAIL", k->clause, k->name);
	if (delay >= 0)
		n += snprintf(line + n, sizeof line - n, " delay=%.2fms", delay);
	if (*detail)
		snprintf(line + n, sizeof line - n, " (%s)", detail);
	puts(line);
	if (json) {
		printf("{\"result\":\"%s\",\"clause\":\"%s\",\"check\":\"%s\",\"delay_ms\":",
		       pass ? "PASS" : "FAIL", k->clause, k->name);
		if (delay >= 0)
			printf("%.3f", delay);
		else
			printf("null");
		printf(",\"detail\":\"");
		for (const char *p = detail; *p; p++)
			printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		printf("\"}\n");
	}
	fflush(stdout);
}

/* ---- writer/poller hand-off over pipes ---- */

struct msg {
	char kind;              /* 'R'eady, 'G'o, 'D'one, 'F'inish, 'E'rror */
	double t0;
	char why[120];
};

static int send_msg(int fd, char kind, double t0, const char *why)
{
	struct msg m = { .kind = kind, .t0 = t0 };
	snprintf(m.why, sizeof m.why, "%s", why ? why : "");
	/* below PIPE_BUF, so the write is atomic */
	return write(fd, &m, sizeof m) == (ssize_t)sizeof m ? 0 : -1;
}

static int recv_msg(int fd, struct msg *m, long wait_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, (int)wait_ms);
	if (n <= 0)
		return -1;
	return read(fd, m, sizeof *m) == (ssize_t)sizeof *m ? 0 : -1;
}

static void release(struct ctx *c)
{
	if (c->map)
		munmap(c->map, MAP_LEN);
	if (c->fd >= 0)
		close(c->fd);
	c->map = NULL;
	c->fd = -1;
}

static int run_step(step_fn f, struct ctx *c)
{
	return f ? f(c) : 0;
}

/* The child: prepare, wait for GO, act, report t0, hold everything until FINISH. */
static void writer(const struct check *k, struct ctx *c, int to_poller, int from_poller, long wait_ms)
{
	struct msg m;
	if (run_step(k->prep_writer, c) < 0) {
		send_msg(to_poller, 'E', 0, c->why);
		_exit(1);
	}
	send_msg(to_poller, 'R', 0, NULL);
	if (recv_msg(from_poller, &m, wait_ms) < 0 || m.kind != 'G')
		_exit(1);
	if (k->act(c) < 0) {
		send_msg(to_poller, 'E', 0, c->why);
		_exit(1);
	}
	send_msg(to_poller, 'D', now_ms(), NULL);
	recv_msg(from_poller, &m, wait_ms);
	release(c);
	_exit(0);
}

static void reap(pid_t pid)
{
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, WNOHANG);
}

/* Polls until the probe sees the change or limit_ms passed since t0; returns the delay or -1. */
static double poll_probe(const struct check *k, struct ctx *c, double t0, long limit_ms, int *first, int *err)
{
	const struct timespec gap = { 0, POLL_NS };
	*first = -1;
	*err = 0;
	for (;;) {
		int r = k->probe(c);
		double t = now_ms();
		if (r < 0) {
			*err = 1;
			return -1;
		}
		if (*first < 0)
			*first = r;
		if (r == 1)
			return t - t0 < 0 ? 0 : t - t0;
		if (t - t0 > limit_ms)
			return -1;
		nanosleep(&gap, NULL);
	}
}

static void judge(const struct check *k, struct ctx *c, double delay, int first, int err, long limit_ms)
{
	char detail[200] = "";
	int pass = 0;
	if (err)
		snprintf(detail, sizeof detail, "%s", c->why);
	else if (delay < 0 && k->writer == '1')
		snprintf(detail, sizeof detail, "not seen at once on the same mount");
	else if (delay < 0)
		snprintf(detail, sizeof detail, "not seen within %g s", limit_ms / 1000.0);
	else if (k->strict && first != 1)
		snprintf(detail, sizeof detail, "first look was stale");
	else
		pass = 1;
	report(k, pass, delay, detail);
}

static int writer_failed(struct ctx *c, const struct msg *m)
{
	snprintf(c->why, sizeof c->why, "writer: %s", m->kind == 'E' ? m->why : "no answer");
	return 1;
}

static int create_file(struct ctx *c)
{
	char buf[MAP_LEN];
	int fd = open(c->path_a, O_CREAT | O_EXCL | O_RDWR, 0644);
	if (fd < 0)
		return fail_errno(c, "setup: create");
	memset(buf, 'o', sizeof buf);
	int ok = write(fd, buf, c->size) == (ssize_t)c->size && fchmod(fd, 0644) == 0 && fsync(fd) == 0;
	if (!ok)
		fail_errno(c, "setup: write");
	close(fd);
	return ok ? 0 : -1;
}

/* B may learn about a name created through A only later; wait for it, bounded. */
static int wait_visible(struct ctx *c)
{
	const struct timespec gap = { 0, POLL_NS };
	double end = now_ms() + timeout_ms;
	struct stat st;
	while (stat(c->path_b, &st) < 0 || (size_t)st.st_size != c->size) {
		if (now_ms() > end) {
			snprintf(c->why, sizeof c->why, "setup: file made through A not visible on B");
			return -1;
		}
		nanosleep(&gap, NULL);
	}
	return 0;
}

static int run_check(const struct check *k, int idx, const char *dir_a, const char *dir_b)
{
	struct ctx c = { .fd = -1, .size = k->size };
	long limit_ms = k->limit_ms < 0 ? bound_ms + margin_ms : k->limit_ms ? k->limit_ms : timeout_ms;
	long wait_ms = timeout_ms + 10000;
	char tok[TOKEN_LEN + 1];
	double delay = -1;
	int first = -1, err = 0;

	snprintf(c.path_a, sizeof c.path_a, "%s/coh.%d.%d.dat", dir_a, (int)getpid(), idx);
	snprintf(c.path_b, sizeof c.path_b, "%s/coh.%d.%d.dat", dir_b, (int)getpid(), idx);
	snprintf(c.alt_a, sizeof c.alt_a, "%s/coh.%d.%d.alt", dir_a, (int)getpid(), idx);
	snprintf(c.alt_b, sizeof c.alt_b, "%s/coh.%d.%d.alt", dir_b, (int)getpid(), idx);
	snprintf(tok, sizeof tok, "new:%04d", idx % 10000);
	memcpy(c.token, tok, TOKEN_LEN);

	if (create_file(&c) < 0 || (k->writer != '1' && wait_visible(&c) < 0)) {
		err = 1;
	} else if (k->writer == '1') {
		/* one client: everything on A in this process, and it must agree at once */
		c.mine = c.path_a;
		c.mine_alt = c.alt_a;
		if (run_step(k->prep_writer, &c) < 0 || k->act(&c) < 0)
			err = 1;
		else
			delay = poll_probe(k, &c, now_ms(), 0, &first, &err);
	} else {
		int down[2], up[2];     /* down: poller -> writer, up: writer -> poller */
		struct msg m = { 0 };
		int wa = k->writer == 'a';
		if (pipe(down) < 0 || pipe(up) < 0) {
			perror("pipe");
			exit(2);
		}
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			exit(2);
		}
		if (pid == 0) {
			close(down[1]);
			close(up[0]);
			c.mine = wa ? c.path_a : c.path_b;
			c.mine_alt = wa ? c.alt_a : c.alt_b;
			writer(k, &c, up[1], down[0], wait_ms);
		}
		close(down[0]);
		close(up[1]);
		c.mine = wa ? c.path_b : c.path_a;
		c.mine_alt = wa ? c.alt_b : c.alt_a;
		if (recv_msg(up[0], &m, wait_ms) < 0 || m.kind != 'R') {
			err = writer_failed(&c, &m);
		} else if (run_step(k->prep_poller, &c) < 0) {
			err = 1;
		} else {
			send_msg(down[1], 'G', 0, NULL);
			if (recv_msg(up[0], &m, wait_ms) < 0 || m.kind != 'D') {
				err = writer_failed(&c, &m);
			} else {
				delay = poll_probe(k, &c, m.t0, limit_ms, &first, &err);
			}
		}
		send_msg(down[1], 'F', 0, NULL);
		close(down[1]);
		close(up[0]);
		reap(pid);
	}
	release(&c);
	judge(k, &c, delay, first, err, k->writer == '1' ? 0 : limit_ms);
	unlink(c.path_a);
	unlink(c.alt_a);
	return !err && delay >= 0 && (!k->strict || first == 1);
}

/* "3" selects 3a, 3b and 3c; a check's own name selects just that check. */
static int selected(const struct check *k, const char *only)
{
	if (!only)
		return 1;
	/* As long as the list is: coherence-test names every check of a clause, and a fixed
	 * buffer silently dropped the last ones once clause 5 had eleven. */
	char *list = strdup(only);
	if (!list) {
		perror("coh: strdup");
		exit(2);
	}
	int found = 0;
	for (char *save, *w = strtok_r(list, ",", &save); w && !found; w = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(w);
		found = strcmp(w, k->name) == 0 || strcmp(w, k->clause) == 0
			|| (strncmp(w, k->clause, n) == 0 && k->clause[n] >= 'a' && k->clause[n] <= 'z');
	}
	free(list);
	return found;
}

static void usage(void)
{
	fprintf(stderr, "usage: coh [-t TIMEOUT_MS] [-b BOUND_MS] [-o LIST] [-j] DIR_A DIR_B\n"
			"       coh -l\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	int list = 0, opt, failed = 0;
	struct sigaction sa = { .sa_handler = on_sigbus };

	while ((opt = getopt(argc, argv, "t:b:o:jl")) != -1) {
		switch (opt) {
		case 't': timeout_ms = atol(optarg); break;
		case 'b': bound_ms = atol(optarg); break;
		case 'o': only = optarg; break;
		case 'j': json = 1; break;
		case 'l': list = 1; break;
		default: usage();
		}
	}
	if (list) {
		for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
			printf("clause-%s %s\n", checks[i].clause, checks[i].name);
		return 0;
	}
	if (argc - optind != 2 || timeout_ms <= 0 || bound_ms <= 0)
		usage();
	if (sysconf(_SC_PAGESIZE) != PAGE) {
		fprintf(stderr, "coh: built for %d-byte pages, this machine has %ld\n", PAGE, sysconf(_SC_PAGESIZE));
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
		if (selected(&checks[i], only))
			failed += !run_check(&checks[i], (int)i, argv[optind], argv[optind + 1]);
	return failed ? 1 : 0;
}
