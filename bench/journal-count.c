/* journal-count: counts the entries of the local journal (system and runtime files, as
 * `journalctl` without --user reads them) that match any of the given FIELD=VALUE matches (all
 * entries without any), the way waveguard's journal source adds them (disjunctions):
 *	journal-count [-n N -w SECONDS] [MATCH...]
 * With -n it follows the journal (sd_journal_wait) until N entries have been seen or SECONDS
 * have passed, and exits 1 in the latter case. Prints the count. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	unsigned long long want = 0, n = 0;
	double secs = 0;
	sd_journal *j;
	int c, r;

	while ((c = getopt(argc, argv, "n:w:")) >= 0) {
		if (c == 'n')
			want = strtoull(optarg, NULL, 10);
		else if (c == 'w')
			secs = strtod(optarg, NULL);
		else {
			fprintf(stderr, "Usage: journal-count [-n N -w SECONDS] [MATCH...]\n");
			return 2;
		}
	}
	r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	if (r < 0) {
		fprintf(stderr, "journal-count: sd_journal_open: %s\n", strerror(-r));
		return 1;
	}
	for (int i = optind; i < argc; i++) {
		if ((i > optind && (r = sd_journal_add_disjunction(j)) < 0) ||
		    (r = sd_journal_add_match(j, argv[i], 0)) < 0) {
			fprintf(stderr, "journal-count: match '%s': %s\n", argv[i], strerror(-r));
			return 1;
		}
	}
	r = sd_journal_seek_head(j);
	uint64_t end = now_usec() + (uint64_t)(secs * 1e6);
	for (;;) {
		while (r >= 0 && (r = sd_journal_next(j)) > 0)
			n++;
		if (r < 0) {
			fprintf(stderr, "journal-count: %s\n", strerror(-r));
			return 1;
		}
		if (n >= want)
			break;
		uint64_t t = now_usec();
		if (t >= end) {
			printf("%llu\n", n);
			fprintf(stderr, "journal-count: %llu entries of %llu after %.1f s\n", n,
				want, secs);
			return 1;
		}
		r = sd_journal_wait(j, end - t);
	}
	sd_journal_close(j);
	printf("%llu\n", n);
	return 0;
}
