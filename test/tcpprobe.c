/* Test helper: tries one TCP connection from a chosen source address (so that a test can be a
 * banned client on 127.0.1.2 and an innocent one on 127.0.1.3), listens like a mail server, or
 * holds many connections open like a spam wave.
 *   tcpprobe connect SRC DST PORT TIMEOUT_MS   exit 0 connected, 1 no answer/refused, 2 error
 *   tcpprobe listen ADDR PORT [BANNER]         accepts, sends BANNER\r\n if given, keeps each
 *                                              connection until its client closes
 *   tcpprobe hold SRC N DST PORT               opens N connections from SRC and keeps them;
 *                                              SRC "many" means 127.2.x.y, one per connection
 * listen and hold run until killed; hold prints "held N" once all are connected. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fill(const char *text, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return AF_INET6;
	}
	fprintf(stderr, "tcpprobe: bad address %s\n", text);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage a, b;
	socklen_t al, bl;
	int one = 1;

	if ((argc == 4 || argc == 5) && strcmp(argv[1], "listen") == 0) {
		static struct pollfd p[4096];
		size_t n = 1;
		int fam = fill(argv[2], atoi(argv[3]), &a, &al);
		int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, al) < 0 || listen(fd, 512) < 0) {
			perror("tcpprobe listen");
			return 2;
		}
		p[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
		for (;;) {
			if (poll(p, n, -1) < 0)
				continue;
			for (size_t i = n; i-- > 1;) {
				char buf[512];
				if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				if (read(p[i].fd, buf, sizeof(buf)) > 0)
					continue;
				close(p[i].fd);
				p[i] = p[--n];
			}
			if (p[0].revents & POLLIN) {
				int c = accept(fd, NULL, NULL);
				if (c < 0)
					continue;
				if (argc == 5) {
					char banner[600];
					int len =
						snprintf(banner, sizeof(banner), "%s\r\n", argv[4]);
					if (write(c, banner, (size_t)len) < 0)
						perror("tcpprobe banner");
				}
				if (n < sizeof(p) / sizeof(p[0]))
					p[n++] = (struct pollfd){ .fd = c, .events = POLLIN };
				else
					close(c);
			}
		}
	}
	if (argc == 6 && strcmp(argv[1], "hold") == 0) {
		int count = atoi(argv[3]);
		fill(argv[4], atoi(argv[5]), &b, &bl);
		for (int i = 0; i < count; i++) {
			char src[64];
			if (strcmp(argv[2], "many") == 0)
				snprintf(src, sizeof(src), "127.2.%d.%d", i / 250, i % 250 + 1);
			else
				snprintf(src, sizeof(src), "%s", argv[2]);
			int fam = fill(src, 0, &a, &al);
			int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0 || bind(fd, (struct sockaddr *)&a, al) < 0 ||
			    connect(fd, (struct sockaddr *)&b, bl) < 0) {
				perror("tcpprobe hold");
				return 2;
			}
		}
		printf("held %d\n", count);
		fflush(stdout);
		for (;;)
			pause();
	}
	if (argc != 6 || strcmp(argv[1], "connect") != 0) {
		fprintf(stderr,
			"usage: tcpprobe connect SRC DST PORT TIMEOUT_MS | listen ADDR PORT\n");
		return 2;
	}
	int fam = fill(argv[2], 0, &a, &al);
	fill(argv[3], atoi(argv[4]), &b, &bl);
	int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, al) < 0) {
		perror("tcpprobe bind");
		return 2;
	}
	if (connect(fd, (struct sockaddr *)&b, bl) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return 1;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, atoi(argv[5])) != 1)
		return 1;
	int err = 0;
	socklen_t el = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	return err == 0 ? 0 : 1;
}
