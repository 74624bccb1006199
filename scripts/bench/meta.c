/*
 * meta: metadata rate (workload d of scripts/bench/README.md).
 *
 *	meta DIR FILES BYTES
 *
 * Creates FILES files in a fresh subdirectory of DIR (open O_CREAT, write
 * BYTES, close), then stats each, then unlinks each; every phase is timed on
 * its own because file systems cache very differently for each. Prints one
 * line of key=value pairs: files/s and ops/s over the three phases (3 ops a
 * file), and the rate of each phase.
 */
#define _GNU_SOURCE
#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void file_path(char *path, size_t len, const char *dir, long i)
{
	if (snprintf(path, len, "%s/f%06ld", dir, i) >= (int)len)
		errx(2, "path too long");
}

int main(int argc, char **argv)
{
	if (argc != 4)
		errx(2, "usage: meta DIR FILES BYTES");
	long files = atol(argv[2]);
	size_t bytes = strtoul(argv[3], NULL, 0);
	char dir[PATH_MAX], path[PATH_MAX];
	char *data = malloc(bytes + 1);
	struct stat st;

	if (files <= 0 || !data)
		errx(2, "FILES must be > 0");
	memset(data, 'm', bytes);
	if (snprintf(dir, sizeof dir, "%s/meta.%d", argv[1], (int)getpid()) >= (int)sizeof dir)
		errx(2, "path too long");
	if (mkdir(dir, 0755) < 0)
		err(1, "mkdir %s", dir);

	double t0 = now_s();
	for (long i = 0; i < files; i++) {
		file_path(path, sizeof path, dir, i);
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			err(1, "create %s", path);
		if (write(fd, data, bytes) != (ssize_t)bytes)
			err(1, "write %s", path);
		if (close(fd) < 0)
			err(1, "close %s", path);
	}
	double t1 = now_s();
	for (long i = 0; i < files; i++) {
		file_path(path, sizeof path, dir, i);
		if (stat(path, &st) < 0 || (size_t)st.st_size != bytes)
			errx(1, "stat %s: missing or wrong size", path);
	}
	double t2 = now_s();
	for (long i = 0; i < files; i++) {
		file_path(path, sizeof path, dir, i);
		if (unlink(path) < 0)
			err(1, "unlink %s", path);
	}
	double t3 = now_s();
	if (rmdir(dir) < 0)
		err(1, "rmdir %s", dir);

	printf("files=%ld seconds=%.6f files_per_s=%.1f ops_per_s=%.1f create_per_s=%.1f stat_per_s=%.1f unlink_per_s=%.1f\n",
	       files, t3 - t0, files / (t3 - t0), 3 * files / (t3 - t0),
	       files / (t1 - t0), files / (t2 - t1), files / (t3 - t2));
	return 0;
}
