/* mount-lock: POSIX record locks (fcntl) between two processes on one c9fs mount.
 * usage: mount-lock FILE ranges|whole   (exit 0 when every check passed)
 * "whole": the server locks whole files only (diod maps locks to flock), so disjoint byte
 * ranges of two owners conflict there and that check is left out. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s failed (errno %d %s)\n", \
        __FILE__, __LINE__, #cond, errno, strerror(errno)); exit(1); } } while (0)

static void on_alarm(int sig)
{
    (void) sig;
}

static int lock(int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
    return fcntl(fd, cmd, &fl);
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    int ranges = strcmp(argv[2], "ranges") == 0;
    int fd = open(argv[1], O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0);
    CHECK(lock(fd, F_SETLK, F_WRLCK, 0, 100) == 0);
    /* an owner never conflicts with itself, whatever descriptor it locks through */
    int fd2 = open(argv[1], O_RDWR);
    CHECK(fd2 >= 0);
    CHECK(lock(fd2, F_SETLK, F_WRLCK, 50, 100) == 0);

    int ready[2], go[2];
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        close(ready[0]);
        close(go[1]);
        int cfd = open(argv[1], O_RDWR);
        CHECK(cfd >= 0);
        /* the parent's write lock conflicts ... */
        CHECK(lock(cfd, F_SETLK, F_WRLCK, 50, 10) == -1 && (errno == EAGAIN || errno == EACCES));
        struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
        CHECK(fcntl(cfd, F_GETLK, &q) == 0);
        CHECK(q.l_type == F_WRLCK && q.l_pid == getppid());
        /* ... but not beyond its range */
        if (ranges) {
            CHECK(lock(cfd, F_SETLK, F_WRLCK, 200, 10) == 0);
        }
        /* a signal ends the wait with EINTR (the kernel sends FUSE_INTERRUPT) */
        struct sigaction sa = { .sa_handler = on_alarm };
        CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
        alarm(1);
        CHECK(lock(cfd, F_SETLKW, F_WRLCK, 0, 100) == -1 && errno == EINTR);
        CHECK(write(ready[1], "r", 1) == 1);
        /* blocks until the parent unlocks */
        CHECK(lock(cfd, F_SETLKW, F_WRLCK, 0, 100) == 0);
        char c;
        CHECK(read(go[0], &c, 1) == 1 && c == 'u');
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    if (ranges) {
        CHECK(lock(fd, F_SETLK, F_WRLCK, 200, 1) == -1 && (errno == EAGAIN || errno == EACCES));
    }
    usleep(200 * 1000);
    CHECK(write(go[1], "u", 1) == 1);
    /* closing any descriptor drops all of this process's locks on the file: the child gets in */
    CHECK(close(fd2) == 0);
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the child's locks went with it */
    CHECK(lock(fd, F_SETLK, F_WRLCK, 0, 0) == 0);
    CHECK(lock(fd, F_SETLK, F_UNLCK, 0, 0) == 0);
    CHECK(close(fd) == 0);
    printf("mount-lock ok\n");
    return 0;
}
