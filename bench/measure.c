/* measure: runs a command and prints its wall time in
 * microseconds, its peak resident set size in KiB (wait4's ru_maxrss: the largest of the command
 * and the children it waited for, e.g. the stages of `sh -c 'a | b'`), its exit status and its
 * CPU time, user + system, in microseconds (its own and that of the children it waited for):
 *	measure [-o STDOUT_FILE] [-e STDERR_FILE] [--] COMMAND [ARGS...]
 * prints "USEC KIB STATUS CPU_USEC" (STATUS: the exit code, or 128+signal). The command's standard
 * output goes to STDOUT_FILE (default /dev/null), so that only the result line is on ours. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t tv_usec(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

static int redirect(const char *path, int target)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || dup2(fd, target) < 0)
		return -1;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *out = "/dev/null", *err = NULL;
	int c;

	while ((c = getopt(argc, argv, "+o:e:")) >= 0) {
		if (c == 'o')
			out = optarg;
		else if (c == 'e')
			err = optarg;
		else
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "Usage: measure [-o FILE] [-e FILE] [--] COMMAND [ARGS...]\n");
		return 2;
	}

	uint64_t t0 = now_usec();
	pid_t pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 1;
	}
	if (pid == 0) {
		if (redirect(out, STDOUT_FILENO) < 0 || (err && redirect(err, STDERR_FILENO) < 0)) {
			perror("measure: redirect");
			_exit(126);
		}
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "measure: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}

	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("measure: wait4");
			return 1;
		}
	uint64_t t1 = now_usec();
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	printf("%llu %ld %d %llu\n", (unsigned long long)(t1 - t0), ru.ru_maxrss, code,
	       (unsigned long long)(tv_usec(ru.ru_utime) + tv_usec(ru.ru_stime)));
	return 0;
}
