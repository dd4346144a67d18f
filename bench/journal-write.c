/* journal-write: sends syslog lines to the local journal as native entries, as fast as journald
 * takes them (one sd_journal_sendv() each, on journald's blocking datagram socket):
 *	journal-write [FILE]		(default: standard input)
 * Each line "STAMP HOST TAG[PID]: MESSAGE" (bench/gen.c's format) becomes MESSAGE=,
 * SYSLOG_IDENTIFIER=TAG, SYSLOG_PID=PID (when there is one), PRIORITY=6, SYSLOG_FACILITY=2 (mail);
 * the stamp and the host are dropped: the journal's own receive time is the entry's time. A line
 * not in that format is an error. Prints the number of entries sent on standard output.
 * sd_journal_sendv() reports success while journald's socket does not exist (ENOENT is ignored on
 * purpose): the caller checks that every entry arrived. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>

static int send_entry(struct iovec *iov, int n)
{
	for (int tries = 0;; tries++) {
		int r = sd_journal_sendv(iov, n);
		if (r >= 0)
			return 0;
		/* A full socket queue is waited out (1 ms, up to 10 s); anything else fails. */
		if ((r != -EAGAIN && r != -ENOBUFS) || tries >= 10000)
			return r;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
}

int main(int argc, char **argv)
{
	FILE *in = stdin;
	char *line = NULL, *msgbuf = NULL, *tagbuf = NULL, *pidbuf = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long long n = 0, lineno = 0;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1])) {
		fprintf(stderr, "Usage: journal-write [FILE]\n");
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "-") != 0 && !(in = fopen(argv[1], "re"))) {
		fprintf(stderr, "journal-write: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while ((len = getline(&line, &cap, in)) > 0) {
		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		/* STAMP HOST TAG[PID]: MESSAGE */
		char *p = strchr(line, ' ');
		char *tag = p ? strchr(p + 1, ' ') : NULL;
		char *colon = tag ? strstr(tag + 1, ": ") : NULL;
		if (!colon || colon == tag + 1) {
			fprintf(stderr,
				"journal-write: line %llu: not \"STAMP HOST TAG: MESSAGE\"\n",
				lineno);
			return 1;
		}
		tag++;
		*colon = '\0';
		char *msg = colon + 2, *pid = NULL;
		char *br = strchr(tag, '[');
		if (br && colon[-1] == ']') {
			*br = '\0';
			colon[-1] = '\0';
			pid = br + 1;
		}
		struct iovec iov[5];
		int k = 0;
		free(msgbuf);
		free(tagbuf);
		free(pidbuf);
		msgbuf = tagbuf = pidbuf = NULL;
		if (asprintf(&msgbuf, "MESSAGE=%s", msg) < 0 ||
		    asprintf(&tagbuf, "SYSLOG_IDENTIFIER=%s", tag) < 0 ||
		    (pid && asprintf(&pidbuf, "SYSLOG_PID=%s", pid) < 0)) {
			fprintf(stderr, "journal-write: out of memory\n");
			return 1;
		}
		iov[k++] = (struct iovec){ msgbuf, strlen(msgbuf) };
		iov[k++] = (struct iovec){ tagbuf, strlen(tagbuf) };
		if (pidbuf)
			iov[k++] = (struct iovec){ pidbuf, strlen(pidbuf) };
		iov[k++] = (struct iovec){ (char *)"PRIORITY=6", strlen("PRIORITY=6") };
		iov[k++] =
			(struct iovec){ (char *)"SYSLOG_FACILITY=2", strlen("SYSLOG_FACILITY=2") };
		int r = send_entry(iov, k);
		if (r < 0) {
			fprintf(stderr, "journal-write: line %llu: sd_journal_sendv: %s\n", lineno,
				strerror(-r));
			return 1;
		}
		n++;
	}
	if (ferror(in)) {
		fprintf(stderr, "journal-write: read error: %s\n", strerror(errno));
		return 1;
	}
	printf("%llu\n", n);
	return 0;
}
