/*
 * fuse-mmap.c - a scriptable client for the FUSE layer tests.
 *
 * Reads one command per line on stdin and answers one line on stdout, so a test can
 * interleave this process's loads and stores with its own changes to the filesystem:
 *
 *   open PATH          open O_RDWR                         -> OK | ERR errno
 *   map LEN            mmap(MAP_SHARED, rw) of the file     -> OK | ERR errno
 *   load OFF N         copy N bytes from the mapping        -> DATA bytes | SIGBUS
 *   store OFF TEXT     copy TEXT into the mapping           -> OK | SIGBUS
 *   msync              msync(MS_SYNC) of the mapping        -> OK | ERR errno
 *   pread OFF N        pread                                -> DATA bytes | ERR errno
 *   pwrite OFF TEXT    pwrite                               -> OK n | ERR errno
 *   truncate LEN       ftruncate                            -> OK | ERR errno
 *   statloop N         N x fstat, timed                     -> RATE ops_per_second
 *   lock T START LEN   fcntl F_SETLK, T = r|w|u             -> OK | ERR errno
 *   lockw T START LEN  fcntl F_SETLKW (blocks)              -> OK | ERR errno
 *   getlk T START LEN  fcntl F_GETLK                        -> LK type pid (type 2 = F_UNLCK)
 *   seek OFF WHENCE    lseek (3 = SEEK_DATA, 4 = SEEK_HOLE)  -> POS n | ERR errno
 *   fallocate OFF LEN  fallocate(mode 0)                    -> OK | ERR errno
 *   quit
 *
 * Non-printable bytes in DATA are shown as '.'. SIGUSR1 is caught without SA_RESTART, so a
 * signalled pread that the filesystem fails with EINTR reports "ERR 4".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static sigjmp_buf fault;
static int fd = -1;
static char *map;
static size_t maplen;

static void on_sigbus(int sig) { (void)sig; siglongjmp(fault, 1); }
static void on_sigusr1(int sig) { (void)sig; }

static void print_data(const char *p, size_t n)
{
	fputs("DATA ", stdout);
	for (size_t i = 0; i < n; i++)
		putchar(p[i] >= 32 && p[i] < 127 ? p[i] : '.');
	putchar('\n');
}

int main(void)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, NULL);
	sa.sa_handler = on_sigusr1;
	sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: interrupted syscalls fail with EINTR */
	setvbuf(stdout, NULL, _IOLBF, 0);

	char line[8192], arg[8192];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		long long a = 0, b = 0;
		char c = 0;
		arg[0] = 0;
		if (sscanf(line, "open %8191s", arg) == 1) {
			fd = open(arg, O_RDWR);
			fd < 0 ? printf("ERR %d\n", errno) : printf("OK\n");
		} else if (sscanf(line, "map %lld", &a) == 1) {
			void *p = mmap(NULL, a, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p == MAP_FAILED) {
				printf("ERR %d\n", errno);
			} else {
				map = p;
				maplen = a;
				printf("OK\n");
			}
		} else if (sscanf(line, "load %lld %lld", &a, &b) == 2) {
			static char buf[8192];
			if (sigsetjmp(fault, 1)) {
				printf("SIGBUS\n");
				continue;
			}
			memcpy(buf, map + a, b);
			print_data(buf, b);
		} else if (sscanf(line, "store %lld %8191s", &a, arg) == 2) {
			if (sigsetjmp(fault, 1)) {
				printf("SIGBUS\n");
				continue;
			}
			memcpy(map + a, arg, strlen(arg));
			printf("OK\n");
		} else if (strcmp(line, "msync") == 0) {
			msync(map, maplen, MS_SYNC) ? printf("ERR %d\n", errno) : printf("OK\n");
		} else if (sscanf(line, "pread %lld %lld", &a, &b) == 2) {
			static char buf[8192];
			ssize_t n = pread(fd, buf, b, a);
			n < 0 ? printf("ERR %d\n", errno) : print_data(buf, n);
		} else if (sscanf(line, "pwrite %lld %8191s", &a, arg) == 2) {
			ssize_t n = pwrite(fd, arg, strlen(arg), a);
			n < 0 ? printf("ERR %d\n", errno) : printf("OK %zd\n", n);
		} else if (sscanf(line, "truncate %lld", &a) == 1) {
			ftruncate(fd, a) ? printf("ERR %d\n", errno) : printf("OK\n");
		} else if (sscanf(line, "statloop %lld", &a) == 1) {
			struct timespec t0, t1;
			struct stat st;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			for (long long i = 0; i < a; i++)
				if (fstat(fd, &st)) {
					printf("ERR %d\n", errno);
					goto next;
				}
			clock_gettime(CLOCK_MONOTONIC, &t1);
			printf("RATE %.0f\n", a / ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9));
		} else if (sscanf(line, "lock %c %lld %lld", &c, &a, &b) == 3 ||
			   sscanf(line, "lockw %c %lld %lld", &c, &a, &b) == 3 ||
			   sscanf(line, "getlk %c %lld %lld", &c, &a, &b) == 3) {
			struct flock fl = { .l_whence = SEEK_SET, .l_start = a, .l_len = b };
			fl.l_type = c == 'r' ? F_RDLCK : c == 'w' ? F_WRLCK : F_UNLCK;
			int cmd = line[0] == 'g' ? F_GETLK : line[4] == 'w' ? F_SETLKW : F_SETLK;
			if (fcntl(fd, cmd, &fl))
				printf("ERR %d\n", errno);
			else if (cmd == F_GETLK)
				printf("LK %d %d\n", fl.l_type, fl.l_pid);
			else
				printf("OK\n");
		} else if (sscanf(line, "seek %lld %lld", &a, &b) == 2) {
			off_t pos = lseek(fd, a, (int)b);
			pos < 0 ? printf("ERR %d\n", errno) : printf("POS %lld\n", (long long)pos);
		} else if (sscanf(line, "fallocate %lld %lld", &a, &b) == 2) {
			fallocate(fd, 0, a, b) ? printf("ERR %d\n", errno) : printf("OK\n");
		} else if (strcmp(line, "resident") == 0) {
			/* Pages of the mapping in the page cache: RESIDENT n/total. */
			long pg = sysconf(_SC_PAGESIZE), n = (long)((maplen + pg - 1) / pg), in = 0;
			unsigned char vec[4096];
			if (n > (long)sizeof vec || mincore(map, maplen, vec)) {
				printf("ERR %d\n", errno);
			} else {
				for (long i = 0; i < n; i++)
					in += vec[i] & 1;
				printf("RESIDENT %ld/%ld\n", in, n);
			}
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			printf("ERR bad command: %s\n", line);
		}
next:;
	}
	return 0;
}
