/*
 * tornprobe: whether a buffered read can see part of a concurrent write of the same page.
 *
 *   tornprobe FILE SECONDS [READ_PATH]
 *
 * A child pwrites whole 4 KiB blocks into FILE, every word of a block set to one stamp (block,
 * sequence), as fast as it can; the parent preads random blocks of READ_PATH (default FILE: the
 * same file through another path, e.g. a second mount) and counts the blocks whose words are not
 * all one stamp. Prints "writes W" (stderr) and "reads N torn T". Not a test: a probe for docs/fault-injection.md,
 * which records what it measured on ext4 and on c9fs mounts.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BS 4096
#define WORDS (BS / 8)
#define NBLK 48

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static unsigned next(unsigned *r)
{
	*r = *r * 1103515245u + 12345u;
	return *r >> 16;
}

static void stamp(uint64_t *b, uint32_t blk, uint32_t seq)
{
	for (int w = 0; w < WORDS; w++)
		b[w] = (uint64_t)blk << 32 | seq;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: tornprobe FILE SECONDS [READ_PATH]\n");
		return 2;
	}
	static uint64_t b[WORDS];
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	for (uint32_t i = 0; i < NBLK; i++) {
		stamp(b, i, 0);
		if (pwrite(fd, b, BS, (off_t)i * BS) != BS) {
			perror("pwrite");
			return 1;
		}
	}
	fsync(fd);
	double end = now_s() + atof(argv[2]);
	pid_t child = fork();
	if (child == 0) {
		unsigned r = 1;
		long writes = 0;
		for (uint32_t seq = 1; now_s() < end; seq++, writes++) {
			uint32_t blk = next(&r) % NBLK;
			stamp(b, blk, seq);
			if (pwrite(fd, b, BS, (off_t)blk * BS) != BS)
				_exit(1);
		}
		fprintf(stderr, "writes %ld\n", writes);
		_exit(0);
	}
	int rfd = open(argc > 3 ? argv[3] : argv[1], O_RDONLY);
	if (rfd < 0) {
		perror("open for reading");
		return 1;
	}
	unsigned r = 7;
	long reads = 0, torn = 0;
	while (now_s() < end) {
		uint32_t blk = next(&r) % NBLK;
		if (pread(rfd, b, BS, (off_t)blk * BS) != BS)
			continue;
		reads++;
		for (int w = 1; w < WORDS; w++)
			if (b[w] != b[0]) {
				torn++;
				break;
			}
	}
	int st;
	waitpid(child, &st, 0);
	printf("reads %ld torn %ld\n", reads, torn);
	return 0;
}
