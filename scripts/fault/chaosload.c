/*
 * chaosload: a mixed workload across two mounts of one export, a journal of what was
 * acknowledged, and the checker that compares the export with the journals afterwards.
 * docs/fault-injection.md.
 *
 *   chaosload run -a MNT_A -b MNT_B -j JOURNAL -t SECONDS [-d SUBDIR] [-s SEED] [-g GRACE]
 *   chaosload check -e EXPORT/SUBDIR -j JOURNAL [-k KILLS] [--strict-locks]
 *   chaosload selftest
 *
 * run: SUBDIR (default "chaos") is created through MNT_A; then 12 processes work for SECONDS:
 *   w0 w2 (A), w1 (B)  stamped 4 KiB blocks into "blocks" (writer i owns the blocks with
 *                      index % 3 == i), pwrite and an fsync every 4 writes; "W blk seq" is
 *                      journalled only for writes an fsync returning 0 covered
 *   r0 (B), r1 (A)     pread of random blocks the other mount's writers own (r0: w0's and
 *                      w2's, r1: w1's): each must be zero or one well-formed stamp. Not the
 *                      blocks of its own mount's writers: Linux's page cache lets a read see
 *                      part of a concurrent write of the same page by another process of the
 *                      same machine, on FUSE as on ext4 (docs/fault-injection.md)
 *   mw (B)             stores stamped pages into a MAP_SHARED mapping of "mapped", msync(MS_SYNC)
 *                      every 4 stores; journals the pages an msync returning 0 covered
 *   mr (A)             loads pages of a mapping of "mapped"
 *   rn (A)             writes "scratch.tmp", fsync, rename over "scratch"; journals the renames
 *   sr (B)             reads "scratch": always one whole well-formed stamp
 *   c0 (A), c1 (B)     increment the decimal in "counter" under F_SETLKW, fsync, unlock;
 *                      journal the increments whose fsync returned 0
 * Failed operations (EIO, ESTALE, ENOTCONN, EINTR, ETIMEDOUT, SIGBUS on a mapping...) are
 * counted, the descriptor re-opened, and never taken as data. A process still running GRACE
 * seconds (default 60) after SECONDS is reported as hung and killed: a failure.
 *
 * check: reads the files in the export directly (the server side) and the journals.
 *   lost:    a block whose latest acknowledged stamp is neither there nor superseded by a
 *            later stamp of the same writer
 *   torn:    a 4 KiB block mixing two stamps, or stamp and zeros
 *   corrupt: words that belong to no stamp of the block's writer, or a stamp never written
 *   counter: below the acknowledged increments is a lost increment (with KILLS > 0 printed as
 *            a lock lost across a server kill, a failure only with --strict-locks); above them
 *            by at most the unacknowledged attempts is allowed (written, error reported)
 *   readers: every torn or corrupt block a reader saw during the run is a failure
 * Exit status 0 when everything holds, 1 otherwise, 2 on usage errors.
 *
 * selftest: runs the checker on crafted trees: a good one must pass; a lost write, a torn
 * page, a corrupt block and a lost increment must each fail.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BS 4096
#define WORDS (BS / 8)
#define NBLK 48      /* blocks of "blocks": 16 per writer, so each is overwritten often */
#define NMAP 16      /* pages of "mapped" */
#define MW_ID 3      /* writer id of the mmap writer */
#define RN_ID 4      /* writer id of the renamer */
#define MAXSEQ 0x7ffffffu

enum { OK, ZERO, TORN, CORRUPT };
static const char *kind_name[] = {"ok", "zero", "torn", "corrupt"};

/* ---- stamps: every 8-byte word names its writer, sequence, block and index ---- */

static uint64_t word(unsigned w, uint32_t seq, uint32_t blk, unsigned i)
{
	return 0xC9ull << 56 | (uint64_t)(w & 0xf) << 52 | (uint64_t)(i & 0x1ff) << 43 |
	       (uint64_t)(seq & MAXSEQ) << 16 | (blk & 0xffff);
}

/* the last word: a checksum (FNV-1a) of writer, sequence and offset */
static uint64_t checkword(unsigned w, uint32_t seq, uint32_t blk)
{
	uint64_t h = 0xcbf29ce484222325ull, v[3] = {w, seq, (uint64_t)blk * BS};
	for (int k = 0; k < 3; k++)
		for (int b = 0; b < 8; b++) {
			h ^= (v[k] >> (8 * b)) & 0xff;
			h *= 0x100000001b3ull;
		}
	return h | 1;   /* never zero */
}

static void stamp(uint64_t *b, unsigned w, uint32_t seq, uint32_t blk)
{
	for (unsigned i = 0; i < WORDS - 1; i++)
		b[i] = word(w, seq, blk, i);
	b[WORDS - 1] = checkword(w, seq, blk);
}

/* OK (one stamp of writer `owner`, its sequence in *seq), ZERO, TORN or CORRUPT */
static int classify(const uint64_t *b, uint32_t blk, unsigned owner, uint32_t *seq)
{
	uint32_t seen[8];
	int nseen = 0, zero = 0, stamped = 0, bad = 0;
	for (unsigned i = 0; i < WORDS - 1; i++) {
		uint64_t w = b[i];
		if (w == 0) {
			zero++;
			continue;
		}
		if (w >> 56 != 0xC9 || ((w >> 52) & 0xf) != owner || ((w >> 43) & 0x1ff) != i ||
		    (w & 0xffff) != (blk & 0xffff)) {
			bad++;
			continue;
		}
		uint32_t s = (w >> 16) & MAXSEQ;
		int k;
		for (k = 0; k < nseen; k++)
			if (seen[k] == s)
				break;
		if (k == nseen && nseen < 8)
			seen[nseen++] = s;
		stamped++;
	}
	uint64_t last = b[WORDS - 1];
	if (last == 0)
		zero++;
	else {
		int k;
		for (k = 0; k < nseen; k++)
			if (last == checkword(owner, seen[k], blk))
				break;
		if (k == nseen)
			bad++;
		else
			stamped++;
	}
	if (bad)
		return CORRUPT;
	if (!stamped)
		return ZERO;
	if (zero || nseen > 1)
		return TORN;
	*seq = seen[0];
	return OK;
}

/* ---- small helpers ---- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng_state;
static uint32_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (uint32_t)(x >> 11);
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "chaosload: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void pause_ms(unsigned lo, unsigned hi) { usleep(1000u * (lo + rnd() % (hi - lo + 1))); }

/* ---- per-process journal and counts ---- */

static FILE *jr;
static const char *role;
#define NERR 13
static unsigned long ops, failed, errs[NERR];
/* the errors a fault may legitimately cause; any other is "other", and a failure of the check */
static const int errlist[] = {EIO, ESTALE, ENOTCONN, EINTR, ETIMEDOUT, ENOSPC, ENOLCK, EDEADLK, EAGAIN, EBADMSG, EPROTO};
#define NALLOWED (int)(sizeof errlist / sizeof errlist[0])
/* EBADMSG, EPROTO: a server answering a frame garbled on the way (badtype, badsize) */
static const char *errname[NERR] = {"EIO", "ESTALE", "ENOTCONN", "EINTR", "ETIMEDOUT", "ENOSPC", "ENOLCK", "EDEADLK",
				    "EAGAIN", "EBADMSG", "EPROTO", "SIGBUS", "other"};

static void jline(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(jr, fmt, ap);
	va_end(ap);
	fputc('\n', jr);
	fflush(jr);   /* the journal is local: write(2) is enough, this process is never the one killed */
}

/* e: an errno, or -1 for SIGBUS on a mapping */
static void fail_op(int e, const char *what)
{
	failed++;
	int k;
	for (k = 0; k < NALLOWED; k++)
		if (errlist[k] == e)
			break;
	if (e == -1)
		k = NALLOWED;
	else if (k == NALLOWED)
		k = NALLOWED + 1;
	errs[k]++;
	if (k == NALLOWED + 1 && errs[k] <= 5)
		jline("X %s: %s", what, strerror(e));
}

static void finish_role(void)
{
	fprintf(jr, "S %lu %lu", ops, failed);
	for (int k = 0; k < NERR; k++)
		fprintf(jr, " %lu", errs[k]);
	fprintf(jr, "\nEND\n");
	fclose(jr);
	_exit(0);
}

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t in_map;
static void on_bus(int sig)
{
	(void)sig;
	if (in_map)
		siglongjmp(bus_jmp, 1);
	_exit(3);
}

static void on_alarm(int sig) { (void)sig; }

static char dir_a[4096], dir_b[4096];
static double t_end;

static const char *on(char side) { return side == 'A' ? dir_a : dir_b; }

static int reopen(int fd, const char *path, int flags)
{
	if (fd >= 0)
		close(fd);
	for (;;) {
		fd = open(path, flags, 0644);
		if (fd >= 0 || now_s() > t_end)
			return fd;
		fail_op(errno, "open");
		pause_ms(50, 150);
	}
}

/* ---- the roles ---- */

static void writer(unsigned id, char side)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/blocks", on(side));
	uint64_t b[WORDS];
	uint32_t seq = 0, pend_blk[4], pend_seq[4];
	int npend = 0, fd = reopen(-1, path, O_RDWR);
	while (fd >= 0 && now_s() < t_end) {
		uint32_t blk = (rnd() % (NBLK / 3)) * 3 + id;
		if (++seq > MAXSEQ)
			break;
		stamp(b, id, seq, blk);
		jline("T %u %u", blk, seq);
		ops++;
		if (pwrite(fd, b, BS, (off_t)blk * BS) != BS) {
			fail_op(errno, "pwrite");
			npend = 0;   /* an ack is only claimed for writes no error came between */
			fd = reopen(fd, path, O_RDWR);
			continue;
		}
		pend_blk[npend] = blk;
		pend_seq[npend++] = seq;
		if (npend == 4) {
			ops++;
			if (fsync(fd) == 0) {
				for (int k = 0; k < npend; k++)
					jline("W %u %u", pend_blk[k], pend_seq[k]);
			} else {
				fail_op(errno, "fsync");
				fd = reopen(fd, path, O_RDWR);
			}
			npend = 0;
		}
		pause_ms(1, 4);
	}
	if (fd >= 0 && npend && fsync(fd) == 0)
		for (int k = 0; k < npend; k++)
			jline("W %u %u", pend_blk[k], pend_seq[k]);
	finish_role();
}

static void check_read(const uint64_t *b, uint32_t blk, unsigned owner, const char *file)
{
	uint32_t seq;
	int k = classify(b, blk, owner, &seq);
	if (k == TORN || k == CORRUPT)
		jline("BAD %s %s %u", kind_name[k], file, blk);
}

static void reader(char side)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/blocks", on(side));
	uint64_t b[WORDS];
	int fd = reopen(-1, path, O_RDONLY);
	while (fd >= 0 && now_s() < t_end) {
		/* blocks of the other mount's writers: w1 is on B, w0 and w2 on A */
		uint32_t blk = side == 'A' ? 3 * (rnd() % (NBLK / 3)) + 1 : 3 * (rnd() % (NBLK / 3)) + (rnd() % 2) * 2;
		ops++;
		ssize_t n = pread(fd, b, BS, (off_t)blk * BS);
		if (n < 0) {
			fail_op(errno, "pread");
			fd = reopen(fd, path, O_RDONLY);
			continue;
		}
		if (n != BS) {
			jline("BAD short blocks %u %zd", blk, n);
			continue;
		}
		jline("R");
		check_read(b, blk, blk % 3, "blocks");
		pause_ms(1, 4);
	}
	finish_role();
}

static void mmap_writer(char side)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/mapped", on(side));
	/* static: they live across the siglongjmp of a SIGBUS */
	static uint64_t b[WORDS];
	static uint32_t seq, pend_pg[4], pend_seq[4];
	static int npend, fd = -1;
	unsigned char *volatile m = MAP_FAILED;
	for (;;) {
		if (m != MAP_FAILED)
			munmap(m, (size_t)NMAP * BS);
		m = MAP_FAILED;
		npend = 0;
		fd = reopen(fd, path, O_RDWR);
		if (fd < 0 || now_s() >= t_end)
			break;
		m = mmap(NULL, (size_t)NMAP * BS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			fail_op(errno, "mmap");
			pause_ms(50, 150);
			continue;
		}
		if (sigsetjmp(bus_jmp, 1)) {
			in_map = 0;
			fail_op(-1, "store");
			continue;
		}
		while (now_s() < t_end) {
			uint32_t pg = rnd() % NMAP;
			if (++seq > MAXSEQ)
				break;
			stamp(b, MW_ID, seq, pg);
			jline("T %u %u", pg, seq);
			ops++;
			in_map = 1;
			memcpy(m + (size_t)pg * BS, b, BS);
			in_map = 0;
			pend_pg[npend] = pg;
			pend_seq[npend] = seq;
			npend++;
			if (npend == 4) {
				ops++;
				if (msync(m, (size_t)NMAP * BS, MS_SYNC) == 0) {
					for (int k = 0; k < npend; k++)
						jline("W %u %u", pend_pg[k], pend_seq[k]);
					npend = 0;
				} else {
					fail_op(errno, "msync");
					break;
				}
			}
			pause_ms(2, 6);
		}
		if (now_s() >= t_end)
			break;
	}
	/* the last stores: a page stored into while written back may reach the server torn (as a
	 * local reader would see it); only a successful msync afterwards makes the file whole */
	int synced = 0;
	if (m != MAP_FAILED) {
		for (int k = 0; k < 5 && !synced; k++) {
			/* A failed msync lost the pages it wrote back, and reports that once (errseq, as
			 * Linux does): the next msync returns 0 without them. Store them again, so that a
			 * later success covers them. */
			for (int i = 0; k > 0 && i < npend; i++) {
				stamp(b, MW_ID, pend_seq[i], pend_pg[i]);
				in_map = 1;
				memcpy(m + (size_t)pend_pg[i] * BS, b, BS);
				in_map = 0;
			}
			if (msync(m, (size_t)NMAP * BS, MS_SYNC) == 0)
				synced = 1;
			else
				pause_ms(200, 400);
		}
		if (synced)
			for (int k = 0; k < npend; k++)
				jline("W %u %u", pend_pg[k], pend_seq[k]);
		munmap(m, (size_t)NMAP * BS);
	}
	if (!synced && seq)
		jline("F");   /* the final msync failed: torn pages in "mapped" are then allowed */
	finish_role();
}

static void mmap_reader(char side)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/mapped", on(side));
	static uint64_t b[WORDS];
	static int fd = -1;
	unsigned char *volatile m = MAP_FAILED;
	while (now_s() < t_end) {
		if (m != MAP_FAILED)
			munmap(m, (size_t)NMAP * BS);
		m = MAP_FAILED;
		fd = reopen(fd, path, O_RDONLY);
		if (fd < 0)
			break;
		m = mmap(NULL, (size_t)NMAP * BS, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			fail_op(errno, "mmap");
			pause_ms(50, 150);
			continue;
		}
		if (sigsetjmp(bus_jmp, 1)) {
			in_map = 0;
			fail_op(-1, "load");
			continue;
		}
		while (now_s() < t_end) {
			uint32_t pg = rnd() % NMAP, seq;
			ops++;
			in_map = 1;
			memcpy(b, m + (size_t)pg * BS, BS);
			in_map = 0;
			jline("R");
			int k = classify(b, pg, MW_ID, &seq);
			/* a page loaded while the writer on the other mount stores into it may mix two
			 * stamps, on any file system: noted, not a failure; foreign bytes are */
			if (k == TORN)
				jline("N torn-while-stored mapped %u", pg);
			else if (k == CORRUPT)
				jline("BAD corrupt mapped %u", pg);
			pause_ms(2, 6);
		}
	}
	if (m != MAP_FAILED)
		munmap(m, (size_t)NMAP * BS);
	finish_role();
}

static void renamer(char side)
{
	char tmp[4200], dst[4200];
	snprintf(tmp, sizeof tmp, "%s/scratch.tmp", on(side));
	snprintf(dst, sizeof dst, "%s/scratch", on(side));
	uint64_t b[WORDS];
	uint32_t seq = 0;
	while (now_s() < t_end && ++seq <= MAXSEQ) {
		stamp(b, RN_ID, seq, 0);
		jline("T 0 %u", seq);
		ops++;
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			fail_op(errno, "open scratch.tmp");
			pause_ms(50, 150);
			continue;
		}
		int ok = pwrite(fd, b, BS, 0) == BS || (fail_op(errno, "pwrite scratch.tmp"), 0);
		ok = ok && (fsync(fd) == 0 || (fail_op(errno, "fsync scratch.tmp"), 0));
		ok = (close(fd) == 0 || (fail_op(errno, "close scratch.tmp"), 0)) && ok;
		if (ok && rename(tmp, dst) == 0)
			jline("W 0 %u", seq);
		else if (ok)
			fail_op(errno, "rename");
		pause_ms(5, 20);
	}
	finish_role();
}

static void scratch_reader(char side)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/scratch", on(side));
	uint64_t b[WORDS];
	while (now_s() < t_end) {
		ops++;
		int fd = open(path, O_RDONLY);
		if (fd < 0) {
			fail_op(errno, "open scratch");
			pause_ms(20, 50);
			continue;
		}
		ssize_t n = pread(fd, b, BS, 0);
		if (n < 0)
			fail_op(errno, "pread scratch");
		else if (n != BS)
			jline("BAD short scratch 0 %zd", n);
		else {
			jline("R");
			check_read(b, 0, RN_ID, "scratch");
		}
		close(fd);
		pause_ms(5, 20);
	}
	finish_role();
}

static void counter(char side)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/counter", on(side));
	struct sigaction sa = {.sa_handler = on_alarm};   /* no SA_RESTART: F_SETLKW ends with EINTR */
	sigaction(SIGALRM, &sa, NULL);
	int fd = reopen(-1, path, O_RDWR);
	while (fd >= 0 && now_s() < t_end) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		ops++;
		alarm(10);
		int r = fcntl(fd, F_SETLKW, &fl);
		alarm(0);
		if (r != 0) {
			fail_op(errno, "F_SETLKW");
			fd = reopen(fd, path, O_RDWR);
			continue;
		}
		char buf[32] = "";
		int ok = 1;
		ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
		if (n < 0) {
			fail_op(errno, "pread counter");
			ok = 0;
		} else {
			buf[n] = 0;
			unsigned long long v = strtoull(buf, NULL, 10);
			char out[32];
			int len = snprintf(out, sizeof out, "%020llu\n", v + 1);
			jline("T");
			if (pwrite(fd, out, len, 0) != len) {
				fail_op(errno, "pwrite counter");
				ok = 0;
			} else if (fsync(fd) != 0) {
				fail_op(errno, "fsync counter");
				ok = 0;
			} else
				jline("W %llu", v + 1);
		}
		if (ok) {
			fl.l_type = F_UNLCK;
			if (fcntl(fd, F_SETLK, &fl) != 0) {
				fail_op(errno, "F_UNLCK");
				ok = 0;
			}
		}
		if (!ok) {
			jline("L");   /* an error while holding the lock: the lock may be lost */
			fd = reopen(fd, path, O_RDWR);
		}
		pause_ms(2, 8);
	}
	finish_role();
}

/* ---- run ---- */

struct child {
	const char *name;
	pid_t pid;
	int done;
};

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len) || fsync(fd) || close(fd))
		die("setting up %s: %s", path, strerror(errno));
}

static int cmd_run(int argc, char **argv)
{
	const char *ma = NULL, *mb = NULL, *jdir = NULL, *sub = "chaos";
	double secs = 0, grace = 60;
	unsigned long seed = (unsigned long)time(NULL) ^ (unsigned long)getpid();
	for (int i = 0; i < argc; i++) {
		if (i + 1 >= argc)
			die("%s needs a value", argv[i]);
		const char *v = argv[++i];
		switch (argv[i - 1][1]) {
		case 'a': ma = v; break;
		case 'b': mb = v; break;
		case 'j': jdir = v; break;
		case 't': secs = atof(v); break;
		case 'd': sub = v; break;
		case 's': seed = strtoul(v, NULL, 10); break;
		case 'g': grace = atof(v); break;
		default: die("unknown option %s", argv[i - 1]);
		}
	}
	if (!ma || !mb || !jdir || secs <= 0)
		die("usage: chaosload run -a MNT_A -b MNT_B -j JOURNAL -t SECONDS [-d SUBDIR] [-s SEED] [-g GRACE]");
	snprintf(dir_a, sizeof dir_a, "%s/%s", ma, sub);
	snprintf(dir_b, sizeof dir_b, "%s/%s", mb, sub);
	mkdir(jdir, 0755);
	if (mkdir(dir_a, 0755) && errno != EEXIST)
		die("mkdir %s: %s", dir_a, strerror(errno));
	char path[4200];
	snprintf(path, sizeof path, "%s/blocks", dir_a);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)NBLK * BS) || fsync(fd) || close(fd))
		die("setting up %s: %s", path, strerror(errno));
	snprintf(path, sizeof path, "%s/mapped", dir_a);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)NMAP * BS) || fsync(fd) || close(fd))
		die("setting up %s: %s", path, strerror(errno));
	uint64_t b[WORDS];
	stamp(b, RN_ID, 0, 0);
	snprintf(path, sizeof path, "%s/scratch", dir_a);
	write_file(path, b, BS);
	snprintf(path, sizeof path, "%s/counter", dir_a);
	write_file(path, "00000000000000000000\n", 21);
	/* B must see what A made before its processes start */
	for (int i = 0; i < 100; i++) {
		struct stat st;
		snprintf(path, sizeof path, "%s/counter", dir_b);
		if (stat(path, &st) == 0 && st.st_size == 21)
			break;
		usleep(100000);
	}
	static const char *names[] = {"w0", "w1", "w2", "r0", "r1", "mw", "mr", "rn", "sr", "c0", "c1"};
	enum { nk = sizeof names / sizeof names[0] };
	static struct child kids[nk];
	for (int i = 0; i < nk; i++)
		kids[i].name = names[i];
	double t0 = now_s();
	t_end = t0 + secs;
	fflush(NULL);
	for (int i = 0; i < nk; i++) {
		pid_t p = fork();
		if (p < 0)
			die("fork: %s", strerror(errno));
		if (p == 0) {
			role = kids[i].name;
			rng_state = seed * 0x9e3779b97f4a7c15ull + (uint64_t)(i + 1) * 0x2545f4914f6cdd1dull;
			snprintf(path, sizeof path, "%s/%s.log", jdir, role);
			if (!(jr = fopen(path, "w")))
				_exit(2);
			struct sigaction sa = {.sa_handler = on_bus};
			sigaction(SIGBUS, &sa, NULL);
			switch (i) {
			case 0: writer(0, 'A'); break;
			case 1: writer(1, 'B'); break;
			case 2: writer(2, 'A'); break;
			case 3: reader('B'); break;
			case 4: reader('A'); break;
			case 5: mmap_writer('B'); break;
			case 6: mmap_reader('A'); break;
			case 7: renamer('A'); break;
			case 8: scratch_reader('B'); break;
			case 9: counter('A'); break;
			case 10: counter('B'); break;
			}
			_exit(0);
		}
		kids[i].pid = p;
	}
	int left = nk, hung = 0;
	double last_end = 0;
	while (left > 0 && now_s() < t_end + grace) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0) {
			usleep(100000);
			continue;
		}
		for (int i = 0; i < nk; i++)
			if (kids[i].pid == p && !kids[i].done) {
				kids[i].done = 1;
				left--;
				last_end = now_s();
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
					fprintf(stderr, "chaosload: %s ended with status %d\n", kids[i].name, st);
			}
	}
	FILE *sum;
	snprintf(path, sizeof path, "%s/run", jdir);
	if (!(sum = fopen(path, "w")))
		die("%s: %s", path, strerror(errno));
	for (int i = 0; i < nk; i++)
		if (!kids[i].done) {
			hung++;
			fprintf(stderr, "chaosload: HUNG: %s (pid %d) still running %.0f s past the bound\n",
				kids[i].name, kids[i].pid, grace);
			fprintf(sum, "hung %s\n", kids[i].name);
			kill(kids[i].pid, SIGKILL);
		}
	for (int i = 0; i < nk; i++)
		if (!kids[i].done)
			waitpid(kids[i].pid, NULL, 0);   /* SIGKILL ends even a FUSE wait */
	fprintf(sum, "seconds %.1f\nlast_exit_after_bound %.1f\n", secs, hung ? grace : last_end > t_end ? last_end - t_end : 0);
	fclose(sum);
	printf("chaosload: %d processes ran %.0f s (seed %lu); the last ended %.1f s after the bound; hung %d\n",
	       nk, secs, seed, last_end > t_end ? last_end - t_end : 0.0, hung);
	return hung ? 1 : 0;
}

/* ---- check ---- */

struct jstats {
	char per[512];   /* " NAME ops/failed" per process */
	unsigned long ops, failed, errs[NERR];
	int ended, processes;
	unsigned long unexpected_shown;
};

struct bmodel {
	uint32_t acked, tried;   /* highest acknowledged / attempted sequence, 0: none */
	int has_ack, has_try;
};

static int fails;
static void verdict(int bad, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s ", bad ? "FAIL" : "ok  ");
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	if (bad)
		fails++;
}

/* Reads JDIR/NAME.log into the block model (T/W lines) and counts the rest. */
static void read_journal(const char *jdir, const char *name, struct bmodel *mod, int nmod, struct jstats *js,
			 unsigned long *acked_incr, unsigned long *tried_incr, unsigned long *lockloss,
			 unsigned long *reads, unsigned long *bad, unsigned long *notes, int *final_unsynced)
{
	char path[4200], line[256];
	snprintf(path, sizeof path, "%s/%s.log", jdir, name);
	FILE *f = fopen(path, "r");
	if (!f) {
		verdict(1, "journal %s missing", path);
		return;
	}
	js->processes++;
	while (fgets(line, sizeof line, f)) {
		unsigned a, s;
		if (line[0] == 'T' || line[0] == 'W') {
			if (mod && sscanf(line + 2, "%u %u", &a, &s) == 2 && (int)a < nmod) {
				struct bmodel *m = &mod[a];
				if (line[0] == 'T') {
					if (!m->has_try || s > m->tried)
						m->tried = s;
					m->has_try = 1;
				} else {
					if (!m->has_ack || s > m->acked)
						m->acked = s;
					m->has_ack = 1;
				}
			} else if (!mod)
				(*(line[0] == 'T' ? tried_incr : acked_incr))++;
		} else if (line[0] == 'L')
			(*lockloss)++;
		else if (line[0] == 'R')
			(*reads)++;
		else if (line[0] == 'F')
			*final_unsynced = 1;
		else if (line[0] == 'N')
			(*notes)++;
		else if (strncmp(line, "BAD", 3) == 0) {
			(*bad)++;
			if (*bad <= 10)
				printf("     reader %s saw: %s", name, line + 4);
		} else if (line[0] == 'X') {
			if (js->unexpected_shown++ < 10)
				printf("     %s: unexpected error: %s", name, line + 2);
		} else if (line[0] == 'S') {
			unsigned long o, fl, e[NERR];
			if (sscanf(line + 2, "%lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu", &o, &fl, &e[0], &e[1],
				   &e[2], &e[3], &e[4], &e[5], &e[6], &e[7], &e[8], &e[9], &e[10], &e[11], &e[12]) == 2 + NERR) {
				int len = snprintf(js->per + strlen(js->per), sizeof js->per - strlen(js->per), " %s %lu/%lu",
						   name, o, fl);
				(void)len;
				js->ops += o;
				js->failed += fl;
				for (int k = 0; k < NERR; k++)
					js->errs[k] += e[k];
			}
		} else if (strncmp(line, "END", 3) == 0)
			js->ended++;
	}
	fclose(f);
}

struct fstats {
	unsigned long checked, acked, lost, torn, corrupt, superseded;
};

/* Compares NBLOCKS blocks of FILE in the export with the model of their writer(s). */
static void check_file(const char *edir, const char *file, int nblocks, struct bmodel *mod, int owner_fixed,
		       int torn_allowed, struct fstats *fs)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", edir, file);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		verdict(1, "%s: cannot open: %s", path, strerror(errno));
		fs->lost += nblocks;
		return;
	}
	for (int blk = 0; blk < nblocks; blk++) {
		uint64_t b[WORDS];
		memset(b, 0, sizeof b);
		ssize_t n = pread(fd, b, BS, (off_t)blk * BS);
		if (n < 0)
			n = 0;
		unsigned owner = owner_fixed >= 0 ? (unsigned)owner_fixed : (unsigned)blk % 3;
		uint32_t seq = 0;
		int k = n == BS ? classify(b, blk, owner, &seq) : n == 0 ? ZERO : CORRUPT;
		struct bmodel *m = &mod[blk];
		fs->checked++;
		if (m->has_ack)
			fs->acked++;
		if (k == TORN) {
			if (!torn_allowed) {
				fs->torn++;
				if (fs->torn <= 5)
					printf("     %s block %d: torn (two stamps, or stamp and zeros, in one page)\n", file, blk);
			}
			continue;
		}
		if (k == CORRUPT || (k == OK && (!m->has_try || seq > m->tried))) {
			fs->corrupt++;
			if (fs->corrupt <= 5)
				printf("     %s block %d: %s\n", file, blk,
				       k == CORRUPT ? "corrupt (words of no stamp of its writer)" : "a stamp never written");
			continue;
		}
		if (m->has_ack && (k == ZERO || seq < m->acked)) {
			fs->lost++;
			if (fs->lost <= 5) {
				if (k == ZERO)
					printf("     %s block %d: acknowledged seq %u lost (found zeros)\n", file, blk, m->acked);
				else
					printf("     %s block %d: acknowledged seq %u lost (found seq %u)\n", file, blk, m->acked, seq);
			}
			continue;
		}
		if (m->has_ack && seq > m->acked)
			fs->superseded++;
	}
	close(fd);
}

static int check_dir(const char *edir, const char *jdir, int kills, int strict_locks)
{
	struct bmodel bm[NBLK], mm[NMAP], sm[1];
	memset(bm, 0, sizeof bm);
	memset(mm, 0, sizeof mm);
	memset(sm, 0, sizeof sm);
	struct jstats js = {0};
	unsigned long acked_incr = 0, tried_incr = 0, lockloss = 0, reads = 0, bad = 0, notes = 0, dummy = 0;
	int final_unsynced = 0, dummy_i = 0;
	fails = 0;
	read_journal(jdir, "w0", bm, NBLK, &js, &dummy, &dummy, &lockloss, &reads, &bad, &notes, &dummy_i);
	read_journal(jdir, "w1", bm, NBLK, &js, &dummy, &dummy, &lockloss, &reads, &bad, &notes, &dummy_i);
	read_journal(jdir, "w2", bm, NBLK, &js, &dummy, &dummy, &lockloss, &reads, &bad, &notes, &dummy_i);
	read_journal(jdir, "mw", mm, NMAP, &js, &dummy, &dummy, &lockloss, &reads, &bad, &notes, &final_unsynced);
	read_journal(jdir, "rn", sm, 1, &js, &dummy, &dummy, &lockloss, &reads, &bad, &notes, &dummy_i);
	read_journal(jdir, "c0", NULL, 0, &js, &acked_incr, &tried_incr, &lockloss, &reads, &bad, &notes, &dummy_i);
	read_journal(jdir, "c1", NULL, 0, &js, &acked_incr, &tried_incr, &lockloss, &reads, &bad, &notes, &dummy_i);
	const char *readers[] = {"r0", "r1", "mr", "sr"};
	for (int i = 0; i < 4; i++)
		read_journal(jdir, readers[i], NULL, 0, &js, &dummy, &dummy, &lockloss, &reads, &bad, &notes, &dummy_i);

	struct fstats fb = {0}, fm = {0}, fsr = {0};
	check_file(edir, "blocks", NBLK, bm, -1, 0, &fb);
	check_file(edir, "mapped", NMAP, mm, MW_ID, final_unsynced, &fm);
	check_file(edir, "scratch", 1, sm, RN_ID, 0, &fsr);
	unsigned long lost = fb.lost + fm.lost + fsr.lost, torn = fb.torn + fm.torn + fsr.torn,
		      corrupt = fb.corrupt + fm.corrupt + fsr.corrupt;
	unsigned long acked_writes = 0;
	for (int i = 0; i < NBLK; i++)
		acked_writes += bm[i].has_ack;
	verdict(lost != 0, "lost acknowledged writes: %lu (blocks %lu of %lu acknowledged, mapped pages %lu of %lu, scratch %lu of 1; %lu superseded by later writes)",
		lost, fb.acked, fb.checked, fm.acked, fm.checked, fsr.acked, fb.superseded + fm.superseded + fsr.superseded);
	verdict(torn != 0, "torn pages in the export: %lu%s", torn,
		final_unsynced ? " (mapped not counted: its last msync failed)" : "");
	verdict(corrupt != 0, "corrupt blocks in the export: %lu", corrupt);
	verdict(bad != 0, "torn or corrupt blocks seen by readers during the run: %lu of %lu reads%s", bad, reads,
		notes ? "" : "");
	if (notes)
		printf("note mapped pages loaded while being stored into (mixed stamps, as on any file system): %lu\n", notes);

	char path[4200], buf[64] = "";
	snprintf(path, sizeof path, "%s/counter", edir);
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0)
		verdict(1, "counter: cannot read %s", path);
	else {
		buf[n] = 0;
		unsigned long long v = strtoull(buf, NULL, 10);
		if (v == acked_incr)
			verdict(0, "counter %llu == acknowledged increments %lu", v, acked_incr);
		else if (v > acked_incr && v <= tried_incr)
			verdict(0, "counter %llu: acknowledged increments %lu, and %llu more written whose fsync or unlock reported an error",
				v, acked_incr, v - acked_incr);
		else if (v < acked_incr && kills > 0 && !strict_locks) {
			printf("LOCK-LOST counter %llu < acknowledged increments %lu: %llu increment(s) lost; with %d server kill(s) "
			       "a lock lost across a restart allows this (%lu error(s) while holding the lock)\n",
			       v, acked_incr, acked_incr - v, kills, lockloss);
			verdict(0, "counter: a lock lost across a server kill (reported above, allowed without --strict-locks)");
		} else
			verdict(1, "counter %llu != acknowledged increments %lu (attempts %lu, errors while locked %lu)", v,
				acked_incr, tried_incr, lockloss);
	}
	verdict(js.errs[NERR - 1] != 0,
		"unexpected errors (not EIO, ESTALE, ENOTCONN, EINTR, ETIMEDOUT, ENOSPC, ENOLCK, EDEADLK, EAGAIN, EBADMSG, EPROTO, SIGBUS): %lu",
		js.errs[NERR - 1]);
	int expected = 11;
	verdict(js.ended != expected, "processes that ended cleanly: %d of %d", js.ended, expected);
	snprintf(path, sizeof path, "%s/run", jdir);
	FILE *f = fopen(path, "r");
	if (f) {
		char line[128];
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "hung ", 5) == 0)
				verdict(1, "process %.*s hung past the bound", (int)strcspn(line + 5, "\n"), line + 5);
		fclose(f);
	}
	printf("figures: operations %lu, failed %lu (", js.ops, js.failed);
	for (int k = 0, first = 1; k < NERR; k++)
		if (js.errs[k]) {
			printf("%s%s %lu", first ? "" : ", ", errname[k], js.errs[k]);
			first = 0;
		}
	printf("), reads checked %lu, blocks checked %lu, acknowledged block writes %lu, increments %lu, lost %lu, torn %lu, corrupt %lu\n",
	       reads, fb.checked + fm.checked + fsr.checked, acked_writes, acked_incr, lost, torn, corrupt);
	printf("per process (operations/failed):%s\n", js.per);
	printf("check: %s\n", fails ? "FAIL" : "PASS");
	return fails ? 1 : 0;
}

static int cmd_check(int argc, char **argv)
{
	const char *edir = NULL, *jdir = NULL;
	int kills = 0, strict = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--strict-locks") == 0) {
			strict = 1;
			continue;
		}
		if (i + 1 >= argc)
			die("%s needs a value", argv[i]);
		const char *v = argv[++i];
		switch (argv[i - 1][1]) {
		case 'e': edir = v; break;
		case 'j': jdir = v; break;
		case 'k': kills = atoi(v); break;
		default: die("unknown option %s", argv[i - 1]);
		}
	}
	if (!edir || !jdir)
		die("usage: chaosload check -e EXPORT/SUBDIR -j JOURNAL [-k KILLS] [--strict-locks]");
	return check_dir(edir, jdir, kills, strict);
}

/* ---- selftest: the checker must fail on crafted bad trees ---- */

static char st_root[4096];

static void st_journal(const char *name, const char *text)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/j/%s.log", st_root, name);
	write_file(path, text, strlen(text));
}

static void st_block(const char *file, uint32_t blk, const uint64_t *b)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/e/%s", st_root, file);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || pwrite(fd, b, BS, (off_t)blk * BS) != BS || close(fd))
		die("selftest: %s: %s", path, strerror(errno));
}

/* A good tree: blocks 0..5 written, 3 and 4 acknowledged, block 6 written twice, acknowledged
 * once, the later write landed; two mapped pages; scratch; counter 5 of 5. */
static void st_good(void)
{
	char path[4200];
	uint64_t b[WORDS];
	snprintf(path, sizeof path, "%s/e", st_root);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/j", st_root);
	mkdir(path, 0755);
	const char *files[] = {"blocks", "mapped"};
	int sizes[] = {NBLK, NMAP};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/e/%s", st_root, files[i]);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || ftruncate(fd, (off_t)sizes[i] * BS) || close(fd))
			die("selftest: %s", path);
	}
	for (uint32_t blk = 0; blk < 6; blk++) {
		stamp(b, blk % 3, 10 + blk, blk);
		st_block("blocks", blk, b);
	}
	stamp(b, 0, 30, 6);
	st_block("blocks", 6, b);
	stamp(b, MW_ID, 7, 2);
	st_block("mapped", 2, b);
	stamp(b, RN_ID, 4, 0);
	st_block("scratch", 0, b);
	snprintf(path, sizeof path, "%s/e/counter", st_root);
	write_file(path, "00000000000000000005\n", 21);
	st_journal("w0", "T 0 10\nT 3 13\nW 3 13\nT 6 20\nW 6 20\nT 6 30\nS 5 0 0 0 0 0 0 0 0 0 0 0 0 0 0\nEND\n");
	st_journal("w1", "T 1 11\nT 4 14\nW 4 14\nS 2 0 0 0 0 0 0 0 0 0 0 0 0 0 0\nEND\n");
	st_journal("w2", "T 2 12\nT 5 15\nS 2 1 1 0 0 0 0 0 0 0 0 0 0 0 0\nEND\n");
	st_journal("mw", "T 2 7\nW 2 7\nEND\n");
	st_journal("rn", "T 0 4\nW 0 4\nEND\n");
	st_journal("c0", "T\nW 1\nT\nW 3\nT\nW 5\nEND\n");
	st_journal("c1", "T\nW 2\nT\nW 4\nEND\n");
	st_journal("r0", "R\nR\nEND\n");
	st_journal("r1", "R\nEND\n");
	st_journal("mr", "R\nN torn-while-stored mapped 2\nEND\n");
	st_journal("sr", "R\nEND\n");
}

static int st_case(const char *what, int expect_fail)
{
	char e[4200], j[4200];
	snprintf(e, sizeof e, "%s/e", st_root);
	snprintf(j, sizeof j, "%s/j", st_root);
	printf("---- selftest: %s (the checker must %s)\n", what, expect_fail ? "FAIL" : "pass");
	int rc = check_dir(e, j, 0, 0);
	int good = expect_fail ? rc != 0 : rc == 0;
	printf("selftest %s: %s\n", good ? "ok  " : "FAIL", what);
	return good ? 0 : 1;
}

static int cmd_selftest(void)
{
	char tmpl[] = "/tmp/chaosload-selftest.XXXXXX";
	if (!mkdtemp(tmpl))
		die("mkdtemp: %s", strerror(errno));
	snprintf(st_root, sizeof st_root, "%s", tmpl);
	int bad = 0;
	uint64_t b[WORDS], c[WORDS];
	uint32_t seq;

	/* the encoding itself */
	stamp(b, 1, 99, 4);
	bad += classify(b, 4, 1, &seq) != OK || seq != 99;
	bad += classify(b, 5, 1, &seq) != CORRUPT;   /* the right stamp at the wrong offset */
	memset(c, 0, sizeof c);
	bad += classify(c, 4, 1, &seq) != ZERO;
	if (bad)
		printf("selftest FAIL: the stamp encoding\n");

	st_good();
	bad += st_case("a good tree", 0);

	st_good();   /* block 3 acknowledged at seq 13, the export holds the older seq 3 */
	stamp(b, 0, 3, 3);
	st_block("blocks", 3, b);
	st_journal("w0", "T 3 3\nW 3 3\nT 0 10\nT 3 13\nW 3 13\nT 6 20\nW 6 20\nT 6 30\nEND\n");
	bad += st_case("a lost acknowledged write", 1);

	st_good();   /* an acknowledged block reads back as zeros */
	memset(b, 0, sizeof b);
	st_block("blocks", 4, b);
	bad += st_case("an acknowledged block gone to zeros", 1);

	st_good();   /* block 1: the first half of seq 11, the second half of another write */
	stamp(b, 1, 11, 1);
	stamp(c, 1, 21, 1);
	memcpy((char *)b + BS / 2, (char *)c + BS / 2, BS / 2);
	st_block("blocks", 1, b);
	st_journal("w1", "T 1 11\nT 1 21\nT 4 14\nW 4 14\nEND\n");
	bad += st_case("a torn page", 1);

	st_good();   /* one flipped byte */
	stamp(b, 2, 12, 2);
	((unsigned char *)b)[1000] ^= 0x10;
	st_block("blocks", 2, b);
	bad += st_case("a corrupt block", 1);

	st_good();   /* counter 4, five increments acknowledged */
	char path[4200];
	snprintf(path, sizeof path, "%s/e/counter", st_root);
	write_file(path, "00000000000000000004\n", 21);
	bad += st_case("a lost increment", 1);

	st_good();
	st_journal("r1", "R\nBAD torn blocks 7\nEND\n");
	bad += st_case("a torn page seen by a reader", 1);

	st_good();
	st_journal("c1", "T\nW 2\nT\nW 4\n");
	bad += st_case("a process that did not end", 1);

	st_good();
	st_journal("r0", "R\nX open: Bad file descriptor\nS 2 1 0 0 0 0 0 0 0 0 0 0 0 0 1\nEND\n");
	bad += st_case("an unexpected error (EBADF)", 1);

	char cmd[4300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", st_root);
	if (system(cmd) != 0)
		fprintf(stderr, "chaosload: could not remove %s\n", st_root);
	printf("selftest: %s\n", bad ? "FAIL" : "ok: the checker passes a good tree and fails every crafted fault");
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "selftest") == 0)
		return cmd_selftest();
	fprintf(stderr, "usage: chaosload run|check|selftest ... (see the head of chaosload.c)\n");
	return 2;
}
