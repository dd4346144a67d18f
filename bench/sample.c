/* Times one sock_diag sample (sampler_sample) with N open loopback connections to port 25:
 * the dump and the counting the 5-second watch does. Run inside a private network namespace
 * (bench/sample does that). Prints the best and the median of 20 samples. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sampler.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000, one = 1, pipefd[2];
	struct rlimit rl;
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_port = htons(25) };

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if ((rlim_t)n + 64 > rl.rlim_cur) {
		fprintf(stderr, "bench/sample: open files limit %llu is too low for %d\n",
			(unsigned long long)rl.rlim_cur, n);
		return 1;
	}
	inet_pton(AF_INET, "127.0.0.1", &srv.sin_addr);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&srv, sizeof(srv)) < 0 || listen(l, 4096) < 0) {
		perror("listen");
		return 1;
	}
	if (pipe(pipefd) < 0)
		return 1;
	pid_t child = fork();
	if (child == 0) {
		/* The clients live in another process: the server side alone fills our table. */
		for (int i = 0; i < n; i++) {
			struct sockaddr_in src = { .sin_family = AF_INET };
			char a[32];
			snprintf(a, sizeof(a), "127.3.%d.%d", i / 250, i % 250 + 1);
			inet_pton(AF_INET, a, &src.sin_addr);
			int c = socket(AF_INET, SOCK_STREAM, 0);
			if (c < 0 || bind(c, (struct sockaddr *)&src, sizeof(src)) < 0 ||
			    connect(c, (struct sockaddr *)&srv, sizeof(srv)) < 0) {
				perror("client");
				_exit(1);
			}
		}
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	for (int i = 0; i < n; i++)
		if (accept(l, NULL, NULL) < 0) {
			perror("accept");
			return 1;
		}
	char x;
	if (read(pipefd[0], &x, 1) != 1)
		return 1;

	const uint16_t ports[] = { 25, 465, 587 };
	struct sampler *s;
	struct sample smp;
	double t[20];
	if (sampler_new(ports, 3, &s) < 0)
		return 1;
	for (int i = 0; i < 20; i++) {
		double t0 = now_ms();
		if (sampler_sample(s, &smp) < 0)
			return 1;
		t[i] = now_ms() - t0;
	}
	qsort(t, 20, sizeof(double), cmp);
	printf("one sample with %d connections: best %.1f ms, median %.1f ms (established %u, "
	       "distinct %u)\n",
	       n, t[0], t[10], smp.established, smp.distinct);
	sampler_free(s);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return smp.established >= (uint32_t)n ? 0 : 1;
}
