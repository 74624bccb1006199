/*
 * netdelay: a link delay and loss emulator for one network namespace, used by
 * scripts/netns/hosts because this kernel is built without sch_netem.
 *
 *   netdelay [-q QUEUE] [-d DELAY_US] [-l LOSS_PPM] [-m MAXLEN]
 *
 * An iptables rule in the namespace sends the packets of the link to NFQUEUE
 * QUEUE. netdelay binds that queue over nfnetlink, asks only for the packet
 * metadata (the id; the payload never crosses into user space), drops
 * LOSS_PPM per million at once and accepts each other packet DELAY_US after
 * it was queued. The delay is constant, so packets leave in the order they
 * came: one batch verdict for the newest due id releases every older one.
 * Packets still held when netdelay exits are dropped by the kernel, as a link
 * that goes away drops what is on the wire.
 *
 * Single-threaded: one poll loop owns the socket and the FIFO.
 * Exit status 0 on SIGTERM/SIGINT, 1 on a netlink error, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RECV_BUF (256 * 1024)
#define SOCK_BUF (16 * 1024 * 1024)     /* a burst of queued packets must not overflow the socket */

struct held {
	uint32_t id;
	int64_t due_ns;
};

static uint16_t queue;
static int64_t delay_ns;
static uint32_t loss_ppm;
static uint32_t maxlen = 16384;

static struct held *fifo;               /* ring of maxlen entries */
static uint32_t head, count;
static uint64_t rng;
static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* xorshift64*: loss only needs to be uniform, not unpredictable */
static uint32_t next_random(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ULL) >> 32);
}

struct msg {
	char buf[256];
	size_t len;
};

static void msg_start(struct msg *m, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)m->buf;
	struct nfgenmsg *g = (struct nfgenmsg *)(m->buf + NLMSG_HDRLEN);

	memset(m, 0, sizeof(*m));
	nh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
	nh->nlmsg_flags = NLM_F_REQUEST | flags;
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(queue);
	m->len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*g));
}

static void msg_put(struct msg *m, uint16_t type, const void *data, size_t n)
{
	struct nlattr *a = (struct nlattr *)(m->buf + m->len);

	a->nla_len = (uint16_t)(NLA_HDRLEN + n);
	a->nla_type = type;
	memcpy((char *)a + NLA_HDRLEN, data, n);
	m->len += NLA_ALIGN(a->nla_len);
}

static int msg_send(int fd, struct msg *m)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	((struct nlmsghdr *)m->buf)->nlmsg_len = (uint32_t)m->len;
	if (sendto(fd, m->buf, m->len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		perror("netdelay: sendto");
		return -1;
	}
	return 0;
}

/* Configuration messages ask for an ack so that, e.g., a queue bound by someone else fails loudly. */
static int configure(int fd, struct msg *m, const char *what)
{
	char buf[4096];
	ssize_t n;
	struct nlmsghdr *nh;
	struct nlmsgerr *err;

	if (msg_send(fd, m) < 0)
		return -1;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		perror("netdelay: recv ack");
		return -1;
	}
	nh = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(nh, (size_t)n) || nh->nlmsg_type != NLMSG_ERROR) {
		fprintf(stderr, "netdelay: %s: unexpected reply type %u\n", what, nh->nlmsg_type);
		return -1;
	}
	err = NLMSG_DATA(nh);
	if (err->error) {
		fprintf(stderr, "netdelay: %s: %s\n", what, strerror(-err->error));
		return -1;
	}
	return 0;
}

static int bind_queue(int fd)
{
	struct msg m;
	struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_BIND, .pf = htons(AF_INET) };
	struct nfqnl_msg_config_params params = { .copy_range = htonl(0), .copy_mode = NFQNL_COPY_META };
	uint32_t len = htonl(maxlen);
	/* GSO: with metadata only, a 64 KiB super-packet costs the same as one frame; do not segment */
	uint32_t flags = htonl(NFQA_CFG_F_GSO);

	msg_start(&m, NFQNL_MSG_CONFIG, NLM_F_ACK);
	msg_put(&m, NFQA_CFG_CMD, &cmd, sizeof(cmd));
	if (configure(fd, &m, "bind queue") < 0)
		return -1;
	msg_start(&m, NFQNL_MSG_CONFIG, NLM_F_ACK);
	msg_put(&m, NFQA_CFG_PARAMS, &params, sizeof(params));
	msg_put(&m, NFQA_CFG_QUEUE_MAXLEN, &len, sizeof(len));
	msg_put(&m, NFQA_CFG_FLAGS, &flags, sizeof(flags));
	msg_put(&m, NFQA_CFG_MASK, &flags, sizeof(flags));
	return configure(fd, &m, "configure queue");
}

static int verdict(int fd, uint16_t type, uint32_t id, uint32_t v)
{
	struct msg m;
	struct nfqnl_msg_verdict_hdr vh = { .verdict = htonl(v), .id = htonl(id) };

	msg_start(&m, type, 0);
	msg_put(&m, NFQA_VERDICT_HDR, &vh, sizeof(vh));
	return msg_send(fd, &m);
}

static int release_due(int fd, int64_t now)
{
	uint32_t last = 0;
	int any = 0;

	while (count && fifo[head].due_ns <= now) {
		last = fifo[head].id;
		any = 1;
		head = (head + 1) % maxlen;
		count--;
	}
	return any ? verdict(fd, NFQNL_MSG_VERDICT_BATCH, last, NF_ACCEPT) : 0;
}

static int on_packet(int fd, struct nlmsghdr *nh, int64_t now)
{
	int len = (int)(nh->nlmsg_len - NLMSG_SPACE(sizeof(struct nfgenmsg)));
	struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(nh) + NLMSG_ALIGN(sizeof(struct nfgenmsg)));

	for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
		struct nfqnl_msg_packet_hdr ph;
		uint32_t id;

		if ((a->nla_type & NLA_TYPE_MASK) != NFQA_PACKET_HDR)
			continue;
		memcpy(&ph, (char *)a + NLA_HDRLEN, sizeof(ph));
		id = ntohl(ph.packet_id);
		if (loss_ppm && next_random() % 1000000 < loss_ppm)
			return verdict(fd, NFQNL_MSG_VERDICT, id, NF_DROP);
		if (count == maxlen)    /* cannot happen while the kernel honours maxlen */
			return verdict(fd, NFQNL_MSG_VERDICT, id, NF_DROP);
		fifo[(head + count) % maxlen] = (struct held){ id, now + delay_ns };
		count++;
		return 0;
	}
	fprintf(stderr, "netdelay: packet message without NFQA_PACKET_HDR\n");
	return 0;
}

static int drain(int fd, char *buf)
{
	for (;;) {
		ssize_t n = recv(fd, buf, RECV_BUF, MSG_DONTWAIT);
		int64_t now = now_ns();
		struct nlmsghdr *nh;

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : (perror("netdelay: recv"), -1);
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) {
				if (on_packet(fd, nh, now) < 0)
					return -1;
			} else if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *err = NLMSG_DATA(nh);
				if (err->error) {
					fprintf(stderr, "netdelay: verdict rejected: %s\n", strerror(-err->error));
					return -1;
				}
			}
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: netdelay [-q QUEUE] [-d DELAY_US] [-l LOSS_PPM] [-m MAXLEN]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static char buf[RECV_BUF];
	int c, fd, one = 1, size = SOCK_BUF;
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	struct sigaction sa = { .sa_handler = on_signal };

	while ((c = getopt(argc, argv, "q:d:l:m:")) != -1) {
		switch (c) {
		case 'q': queue = (uint16_t)strtoul(optarg, NULL, 10); break;
		case 'd': delay_ns = strtoll(optarg, NULL, 10) * 1000; break;
		case 'l': loss_ppm = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'm': maxlen = (uint32_t)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (optind != argc || delay_ns < 0 || loss_ppm > 1000000 || maxlen == 0)
		usage();
	fifo = calloc(maxlen, sizeof(*fifo));
	if (!fifo)
		return 1;
	rng = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		perror("netdelay: netlink socket");
		return 1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	/* an overflow loses packet notices, not packets: the next batch verdict releases
	 * every older id, noticed or not, so the error report would only end the loop */
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	if (bind_queue(fd) < 0)
		return 1;

	while (!stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct timespec wait, *tp = NULL;

		if (count) {
			int64_t left = fifo[head].due_ns - now_ns();
			if (left < 0)
				left = 0;
			wait.tv_sec = left / 1000000000;
			wait.tv_nsec = left % 1000000000;
			tp = &wait;
		}
		if (ppoll(&p, 1, tp, NULL) < 0 && errno != EINTR) {
			perror("netdelay: ppoll");
			return 1;
		}
		if ((p.revents & POLLIN) && drain(fd, buf) < 0)
			return 1;
		if (release_due(fd, now_ns()) < 0)
			return 1;
	}
	return 0;
}
