/* mount-reconnect: holds one file of a c9fs mount open and mapped MAP_SHARED while the test kills
 * and restarts the server. Reads commands on stdin, answers one line each:
 *   open PATH          open O_RDWR and map LEN bytes      -> OK | ERR errno
 *   pread OFF N        read N bytes at OFF                -> DATA text | ERR errno
 *   load OFF N         N bytes from the mapping at OFF    -> DATA text
 *   pwrite OFF TEXT    write TEXT at OFF                  -> OK | ERR errno
 *   store OFF TEXT     store TEXT into the mapping at OFF -> OK
 *   msync | fsync      MS_SYNC the mapping / fsync the fd -> OK | ERR errno
 *   stat PATH          stat(2) another path               -> OK | ERR errno
 *   mlock              keep the mapped pages resident     -> OK | ERR errno
 *   lock | unlock      F_SETLK a write lock on the whole file, or drop it -> OK | ERR errno
 *   close              unmap and close                    -> OK | ERR errno
 *   quit
 * usage: mount-reconnect */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { LEN = 4 * 4096 };

static void answer_data(const char *p, long n)
{
    printf("DATA ");
    for (long i = 0; i < n; i++)
        putchar(p[i] >= 32 && p[i] < 127 ? p[i] : '.');
    printf("\n");
}

int main(void)
{
    char line[4096], arg[4096];
    int fd = -1;
    char *m = MAP_FAILED;
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        long off = 0, n = 0;
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "open %4095s", arg) == 1) {
            fd = open(arg, O_RDWR);
            if (fd < 0) { printf("ERR %d\n", errno); continue; }
            m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (m == MAP_FAILED) { printf("ERR %d\n", errno); continue; }
            printf("OK\n");
        } else if (sscanf(line, "pread %ld %ld", &off, &n) == 2 && n < (long) sizeof arg) {
            ssize_t r = pread(fd, arg, n, off);
            if (r < 0) printf("ERR %d\n", errno); else answer_data(arg, r);
        } else if (sscanf(line, "load %ld %ld", &off, &n) == 2 && off + n <= LEN) {
            answer_data(m + off, n);
        } else if (sscanf(line, "pwrite %ld %4095s", &off, arg) == 2) {
            ssize_t r = pwrite(fd, arg, strlen(arg), off);
            if (r < 0) printf("ERR %d\n", errno); else printf("OK\n");
        } else if (sscanf(line, "store %ld %4095s", &off, arg) == 2 && off + (long) strlen(arg) <= LEN) {
            memcpy(m + off, arg, strlen(arg));
            printf("OK\n");
        } else if (strcmp(line, "msync") == 0) {
            if (msync(m, LEN, MS_SYNC) != 0) printf("ERR %d\n", errno); else printf("OK\n");
        } else if (strcmp(line, "fsync") == 0) {
            if (fsync(fd) != 0) printf("ERR %d\n", errno); else printf("OK\n");
        } else if (sscanf(line, "stat %4095s", arg) == 1) {
            struct stat st;
            if (stat(arg, &st) != 0) printf("ERR %d\n", errno); else printf("OK\n");
        } else if (strcmp(line, "mlock") == 0) {
            if (mlock(m, LEN) != 0) printf("ERR %d\n", errno); else printf("OK\n");
        } else if (strcmp(line, "lock") == 0 || strcmp(line, "unlock") == 0) {
            struct flock fl = { .l_type = line[0] == 'l' ? F_WRLCK : F_UNLCK, .l_whence = SEEK_SET };
            if (fcntl(fd, F_SETLK, &fl) != 0) printf("ERR %d\n", errno); else printf("OK\n");
        } else if (strcmp(line, "close") == 0) {
            if (m != MAP_FAILED) munmap(m, LEN);
            m = MAP_FAILED;
            if (close(fd) != 0) printf("ERR %d\n", errno); else printf("OK\n");
            fd = -1;
        } else if (strcmp(line, "quit") == 0) {
            return 0;
        } else {
            printf("ERR bad command: %s\n", line);
        }
    }
    return 0;
}
