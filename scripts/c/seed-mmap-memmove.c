/*
 * seed-mmap-memmove: Dan Cross's variant from the seed thread (9fans, Feb 2026):
 *
 *	p = mmap(fd, RD|WR, ...);
 *	pwrite(fd, "foo", 4, 0);
 *	read(fd, a, 4);
 *	memmove(p, "bar", 4);
 *	pread(fd, b, 4, 0);
 *	print(memcmp(a, b, 4) == 0 ? "same same\n" : "but different\n");
 *
 * With one unified page cache the store through p is the file, so b is "bar"
 * and it prints "but different"; "same same" means pread did not see the store.
 *
 *	seed-mmap-memmove PATH [WRITER_PATH]
 *
 * With WRITER_PATH (the same file through another mount) the writes (pwrite and
 * the store through the mapping) go through that mount and the reads through
 * PATH, so "but different" also says a store crossed from one client to another
 * without msync.
 */
#define _GNU_SOURCE
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LEN 4096

int main(int argc, char **argv)
{
	char a[5] = "", b[5] = "";

	if (argc < 2 || argc > 3)
		errx(2, "usage: seed-mmap-memmove PATH [WRITER_PATH]");
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		err(1, "%s", argv[1]);
	/* A store into a shared mapping beyond EOF raises SIGBUS: give the file a page. */
	if (ftruncate(fd, LEN) < 0)
		err(1, "ftruncate");
	int wfd = argc == 3 ? open(argv[2], O_RDWR) : fd;
	if (wfd < 0)
		err(1, "%s", argv[2]);
	char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
	if (p == MAP_FAILED)
		err(1, "mmap");

	if (pwrite(wfd, "foo", 4, 0) != 4)
		err(1, "pwrite");
	if (read(fd, a, 4) != 4)
		err(1, "read");
	memmove(p, "bar", 4);
	if (pread(fd, b, 4, 0) != 4)
		err(1, "pread");

	printf("%s (a=\"%s\" b=\"%s\")\n", memcmp(a, b, 4) == 0 ? "same same" : "but different", a, b);
	return 0;
}
