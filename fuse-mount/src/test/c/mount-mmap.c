/* mount-mmap: MAP_SHARED on one c9fs mount: stores seen by read(), write() seen by a mapped
 * load, msync reaching the server file, truncate while mapped.
 * usage: mount-mmap FILE-ON-MOUNT SAME-FILE-IN-EXPORT   (exit 0 when every check passed) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s failed (errno %d %s)\n", \
        __FILE__, __LINE__, #cond, errno, strerror(errno)); exit(1); } } while (0)

enum { PAGE = 4096, PAGES = 4, LEN = PAGE * PAGES };

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    int fd = open(argv[1], O_CREAT | O_TRUNC | O_RDWR, 0644);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, LEN) == 0);
    char *m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED);

    /* a store through the mapping is what read() returns */
    memcpy(m + 10, "STORED", 6);
    char got[16];
    CHECK(pread(fd, got, 6, 10) == 6 && memcmp(got, "STORED", 6) == 0);

    /* write() is what a mapped load returns */
    CHECK(pwrite(fd, "WRITTEN", 7, PAGE + 5) == 7);
    CHECK(memcmp(m + PAGE + 5, "WRITTEN", 7) == 0);

    /* msync(MS_SYNC) puts the stores into the server's file */
    memcpy(m + 2 * PAGE, "SYNCED", 6);
    CHECK(msync(m, LEN, MS_SYNC) == 0);
    int sfd = open(argv[2], O_RDONLY);
    CHECK(sfd >= 0);
    CHECK(pread(sfd, got, 6, 2 * PAGE) == 6 && memcmp(got, "SYNCED", 6) == 0);
    CHECK(pread(sfd, got, 6, 10) == 6 && memcmp(got, "STORED", 6) == 0);
    CHECK(close(sfd) == 0);

    /* truncate while mapped: the cut pages come back as zeros after the file grows again */
    memset(m + 3 * PAGE, 'Z', PAGE);
    CHECK(msync(m, LEN, MS_SYNC) == 0);
    CHECK(ftruncate(fd, 2 * PAGE) == 0);
    CHECK(ftruncate(fd, LEN) == 0);
    for (int i = 0; i < PAGE; i++)
        CHECK(m[3 * PAGE + i] == 0);
    CHECK(pread(fd, got, 4, 3 * PAGE) == 4 && memcmp(got, "\0\0\0\0", 4) == 0);
    CHECK(memcmp(m + 10, "STORED", 6) == 0);

    CHECK(munmap(m, LEN) == 0);
    CHECK(close(fd) == 0);
    printf("mount-mmap ok\n");
    return 0;
}
