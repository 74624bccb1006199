/*
 * faultproxy: a TCP proxy on 127.0.0.1 that understands 9P framing (size[4] type[1] tag[2])
 * and injects faults between c9fs-mount and c9fs-serve. docs/fault-injection.md.
 *
 *   faultproxy -t HOST:PORT -c CONTROL [-p PORTFILE] [-s STATSFILE] [-l PORT] [-L SECONDS]
 *
 * Listens on 127.0.0.1:PORT (0, the default: the kernel picks one, written to PORTFILE once
 * listening) and connects each accepted client to HOST:PORT. CONTROL holds the mode, one line,
 * re-read whenever it changes (write a new file and rename it over CONTROL):
 *
 *   pass              forward every frame unchanged
 *   delay MS          hold every frame MS milliseconds (both directions), until changed
 *   refuse [cut]      close every new connection at once, until changed (cut: and every
 *                     open one, at the same instant)
 *   stall [DIR]       forward half of the next frame, then nothing more that way on that connection
 *                     until CONTROL is written again (new connections pass meanwhile)
 *   truncate [DIR]    forward half of the next frame, then close both sides of that connection
 *   corrupt [DIR]     flip every bit of the first 4 body bytes of the next frame (the count,
 *                     fid or length field every message starts with)
 *   badtype [DIR]     give the next frame type 0 (no such 9P message)
 *   badsize [DIR]     give the next frame size 0xfffffff0
 *   drop [DIR]        swallow the next frame
 *   cut               close both sides of every connection
 *
 * DIR is c2s (client to server, T-messages) or s2c (the default: server to client, R-messages).
 * The one-shot modes fire once and fall back to pass. Payload bytes of Twrite
 * and Rread are never flipped: 9P has no checksum of its own (it relies on TCP's, as NFS does),
 * so a flipped data byte is undetectable by design, not a client bug.
 *
 * STATSFILE is rewritten (atomically) after every event: "mode ...", "connections N", "frames N",
 * and one "MODE N" line per fault kind, then "faults N". The same summary goes to stderr at
 * exit. The proxy exits after -L SECONDS (default 600) or on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAXPAIRS 64
#define MAXFRAME (64u << 20)   /* a real frame is at most msize (1 MiB + 24) */
#define HIGHWATER (32u << 20)  /* stop reading a side whose output queue holds this much */

enum mode { M_PASS, M_DELAY, M_REFUSE, M_STALL, M_TRUNCATE, M_CORRUPT, M_BADTYPE, M_BADSIZE, M_DROP, M_CUT, M_N };
static const char *mode_name[M_N] = {"pass", "delay", "refuse", "stall", "truncate", "corrupt",
				     "badtype", "badsize", "drop", "cut"};

struct frame {
	struct frame *next;
	uint64_t release_ms;
	size_t len, off;
	int stall_after;   /* the first half of a stalled frame: nothing follows it */
	unsigned char data[];
};

/* One direction of one connection: bytes read from `from` queue here until they go to `to`. */
struct dir {
	unsigned char *in;
	size_t inlen, incap;
	struct frame *head, *tail;
	size_t queued;
	int stalled;   /* a stall fired here: 2 until its half frame is out, then 1, until the mode changes */
};

struct pair {
	int used;
	int fd[2];         /* 0: client, 1: server */
	struct dir d[2];   /* d[0]: client to server, d[1]: server to client */
};

static struct pair pairs[MAXPAIRS];
static enum mode mode = M_PASS;
static int mode_arg;        /* delay in ms */
static int mode_dir = 1;    /* 0 c2s, 1 s2c */
static unsigned long counts[M_N], conns, frames;
static const char *statsfile, *ctlfile;
static volatile sig_atomic_t stop;
static struct timespec ctl_mtime;
static off_t ctl_size = -1;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void logf_(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "faultproxy: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static unsigned long total_faults(void)
{
	unsigned long t = 0;
	for (int m = M_STALL; m < M_N; m++)
		t += counts[m];
	return t + counts[M_REFUSE] + counts[M_DELAY];
}

static void write_stats(void)
{
	if (!statsfile)
		return;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", statsfile);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "mode %s", mode_name[mode]);
	if (mode == M_DELAY)
		fprintf(f, " %d", mode_arg);
	else if (mode >= M_STALL && mode != M_CUT)
		fprintf(f, " %s", mode_dir ? "s2c" : "c2s");
	fprintf(f, "\nconnections %lu\nframes %lu\n", conns, frames);
	for (int m = M_DELAY; m < M_N; m++)
		fprintf(f, "%s %lu\n", mode_name[m], counts[m]);
	fprintf(f, "faults %lu\n", total_faults());
	fclose(f);
	rename(tmp, statsfile);
}

static void summary(void)
{
	fprintf(stderr, "faultproxy: connections %lu, frames %lu, faults %lu:", conns, frames, total_faults());
	for (int m = M_DELAY; m < M_N; m++)
		fprintf(stderr, " %s=%lu", mode_name[m], counts[m]);
	fputc('\n', stderr);
}

static void close_pair(struct pair *p)
{
	for (int i = 0; i < 2; i++) {
		if (p->fd[i] >= 0)
			close(p->fd[i]);
		p->fd[i] = -1;
		struct dir *d = &p->d[i];
		free(d->in);
		for (struct frame *f = d->head, *n; f; f = n) {
			n = f->next;
			free(f);
		}
		memset(d, 0, sizeof *d);
	}
	p->used = 0;
}

static void unstall_all(void)
{
	for (int i = 0; i < MAXPAIRS; i++)
		for (int k = 0; k < 2; k++)
			pairs[i].d[k].stalled = 0;
}

/* Reads CONTROL if it changed; a malformed line is reported and ignored. */
static void read_control(void)
{
	struct stat st;
	if (stat(ctlfile, &st) != 0)
		return;
	if (st.st_mtim.tv_sec == ctl_mtime.tv_sec && st.st_mtim.tv_nsec == ctl_mtime.tv_nsec &&
	    st.st_size == ctl_size)
		return;
	ctl_mtime = st.st_mtim;
	ctl_size = st.st_size;
	FILE *f = fopen(ctlfile, "r");
	if (!f)
		return;
	char line[256] = "", word[64] = "", arg[64] = "";
	if (!fgets(line, sizeof line, f))
		line[0] = 0;
	fclose(f);
	int n = sscanf(line, "%63s %63s", word, arg);
	if (n < 1)
		return;
	int m;
	for (m = 0; m < M_N; m++)
		if (strcmp(word, mode_name[m]) == 0)
			break;
	if (m == M_N) {
		logf_("unknown mode '%s' ignored", word);
		return;
	}
	int newdir = 1, newarg = 0, cut_too = 0;
	if (m == M_REFUSE && n >= 2 && strcmp(arg, "cut") == 0) {
		cut_too = 1;
	} else if (m == M_DELAY) {
		if (n < 2 || (newarg = atoi(arg)) < 0) {
			logf_("delay needs milliseconds");
			return;
		}
	} else if (n >= 2) {
		if (strcmp(arg, "c2s") == 0)
			newdir = 0;
		else if (strcmp(arg, "s2c") != 0) {
			logf_("direction '%s' is neither c2s nor s2c", arg);
			return;
		}
	}
	unstall_all();
	mode = m;
	mode_arg = newarg;
	mode_dir = newdir;
	logf_("mode %s %s", mode_name[m], m == M_DELAY || cut_too ? arg : (newdir ? "s2c" : "c2s"));
	if (m == M_DELAY)
		counts[M_DELAY]++;
	if (m == M_CUT || cut_too) {
		int cut = 0;
		for (int i = 0; i < MAXPAIRS; i++)
			if (pairs[i].used) {
				close_pair(&pairs[i]);
				cut++;
			}
		if (cut) {
			counts[M_CUT]++;
			logf_("cut %d connection(s)", cut);
		}
		if (m == M_CUT)
			mode = M_PASS;
	}
	write_stats();
}

static void enqueue(struct dir *d, const unsigned char *data, size_t len, uint64_t release)
{
	struct frame *f = malloc(sizeof *f + len);
	if (!f) {
		logf_("out of memory");
		exit(1);
	}
	f->next = NULL;
	/* FIFO: a shorter delay set later never lets a frame overtake an earlier one */
	if (d->tail && d->tail->release_ms > release)
		release = d->tail->release_ms;
	f->release_ms = release;
	f->len = len;
	f->off = 0;
	f->stall_after = 0;
	memcpy(f->data, data, len);
	if (d->tail)
		d->tail->next = f;
	else
		d->head = f;
	d->tail = f;
	d->queued += len;
}

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* Cuts complete frames out of d->in and applies the mode. Returns -1 when the pair must close. */
static int frame_out(struct pair *p, int k)
{
	struct dir *d = &p->d[k];
	size_t pos = 0;
	int rc = 0;
	while (d->inlen - pos >= 7) {
		unsigned char *fr = d->in + pos;
		uint32_t size = le32(fr);
		if (size < 7 || size > MAXFRAME) {
			/* not 9P (or a peer gone mad): forward raw, the receiver decides */
			enqueue(d, fr, d->inlen - pos, now_ms());
			pos = d->inlen;
			break;
		}
		if (d->inlen - pos < size)
			break;
		frames++;
		uint8_t type = fr[4];
		int here = (mode_dir == k);
		uint64_t release = now_ms();
		switch (here ? mode : (mode == M_DELAY ? M_DELAY : M_PASS)) {
		case M_DELAY:
			release += (uint64_t)mode_arg;
			enqueue(d, fr, size, release);
			break;
		case M_STALL:
			enqueue(d, fr, size / 2, release);
			d->tail->stall_after = 1;
			/* the rest waits in its own frame, released when the mode changes */
			enqueue(d, fr + size / 2, size - size / 2, release);
			d->stalled = 2;
			counts[M_STALL]++;
			logf_("stall: half of a %u-byte frame (type %u) %s, then nothing", size, type, k ? "s2c" : "c2s");
			/* one connection stuck: it stays so until the control file is written again,
			 * while new connections (a client redialing) pass */
			mode = M_PASS;
			write_stats();
			pos += size;
			goto done;
		case M_TRUNCATE:
			enqueue(d, fr, size / 2, release);
			counts[M_TRUNCATE]++;
			logf_("truncate: %u of %u bytes (type %u) %s, then cut", size / 2, size, type, k ? "s2c" : "c2s");
			mode = M_PASS;
			write_stats();
			pos += size;
			rc = -1;
			goto done;
		case M_CORRUPT: {
			size_t n = size - 7 < 4 ? size - 7 : 4;
			for (size_t i = 0; i < n; i++)
				fr[7 + i] ^= 0xff;
			enqueue(d, fr, size, release);
			counts[M_CORRUPT]++;
			logf_("corrupt: %zu body bytes flipped in a %u-byte frame (type %u) %s", n, size, type, k ? "s2c" : "c2s");
			mode = M_PASS;
			write_stats();
			break;
		}
		case M_BADTYPE:
			fr[4] = 0;
			enqueue(d, fr, size, release);
			counts[M_BADTYPE]++;
			logf_("badtype: type %u -> 0 %s", type, k ? "s2c" : "c2s");
			mode = M_PASS;
			write_stats();
			break;
		case M_BADSIZE:
			put_le32(fr, 0xfffffff0u);
			enqueue(d, fr, size, release);
			counts[M_BADSIZE]++;
			logf_("badsize: size %u -> 0xfffffff0 (type %u) %s", size, type, k ? "s2c" : "c2s");
			mode = M_PASS;
			write_stats();
			break;
		case M_DROP:
			counts[M_DROP]++;
			logf_("drop: a %u-byte frame (type %u, tag %u) %s", size, type, fr[5] | fr[6] << 8, k ? "s2c" : "c2s");
			mode = M_PASS;
			write_stats();
			break;
		default:
			enqueue(d, fr, size, release);
		}
		pos += size;
	}
done:
	if (pos) {
		memmove(d->in, d->in + pos, d->inlen - pos);
		d->inlen -= pos;
	}
	return rc;
}

/* Writes what is due. -1: the receiving side is gone. */
static int flush_dir(struct pair *p, int k, uint64_t now)
{
	struct dir *d = &p->d[k];
	int to = p->fd[1 - k];
	while (d->head && d->head->release_ms <= now) {
		if (d->stalled == 1)
			break;
		struct frame *f = d->head;
		ssize_t w = send(to, f->data + f->off, f->len - f->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			return -1;
		}
		f->off += (size_t)w;
		if (f->off < f->len)
			break;
		d->head = f->next;
		if (!d->head)
			d->tail = NULL;
		d->queued -= f->len;
		int hold = f->stall_after;
		free(f);
		if (hold && d->stalled) {
			d->stalled = 1;
			break;
		}
	}
	return 0;
}

static int listen_on(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 64))
		return -1;
	fcntl(s, F_SETFL, O_NONBLOCK);
	return s;
}

static struct sockaddr_in target;

static int connect_target(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&target, sizeof target)) {
		close(s);
		return -1;
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fcntl(s, F_SETFL, O_NONBLOCK);
	return s;
}

static void on_signal(int sig) { (void)sig; stop = 1; }

static void usage(void)
{
	fprintf(stderr, "usage: faultproxy -t HOST:PORT -c CONTROL [-p PORTFILE] [-s STATSFILE] [-l PORT] [-L SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *tgt = NULL, *portfile = NULL;
	int lport = 0, life = 600, c;
	while ((c = getopt(argc, argv, "t:c:p:s:l:L:")) != -1) {
		switch (c) {
		case 't': tgt = optarg; break;
		case 'c': ctlfile = optarg; break;
		case 'p': portfile = optarg; break;
		case 's': statsfile = optarg; break;
		case 'l': lport = atoi(optarg); break;
		case 'L': life = atoi(optarg); break;
		default: usage();
		}
	}
	if (!tgt || !ctlfile || life <= 0)
		usage();
	char host[128];
	const char *colon = strrchr(tgt, ':');
	if (!colon || (size_t)(colon - tgt) >= sizeof host)
		usage();
	memcpy(host, tgt, colon - tgt);
	host[colon - tgt] = 0;
	target.sin_family = AF_INET;
	target.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &target.sin_addr) != 1) {
		logf_("target must be an IPv4 address: %s", host);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	int ls = listen_on(lport);
	if (ls < 0) {
		logf_("cannot listen on 127.0.0.1:%d: %s", lport, strerror(errno));
		return 1;
	}
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	getsockname(ls, (struct sockaddr *)&a, &al);
	if (portfile) {
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) || rename(tmp, portfile)) {
			logf_("cannot write %s", portfile);
			return 1;
		}
	}
	logf_("127.0.0.1:%d -> %s, lifetime %d s", ntohs(a.sin_port), tgt, life);
	for (int i = 0; i < MAXPAIRS; i++)
		pairs[i].fd[0] = pairs[i].fd[1] = -1;
	read_control();
	write_stats();
	uint64_t end = now_ms() + (uint64_t)life * 1000, last_ctl = 0;
	struct pollfd pf[1 + 2 * MAXPAIRS];
	int who[1 + 2 * MAXPAIRS];
	while (!stop) {
		uint64_t now = now_ms();
		if (now >= end) {
			logf_("lifetime of %d s reached", life);
			break;
		}
		if (now - last_ctl >= 50) {
			read_control();
			last_ctl = now;
		}
		int n = 0, timeout = 50;
		pf[n] = (struct pollfd){.fd = ls, .events = POLLIN};
		who[n++] = -1;
		for (int i = 0; i < MAXPAIRS; i++) {
			struct pair *p = &pairs[i];
			if (!p->used)
				continue;
			for (int s = 0; s < 2; s++) {
				/* side s reads into d[s] and receives d[1-s] */
				short ev = 0;
				struct dir *in = &p->d[s], *out = &p->d[1 - s];
				if (in->queued < HIGHWATER && in->stalled == 0)
					ev |= POLLIN;
				if (out->head && out->stalled != 1) {
					if (out->head->release_ms <= now)
						ev |= POLLOUT;
					else if ((int)(out->head->release_ms - now) < timeout)
						timeout = (int)(out->head->release_ms - now);
				}
				pf[n] = (struct pollfd){.fd = p->fd[s], .events = ev};
				who[n++] = i * 2 + s;
			}
		}
		if (poll(pf, n, timeout) < 0 && errno != EINTR) {
			logf_("poll: %s", strerror(errno));
			return 1;
		}
		now = now_ms();
		if (pf[0].revents & POLLIN) {
			int cfd = accept(ls, NULL, NULL);
			if (cfd >= 0) {
				int slot = -1, sfd;
				for (int i = 0; i < MAXPAIRS; i++)
					if (!pairs[i].used) {
						slot = i;
						break;
					}
				if (mode == M_REFUSE) {
					counts[M_REFUSE]++;
					logf_("refuse: a new connection closed");
					close(cfd);
					write_stats();
				} else if (slot < 0 || (sfd = connect_target()) < 0) {
					logf_("cannot take a connection (%s)", slot < 0 ? "too many" : strerror(errno));
					close(cfd);
				} else {
					int one = 1;
					setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					fcntl(cfd, F_SETFL, O_NONBLOCK);
					struct pair *p = &pairs[slot];
					memset(p, 0, sizeof *p);
					p->used = 1;
					p->fd[0] = cfd;
					p->fd[1] = sfd;
					conns++;
					write_stats();
				}
			}
		}
		for (int j = 1; j < n; j++) {
			int i = who[j] / 2, s = who[j] % 2;
			struct pair *p = &pairs[i];
			if (!p->used)
				continue;
			if (pf[j].revents & (POLLIN | POLLHUP | POLLERR)) {
				struct dir *d = &p->d[s];
				if (d->incap - d->inlen < 65536) {
					size_t cap = d->incap ? d->incap * 2 : 131072;
					unsigned char *b = realloc(d->in, cap);
					if (!b) {
						logf_("out of memory");
						return 1;
					}
					d->in = b;
					d->incap = cap;
				}
				ssize_t r = recv(p->fd[s], d->in + d->inlen, d->incap - d->inlen, MSG_DONTWAIT);
				if (r > 0) {
					d->inlen += (size_t)r;
					if (d->stalled == 0 && frame_out(p, s) < 0) {
						/* truncate: the half frame goes out, then both sides close */
						flush_dir(p, s, UINT64_MAX);
						close_pair(p);
						write_stats();
						continue;
					}
				} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					/* one side closed: the other loses its peer too, as a router would not
					 * do, but neither 9P end half-closes, so this is what they expect */
					flush_dir(p, s, UINT64_MAX);
					close_pair(p);
					continue;
				}
			}
			if (p->used && (pf[j].revents & POLLOUT) && flush_dir(p, 1 - s, now) < 0) {
				close_pair(p);
				continue;
			}
		}
		/* a mode change lifted a stall: the held frames and buffered bytes go on */
		for (int i = 0; i < MAXPAIRS; i++)
			for (int s = 0; s < 2; s++) {
				struct pair *p = &pairs[i];
				if (p->used && p->d[s].stalled == 0 && p->d[s].inlen >= 7 && frame_out(p, s) < 0) {
					flush_dir(p, s, UINT64_MAX);
					close_pair(p);
				}
			}
	}
	for (int i = 0; i < MAXPAIRS; i++)
		if (pairs[i].used)
			close_pair(&pairs[i]);
	write_stats();
	summary();
	return 0;
}
