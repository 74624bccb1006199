/*
 * c9demo: the two sides of one step of the c9fs coherence demo.
 *
 * Each step has an observer, which caches the old bytes of a file through its
 * mount and then watches them, and a mutator, which changes the file through
 * another mount (another machine).  The two may run on different hosts, so
 * they meet over TCP, not through the file under test:
 *
 *	observer                                 mutator
 *	write OLD, fsync, cache it
 *	listen on PORT ...................... connect (retrying)
 *	send "ready"  ---------------------->  open, map; change the file;
 *	                                       t0 = clock after the change returned
 *	watch the word  <--------------------  send "t0 NS"
 *	send the verdict  ------------------>  print it; only then unmap and close
 *
 * The mutator keeps its fd and mapping until the verdict: munmap() and close()
 * flush (clause 3a of docs/coherence.md, close-to-open), which would hide
 * whether the change crossed by itself.  Delays are CLOCK_REALTIME
 * differences: the demo runs both sides on one kernel (two mounts, or two
 * containers), so the clocks are the same clock.
 *
 *	c9demo watch-load  PATH PORT TIMEOUT_MS      observer: loads from a MAP_SHARED mapping
 *	c9demo watch-pread PATH PORT TIMEOUT_MS      observer: pread()s on an fd opened beforehand
 *	c9demo pwrite      PATH HOST:PORT WORD       mutator: pwrite()s WORD at offset 0
 *	c9demo store       PATH HOST:PORT WORD       mutator: stores WORD into a MAP_SHARED mapping, no msync
 *
 * The observer prints one line and exits 0 if it saw the new word in time, 1 if not:
 *	SEEN word="..." delay_ms=D
 *	LATE word="..." delay_ms=D       (a read blocked past TIMEOUT_MS, then returned it)
 *	NOTSEEN word="..." within_ms=T
 * The mutator prints "DONE ..." and the observer's line.  Status 2 is an error.
 * WORD is exactly 8 bytes; the observer's old word is "old-word".
 */
#define _GNU_SOURCE
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WORD		8
#define FILE_LEN	4096
#define OLD		"old-word"
#define CONNECT_MS	60000	/* the other side may still be mounting (containers start together) */
#define T0_MS		30000	/* from "ready" to the mutator's t0: an open and one write */

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void send_line(int sock, const char *line)
{
	size_t len = strlen(line);

	if (write(sock, line, len) != (ssize_t)len)
		err(2, "send");
}

/* Reads one '\n'-terminated line, waiting at most ms; returns 0 on timeout. */
static int recv_line(int sock, char *buf, size_t size, int ms)
{
	size_t n = 0;
	long long deadline = now_ns() + ms * 1000000LL;

	while (n + 1 < size) {
		long long left = (deadline - now_ns()) / 1000000;
		struct pollfd p = { .fd = sock, .events = POLLIN };

		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return 0;
		ssize_t r = read(sock, buf + n, 1);
		if (r <= 0)
			errx(2, "the other side hung up");
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 1;
		}
		n++;
	}
	errx(2, "line too long");
}

static int listen_once(const char *port)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in sa4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, zero = 0;
	/* Both families on one socket where the host has IPv6; IPv4 alone where it does not. */
	int ls = socket(AF_INET6, SOCK_STREAM, 0);
	int v6 = ls >= 0;

	if (!v6 && (ls = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		err(2, "socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa6.sin6_port = sa4.sin_port = htons(atoi(port));
	if (v6)
		setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if ((v6 ? bind(ls, (struct sockaddr *)&sa6, sizeof sa6) : bind(ls, (struct sockaddr *)&sa4, sizeof sa4)) < 0 ||
	    listen(ls, 1) < 0)
		err(2, "listen on port %s", port);

	struct pollfd p = { .fd = ls, .events = POLLIN };
	if (poll(&p, 1, CONNECT_MS) != 1)
		errx(2, "no mutator connected within %d s", CONNECT_MS / 1000);
	int s = accept(ls, NULL, NULL);
	if (s < 0)
		err(2, "accept");
	close(ls);
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return s;
}

static int connect_retrying(const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	long long deadline = now_ns() + CONNECT_MS * 1000000LL;
	int one = 1;

	if (colon == NULL || (size_t)(colon - hostport) >= sizeof host)
		errx(2, "want HOST:PORT, not %s", hostport);
	memcpy(host, hostport, colon - hostport);
	host[colon - hostport] = '\0';
	for (;;) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;

		/* The name may not resolve yet either: a container's DNS entry appears when it starts. */
		if (getaddrinfo(host, colon + 1, &hints, &ai) == 0) {
			int s = socket(ai->ai_family, SOCK_STREAM, 0);
			if (s >= 0 && connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
				freeaddrinfo(ai);
				setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				return s;
			}
			if (s >= 0)
				close(s);
			freeaddrinfo(ai);
		}
		if (now_ns() > deadline)
			errx(2, "cannot connect to %s within %d s", hostport, CONNECT_MS / 1000);
		usleep(100000);
	}
}

/* Creates PATH holding OLD on the server: fsync so that the other mount's open finds it. */
static int create_old(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		err(2, "%s", path);
	if (ftruncate(fd, FILE_LEN) < 0 || pwrite(fd, OLD, WORD, 0) != WORD || fsync(fd) < 0)
		err(2, "writing the old word to %s", path);
	return fd;
}

/* Reads the word at offset 0 into word; true once it is no longer OLD. */
static int look(int by_load, int fd, volatile const char *map, char *word)
{
	if (by_load) {
		for (int i = 0; i < WORD; i++)
			word[i] = map[i];
	} else if (pread(fd, word, WORD, 0) != WORD) {
		err(2, "pread");
	}
	return memcmp(word, OLD, WORD) != 0;
}

static void observe(int by_load, const char *path, const char *port, int timeout_ms)
{
	char word[WORD + 1] = "", line[128];
	int fd = create_old(path);
	volatile const char *map = NULL;

	if (by_load) {
		map = mmap(NULL, FILE_LEN, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			err(2, "mmap");
	}
	/* Cache the old bytes: a first load faults the page in, a first pread fills the page cache. */
	if (look(by_load, fd, map, word))
		errx(2, "read back \"%s\", not \"%s\"", word, OLD);

	int s = listen_once(port);
	send_line(s, "ready\n");

	long long t0 = 0, seen = 0, t0_deadline = now_ns() + T0_MS * 1000000LL;
	const struct timespec pause = { .tv_nsec = 200000 };	/* between two looks at the word */
	while (!t0) {
		struct pollfd p = { .fd = s, .events = POLLIN };

		if (!seen && look(by_load, fd, map, word))
			seen = now_ns();
		if (ppoll(&p, 1, &pause, NULL) == 1) {
			if (!recv_line(s, line, sizeof line, 1000) || sscanf(line, "t0 %lld", &t0) != 1)
				errx(2, "bad message from the mutator: %s", line);
		} else if (now_ns() > t0_deadline) {
			errx(2, "no t0 from the mutator within %d s", T0_MS / 1000);
		}
	}
	long long deadline = t0 + timeout_ms * 1000000LL;
	while (!seen && now_ns() < deadline) {
		nanosleep(&pause, NULL);
		if (look(by_load, fd, map, word))
			seen = now_ns();
	}
	/* A look that blocked past the deadline (a stuck recall) found the bytes too late. */
	int late = seen > deadline;
	if (seen)
		/* Negative: seen before the mutator's call returned (a recall runs inside that call). */
		snprintf(line, sizeof line, "%s word=\"%s\" delay_ms=%.2f\n", late ? "LATE" : "SEEN",
			 word, (seen - t0) / 1e6);
	else
		snprintf(line, sizeof line, "NOTSEEN word=\"%s\" within_ms=%d\n", word, timeout_ms);
	fputs(line, stdout);
	fflush(stdout);
	send_line(s, line);
	close(s);
	exit(seen && !late ? 0 : 1);
}

static void mutate(int by_store, const char *path, const char *hostport, const char *newword)
{
	char line[128];

	if (strlen(newword) != WORD)
		errx(2, "WORD must be %d bytes", WORD);
	int s = connect_retrying(hostport);
	/* The file exists once the observer is ready: open it only then. */
	if (!recv_line(s, line, sizeof line, CONNECT_MS) || strcmp(line, "ready") != 0)
		errx(2, "the observer did not get ready");
	int fd = open(path, O_RDWR);
	if (fd < 0)
		err(2, "%s", path);
	char *map = NULL;
	if (by_store) {
		map = mmap(NULL, FILE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			err(2, "mmap");
	}

	if (by_store)
		memcpy(map, newword, WORD);
	else if (pwrite(fd, newword, WORD, 0) != WORD)
		err(2, "pwrite");
	long long t0 = now_ns();

	snprintf(line, sizeof line, "t0 %lld\n", t0);
	send_line(s, line);
	printf("DONE %s word=\"%s\"\n", by_store ? "store (no msync)" : "pwrite", newword);
	/* The observer's own deadline is bounded; this only guards against a dead peer. */
	if (!recv_line(s, line, sizeof line, T0_MS + 60000))
		errx(2, "no verdict from the observer");
	printf("%s\n", line);
	exit(strncmp(line, "SEEN", 4) == 0 ? 0 : 1);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "watch-load") == 0)
		observe(1, argv[2], argv[3], atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "watch-pread") == 0)
		observe(0, argv[2], argv[3], atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "pwrite") == 0)
		mutate(0, argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "store") == 0)
		mutate(1, argv[2], argv[3], argv[4]);
	errx(2, "usage: c9demo watch-load|watch-pread PATH PORT TIMEOUT_MS\n"
	     "       c9demo pwrite|store PATH HOST:PORT WORD");
}
