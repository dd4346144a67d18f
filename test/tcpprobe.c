/* Test helper: tries one TCP connection from a chosen source address (so that a test can be a
 * banned client on 127.0.1.2 and an innocent one on 127.0.1.3), or listens and accepts.
 *   tcpprobe connect SRC DST PORT TIMEOUT_MS   exit 0 connected, 1 no answer/refused, 2 error
 *   tcpprobe listen ADDR PORT                  accepts and closes connections until killed */
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

	if (argc == 4 && strcmp(argv[1], "listen") == 0) {
		int fam = fill(argv[2], atoi(argv[3]), &a, &al);
		int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, al) < 0 || listen(fd, 512) < 0) {
			perror("tcpprobe listen");
			return 2;
		}
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c >= 0)
				close(c);
		}
	}
	if (argc != 6 || strcmp(argv[1], "connect") != 0) {
		fprintf(stderr, "usage: tcpprobe connect SRC DST PORT TIMEOUT_MS | listen ADDR PORT\n");
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
