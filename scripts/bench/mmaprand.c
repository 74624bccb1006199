/*
 * mmaprand: random 4 KiB page faults through a MAP_SHARED mapping (workload c
 * of docs: scripts/bench/README.md).
 *
 *	mmaprand [-n PAGES] [-s SEED] FILE
 *
 * Maps FILE read-only and shared, asks for MADV_RANDOM so each fault reads one
 * page instead of a readahead window, then loads one byte from each of PAGES
 * distinct pages in random order. Prints one line of key=value pairs.
 * If the file system refuses shared mappings (ENODEV: FUSE direct_io without
 * DIRECT_IO_ALLOW_MMAP) it falls back to MAP_PRIVATE and says so.
 */
#define _GNU_SOURCE
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: reproducible across libcs, unlike rand(). */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

int main(int argc, char **argv)
{
	size_t want = 8192;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	const char *mapping = "shared";
	int opt;

	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		if (opt == 'n')
			want = strtoul(optarg, NULL, 0);
		else if (opt == 's')
			seed = strtoull(optarg, NULL, 0) | 1;
		else
			errx(2, "usage: mmaprand [-n PAGES] [-s SEED] FILE");
	}
	if (optind != argc - 1)
		errx(2, "usage: mmaprand [-n PAGES] [-s SEED] FILE");

	int fd = open(argv[optind], O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		err(1, "%s", argv[optind]);
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = st.st_size / page;
	if (want > pages)
		errx(1, "%s has %zu pages, %zu asked for", argv[optind], pages, want);

	char *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED && errno == ENODEV) {
		mapping = "private";
		p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	}
	if (p == MAP_FAILED)
		err(1, "mmap");
	if (madvise(p, st.st_size, MADV_RANDOM) < 0)
		err(1, "madvise");

	/* The first `want` slots of a partial Fisher-Yates shuffle: distinct pages, random order. */
	size_t *order = malloc(pages * sizeof *order);
	if (!order)
		err(1, "malloc");
	for (size_t i = 0; i < pages; i++)
		order[i] = i;
	for (size_t i = 0; i < want; i++) {
		size_t j = i + next_random(&seed) % (pages - i);
		size_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}

	struct rusage before, after;
	volatile unsigned char sink = 0;
	getrusage(RUSAGE_SELF, &before);
	double t0 = now_s();
	for (size_t i = 0; i < want; i++)
		sink += p[order[i] * page];
	double secs = now_s() - t0;
	getrusage(RUSAGE_SELF, &after);

	printf("pages=%zu seconds=%.6f faults_per_s=%.1f us_per_fault=%.2f major_faults=%ld mapping=%s\n",
	       want, secs, want / secs, secs * 1e6 / want, after.ru_majflt - before.ru_majflt, mapping);
	(void)sink;
	return 0;
}
