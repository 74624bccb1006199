/* mount-rw: write, read, append, truncate, rename and unlink through a c9fs mount.
 * usage: mount-rw DIR   (exit 0 when every check passed; the failing check on stderr otherwise) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s failed (errno %d %s)\n", \
        __FILE__, __LINE__, #cond, errno, strerror(errno)); exit(1); } } while (0)

int main(int argc, char **argv)
{
    char a[4096], b[4096], buf[1 << 16];
    CHECK(argc == 2);
    snprintf(a, sizeof a, "%s/rw-a", argv[1]);
    snprintf(b, sizeof b, "%s/rw-b", argv[1]);

    int fd = open(a, O_CREAT | O_EXCL | O_RDWR, 0644);
    CHECK(fd >= 0);
    for (int i = 0; i < (int) sizeof buf; i++)
        buf[i] = (char) (i * 7 + 3);
    CHECK(write(fd, buf, sizeof buf) == sizeof buf);
    CHECK(pwrite(fd, "HELLO", 5, 1000) == 5);
    char got[sizeof buf];
    CHECK(pread(fd, got, sizeof got, 0) == sizeof got);
    CHECK(memcmp(got + 1000, "HELLO", 5) == 0);
    CHECK(memcmp(got, buf, 1000) == 0 && memcmp(got + 1005, buf + 1005, sizeof buf - 1005) == 0);
    CHECK(fsync(fd) == 0);
    CHECK(ftruncate(fd, 100) == 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == 100);
    CHECK(close(fd) == 0);

    /* O_APPEND lands at the end whatever the offset. */
    fd = open(a, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    CHECK(write(fd, "TAIL", 4) == 4);
    CHECK(close(fd) == 0);
    CHECK(stat(a, &st) == 0 && st.st_size == 104);
    fd = open(a, O_RDONLY);
    CHECK(fd >= 0 && pread(fd, got, 8, 100) == 4 && memcmp(got, "TAIL", 4) == 0);
    CHECK(close(fd) == 0);

    /* rename over nothing, then over an existing file, then a stat by the new name. */
    CHECK(rename(a, b) == 0);
    CHECK(access(a, F_OK) == -1 && errno == ENOENT);
    fd = open(a, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0);
    CHECK(rename(a, b) == 0);
    CHECK(stat(b, &st) == 0 && st.st_size == 1 && (st.st_mode & 0777) == 0600);
    CHECK(open(a, O_CREAT | O_EXCL | O_WRONLY, 0600) >= 0);
    CHECK(open(a, O_CREAT | O_EXCL | O_WRONLY, 0600) == -1 && errno == EEXIST);
    CHECK(unlink(a) == 0 && unlink(b) == 0);
    CHECK(unlink(b) == -1 && errno == ENOENT);

    /* an unlinked file stays usable through its descriptor. */
    fd = open(a, O_CREAT | O_RDWR, 0600);
    CHECK(fd >= 0 && unlink(a) == 0);
    CHECK(write(fd, "gone", 4) == 4 && pread(fd, got, 4, 0) == 4 && memcmp(got, "gone", 4) == 0);
    CHECK(close(fd) == 0);
    printf("mount-rw ok\n");
    return 0;
}
