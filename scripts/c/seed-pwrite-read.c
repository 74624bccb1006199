/*
 * seed-pwrite-read: the first program of the seed thread (9fans, Feb 2026):
 *
 *	fd = open("x", ORDWR);
 *	pwrite(fd, "foo", 4, 0);
 *	read(fd, buf, 4);
 *	pwrite(fd, "bar", 4, 0);
 *	print("%s\n", buf);
 *
 * "What does this print?"  read() copies into private memory, so "foo".
 *
 *	seed-pwrite-read PATH [WRITER_PATH]
 *
 * With WRITER_PATH (the same file through another mount) both pwrites go
 * through that mount and only the read() goes through PATH: then "foo" also
 * says the read saw another client's write.
 */
#define _GNU_SOURCE
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[5] = "";       /* one more than read() fills, so it always prints as a string */
	ssize_t n;

	if (argc < 2 || argc > 3)
		errx(2, "usage: seed-pwrite-read PATH [WRITER_PATH]");
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		err(1, "%s", argv[1]);
	int wfd = argc == 3 ? open(argv[2], O_RDWR) : fd;
	if (wfd < 0)
		err(1, "%s", argv[2]);

	if (pwrite(wfd, "foo", 4, 0) != 4)
		err(1, "pwrite foo");
	if ((n = read(fd, buf, 4)) < 0)
		err(1, "read");
	if (pwrite(wfd, "bar", 4, 0) != 4)
		err(1, "pwrite bar");

	if (n == 4)
		printf("%s\n", buf);
	else
		printf("\"%s\" (read returned %zd bytes)\n", buf, n);
	return 0;
}
