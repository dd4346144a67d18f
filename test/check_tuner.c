/* tuner: synthetic sample sequences on an injected clock: each signal alone, straight to wave,
 * one level down per calm period, no flapping around a threshold, reasons, unknown MAXDAEMONS. */
#include <math.h>

#include "testutil.h"
#include "tuner.h"

#define S    (1000000ULL)
#define T0   (1000ULL * S)
#define STEP (5 * S)

struct run {
	struct tuner *t;
	uint64_t now;
	char reason[256];
	enum tuner_level level;
};

static void run_init(struct run *r, const struct tuner_params *p)
{
	struct tuner_params d;
	if (!p) {
		tuner_default_params(&d);
		p = &d;
	}
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(tuner_new(p, &r->t), 0);
	r->now = T0;
}

/* One sample STEP after the previous; returns tuner_feed()'s result. */
static int feed(struct run *r, uint32_t established, uint32_t max_daemons, uint32_t backlog,
		uint32_t bans, bool probe_failed, bool maxconn)
{
	struct tuner_input in = {
		.now_usec = r->now,
		.established = established,
		.max_daemons = max_daemons,
		.backlog = backlog,
		.new_bans = bans,
		.probe_failed = probe_failed,
		.maxconn_event = maxconn,
	};
	r->reason[0] = '\0';
	int k = tuner_feed(r->t, &in, &r->level, r->reason, sizeof(r->reason));
	r->now += STEP;
	return k;
}

/* Quiet samples (10/300, nothing else). */
static int quiet(struct run *r)
{
	return feed(r, 10, 300, 0, 0, false, false);
}

START_TEST(test_level_names)
{
	ck_assert_str_eq(tuner_level_to_string(TUNER_NORMAL), "normal");
	ck_assert_str_eq(tuner_level_to_string(TUNER_ELEVATED), "elevated");
	ck_assert_str_eq(tuner_level_to_string(TUNER_WAVE), "wave");
	ck_assert_ptr_null(tuner_level_to_string(_TUNER_LEVEL_MAX));
	ck_assert_ptr_null(tuner_level_to_string((enum tuner_level)99));
}
END_TEST

START_TEST(test_defaults_and_params)
{
	struct tuner_params p;
	tuner_default_params(&p);
	ck_assert_int_eq(tuner_params_check(&p), 0);
	ck_assert(p.elevated_fraction < p.wave_fraction);
	ck_assert(p.calm_fraction < p.elevated_fraction);
	ck_assert_uint_gt(p.calm_usec, 60 * S); /* longer than Courier's once-a-minute alert */

	struct tuner *t = NULL;
	struct tuner_params bad = p;
	bad.elevated_fraction = 0.9; /* above wave */
	ck_assert_int_eq(tuner_new(&bad, &t), -EINVAL);
	bad = p;
	bad.calm_fraction = 0.3; /* above elevated */
	ck_assert_int_eq(tuner_new(&bad, &t), -EINVAL);
	bad = p;
	bad.calm_fraction = 0;
	ck_assert_int_eq(tuner_new(&bad, &t), -EINVAL);
	bad = p;
	bad.wave_fraction = NAN;
	ck_assert_int_eq(tuner_new(&bad, &t), -EINVAL);
	bad = p;
	bad.elevated_backlog = 30;
	ck_assert_int_eq(tuner_new(&bad, &t), -EINVAL);
	bad = p;
	bad.elevated_bans = 100;
	ck_assert_int_eq(tuner_new(&bad, &t), -EINVAL);
	bad = p;
	bad.calm_usec = 0;
	ck_assert_int_eq(tuner_new(&bad, &t), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(tuner_new(NULL, &t), -EINVAL);

	/* a signal switched off (0) is fine, and so is a tuner with fractions off entirely */
	bad = p;
	bad.elevated_fraction = bad.wave_fraction = bad.calm_fraction = 0;
	bad.elevated_bans = 0;
	ck_assert_int_eq(tuner_new(&bad, &t), 0);
	ck_assert_int_eq(tuner_level(t), TUNER_NORMAL);
	t = tuner_free(t);
	ck_assert_ptr_null(tuner_free(NULL));
}
END_TEST

START_TEST(test_up_fraction)
{
	struct run r;
	run_init(&r, NULL);
	ck_assert_int_eq(quiet(&r), 0);
	ck_assert_int_eq(r.level, TUNER_NORMAL);
	ck_assert_int_eq(feed(&r, 74, 300, 0, 0, false, false), 0);
	ck_assert_int_eq(feed(&r, 75, 300, 0, 0, false, false), 1);
	ck_assert_int_eq(r.level, TUNER_ELEVATED);
	ck_assert_str_eq(r.reason, "elevated: 75/300 connections");
	ck_assert_int_eq(feed(&r, 149, 300, 0, 0, false, false), 0);
	ck_assert_int_eq(feed(&r, 150, 300, 0, 0, false, false), 1);
	ck_assert_int_eq(r.level, TUNER_WAVE);
	ck_assert_str_eq(r.reason, "wave: 150/300 connections");
	ck_assert_int_eq(tuner_level(r.t), TUNER_WAVE);
	tuner_free(r.t);
}
END_TEST

START_TEST(test_up_backlog)
{
	struct run r;
	run_init(&r, NULL);
	ck_assert_int_eq(feed(&r, 10, 300, 4, 0, false, false), 0);
	ck_assert_int_eq(feed(&r, 10, 300, 5, 0, false, false), 1);
	ck_assert_int_eq(r.level, TUNER_ELEVATED);
	ck_assert_str_eq(r.reason, "elevated: backlog 5 (10/300 connections)");
	ck_assert_int_eq(feed(&r, 10, 300, 20, 0, false, false), 1);
	ck_assert_int_eq(r.level, TUNER_WAVE);
	ck_assert_str_eq(r.reason, "wave: backlog 20 (10/300 connections)");
	tuner_free(r.t);
}
END_TEST

START_TEST(test_up_ban_rate)
{
	struct run r;
	run_init(&r, NULL);
	/* 9 bans, one per sample: one short of the elevated 10 per minute */
	for (int i = 0; i < 9; i++)
		ck_assert_int_eq(feed(&r, 10, 300, 0, 1, false, false), 0);
	ck_assert_uint_eq(tuner_ban_rate(r.t), 9);
	ck_assert_int_eq(feed(&r, 10, 300, 0, 1, false, false), 1);
	ck_assert_int_eq(r.level, TUNER_ELEVATED);
	ck_assert_str_eq(r.reason, "elevated: 10 bans in the last minute (10/300 connections)");
	tuner_free(r.t);

	/* the window slides: 9 bans a minute forever never reach 10 */
	run_init(&r, NULL);
	for (int i = 0; i < 200; i++) {
		uint32_t bans = i % 12 == 0 ? 9 : 0; /* 9 bans once a minute (12 samples) */
		ck_assert_int_eq(feed(&r, 10, 300, 0, bans, false, false), 0);
		ck_assert_uint_le(tuner_ban_rate(r.t), 9);
	}
	ck_assert_int_eq(r.level, TUNER_NORMAL);
	/* 9 of them are still in the minute: 51 more make the 60 of a wave */
	ck_assert_uint_eq(tuner_ban_rate(r.t), 9);
	ck_assert_int_eq(feed(&r, 10, 300, 0, 51, false, false), 1);
	ck_assert_int_eq(r.level, TUNER_WAVE);
	ck_assert_str_eq(r.reason, "wave: 60 bans in the last minute (10/300 connections)");
	tuner_free(r.t);

	/* many samples within a minute (more than the ring holds) still count every ban */
	run_init(&r, NULL);
	struct tuner_input in = { .established = 1, .max_daemons = 300, .new_bans = 1 };
	enum tuner_level l;
	int changes = 0;
	for (int i = 0; i < 100; i++) {
		in.now_usec = T0 + (uint64_t)i * 100000;
		int k = tuner_feed(r.t, &in, &l, NULL, 0);
		ck_assert_int_ge(k, 0);
		if (i == 9 || i == 59)
			ck_assert_int_eq(k, 1);
		changes += k;
	}
	ck_assert_uint_eq(tuner_ban_rate(r.t), 100);
	ck_assert_int_eq(l, TUNER_WAVE);
	ck_assert_int_eq(changes, 2);
	/* and a minute later they are gone */
	in.now_usec += 61 * S;
	in.new_bans = 0;
	ck_assert_int_eq(tuner_feed(r.t, &in, &l, NULL, 0), 0);
	ck_assert_uint_eq(tuner_ban_rate(r.t), 0);
	tuner_free(r.t);
}
END_TEST

START_TEST(test_up_probe_failures)
{
	struct run r;
	run_init(&r, NULL);
	/* two failures, a success, two failures: never three in a row */
	ck_assert_int_eq(feed(&r, 10, 300, 0, 0, true, false), 0);
	ck_assert_int_eq(feed(&r, 10, 300, 0, 0, true, false), 0);
	ck_assert_int_eq(feed(&r, 10, 300, 0, 0, false, false), 0);
	ck_assert_int_eq(feed(&r, 10, 300, 0, 0, true, false), 0);
	ck_assert_int_eq(feed(&r, 10, 300, 0, 0, true, false), 0);
	ck_assert_int_eq(r.level, TUNER_NORMAL);
	ck_assert_int_eq(feed(&r, 10, 300, 0, 0, true, false), 1);
	ck_assert_int_eq(r.level, TUNER_WAVE);
	ck_assert_str_eq(r.reason, "wave: 3 failed probes in a row (10/300 connections)");
	tuner_free(r.t);
}
END_TEST

START_TEST(test_up_maxconn)
{
	struct run r;
	run_init(&r, NULL);
	ck_assert_int_eq(quiet(&r), 0);
	ck_assert_int_eq(feed(&r, 3, 300, 0, 0, false, true), 1);
	ck_assert_int_eq(r.level, TUNER_WAVE);
	ck_assert_str_eq(r.reason,
			 "wave: Courier reported maximum active connections (3/300 connections)");
	tuner_free(r.t);
}
END_TEST

START_TEST(test_straight_to_wave)
{
	struct run r;
	run_init(&r, NULL);
	ck_assert_int_eq(quiet(&r), 0);
	/* the example: both signals at wave level, one change, both named */
	ck_assert_int_eq(feed(&r, 287, 300, 41, 0, false, false), 1);
	ck_assert_int_eq(r.level, TUNER_WAVE);
	ck_assert_str_eq(r.reason, "wave: 287/300 connections, backlog 41");
	ck_assert_int_eq(feed(&r, 300, 300, 80, 0, false, true), 0);
	ck_assert_int_eq(r.level, TUNER_WAVE);
	tuner_free(r.t);
}
END_TEST

/* Replays the article's counts (5 s apart, MAXDAEMONS 300): elevated and wave long before 300. */
START_TEST(test_article_wave)
{
	static const uint32_t counts[] = { 4,	5,   5,	  7,   13,  9,	 8,   50,
					   88,	101, 120, 129, 135, 145, 150, 163,
					   167, 175, 180, 183, 190, 202, 204 };
	struct run r;
	run_init(&r, NULL);
	int up_elevated = -1, up_wave = -1;
	for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
		int k = feed(&r, counts[i], 300, 0, 0, false, false);
		ck_assert_int_ge(k, 0);
		if (k == 1 && r.level == TUNER_ELEVATED)
			up_elevated = (int)i;
		if (k == 1 && r.level == TUNER_WAVE)
			up_wave = (int)i;
	}
	ck_assert_int_eq(up_elevated, 8); /* 88 connections, 10 s into the wave */
	ck_assert_int_eq(up_wave, 14);	  /* 150 connections */
	tuner_free(r.t);
}
END_TEST

START_TEST(test_hysteresis_down)
{
	struct tuner_params p;
	tuner_default_params(&p);
	p.calm_usec = 60 * S;
	struct run r;
	run_init(&r, &p);
	ck_assert_int_eq(feed(&r, 290, 300, 30, 0, false, false), 1);
	ck_assert_int_eq(r.level, TUNER_WAVE);

	/* calm from now on: the first calm sample starts the period; 12 samples = 60 s */
	uint64_t calm_start = r.now;
	int k;
	while ((k = feed(&r, 40, 300, 0, 0, false, false)) == 0)
		ck_assert_int_eq(r.level, TUNER_WAVE);
	ck_assert_int_eq(k, 1);
	ck_assert_int_eq(r.level, TUNER_ELEVATED); /* one level, not two */
	ck_assert_uint_eq(r.now - STEP - calm_start, 60 * S);
	ck_assert_str_eq(r.reason, "elevated: calm for 60 s (40/300 connections, backlog 0)");

	/* the next step needs a whole period of its own */
	uint64_t step_at = r.now - STEP;
	while ((k = feed(&r, 40, 300, 0, 0, false, false)) == 0)
		ck_assert_int_eq(r.level, TUNER_ELEVATED);
	ck_assert_int_eq(r.level, TUNER_NORMAL);
	ck_assert_uint_eq(r.now - STEP - step_at, 60 * S);
	ck_assert_str_eq(r.reason, "normal: calm for 60 s (40/300 connections, backlog 0)");

	/* stays normal */
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(quiet(&r), 0);
	ck_assert_int_eq(r.level, TUNER_NORMAL);
	tuner_free(r.t);
}
END_TEST

START_TEST(test_calm_interrupted)
{
	struct tuner_params p;
	tuner_default_params(&p);
	p.calm_usec = 60 * S;
	struct run r;
	run_init(&r, &p);
	ck_assert_int_eq(feed(&r, 10, 300, 0, 0, false, true), 1);
	ck_assert_int_eq(r.level, TUNER_WAVE);
	/* 55 s of calm, then one noisy sample of each kind restarts the period */
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 11; i++)
			ck_assert_int_eq(quiet(&r), 0);
		switch (round) {
		case 0: /* between calm (45) and elevated (75) */
			ck_assert_int_eq(feed(&r, 60, 300, 0, 0, false, false), 0);
			break;
		case 1: /* a backlog of 3 (more than half the elevated 5) */
			ck_assert_int_eq(feed(&r, 10, 300, 3, 0, false, false), 0);
			break;
		case 2: /* one failed probe */
			ck_assert_int_eq(feed(&r, 10, 300, 0, 0, true, false), 0);
			break;
		case 3: /* the maximum-connections alert again */
			ck_assert_int_eq(feed(&r, 10, 300, 0, 0, false, true), 0);
			break;
		case 4: /* 6 bans in the minute (more than half the elevated 10) */
			ck_assert_int_eq(feed(&r, 10, 300, 0, 6, false, false), 0);
			break;
		}
		ck_assert_int_eq(r.level, TUNER_WAVE);
	}
	/* after the bans have left the minute and a full calm period: down */
	int k, n = 0;
	while ((k = quiet(&r)) == 0)
		n++;
	ck_assert_int_eq(r.level, TUNER_ELEVATED);
	ck_assert_int_ge(n, 12);
	tuner_free(r.t);
}
END_TEST

START_TEST(test_no_flapping)
{
	struct tuner_params p;
	tuner_default_params(&p);
	p.elevated_fraction = 0.50;
	p.wave_fraction = 0.90;
	p.calm_fraction = 0.30;
	p.calm_usec = 60 * S;
	struct run r;
	run_init(&r, &p);
	int changes = 0;
	/* 49%, 51%, 49%, 51%, ... for an hour */
	for (int i = 0; i < 720; i++) {
		int k = feed(&r, i % 2 ? 51 : 49, 100, 0, 0, false, false);
		ck_assert_int_ge(k, 0);
		changes += k;
		if (i >= 1)
			ck_assert_int_eq(r.level, TUNER_ELEVATED);
	}
	ck_assert_int_eq(changes, 1);
	/* just under the threshold for good (49% is not calm: above 30%): still no change */
	for (int i = 0; i < 720; i++)
		ck_assert_int_eq(feed(&r, 49, 100, 0, 0, false, false), 0);
	ck_assert_int_eq(r.level, TUNER_ELEVATED);
	/* oscillating around the calm threshold: 29%, 31%, ... never a full calm minute */
	for (int i = 0; i < 720; i++)
		ck_assert_int_eq(feed(&r, i % 2 ? 31 : 29, 100, 0, 0, false, false), 0);
	/* really calm: one change down */
	changes = 0;
	for (int i = 0; i < 720; i++)
		changes += feed(&r, 29, 100, 0, 0, false, false);
	ck_assert_int_eq(changes, 1);
	ck_assert_int_eq(r.level, TUNER_NORMAL);
	tuner_free(r.t);
}
END_TEST

START_TEST(test_max_daemons_unknown)
{
	struct run r;
	run_init(&r, NULL);
	/* a huge count with an unknown limit: the fraction signal is off */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(feed(&r, 5000, 0, 0, 0, false, false), 0);
	ck_assert_int_eq(r.level, TUNER_NORMAL);
	/* other signals still work, and the reason says the limit is unknown */
	ck_assert_int_eq(feed(&r, 5000, 0, 25, 0, false, false), 1);
	ck_assert_int_eq(r.level, TUNER_WAVE);
	ck_assert_str_eq(r.reason, "wave: backlog 25 (5000 connections (limit unknown))");
	/* and calm does not depend on the count either */
	struct tuner_params p;
	tuner_default_params(&p);
	int k, n = 0;
	while ((k = feed(&r, 5000, 0, 0, 0, false, false)) == 0)
		n++;
	ck_assert_int_eq(r.level, TUNER_ELEVATED);
	ck_assert_uint_eq((uint64_t)n * STEP, p.calm_usec);
	ck_assert_str_eq(r.reason,
			 "elevated: calm for 300 s (5000 connections (limit unknown), backlog 0)");
	tuner_free(r.t);
}
END_TEST

START_TEST(test_bad_input)
{
	struct run r;
	run_init(&r, NULL);
	enum tuner_level l = TUNER_WAVE;
	struct tuner_input in = { .now_usec = T0, .established = 1, .max_daemons = 300 };
	ck_assert_int_eq(tuner_feed(r.t, NULL, &l, NULL, 0), -EINVAL);
	ck_assert_int_eq(tuner_feed(NULL, &in, &l, NULL, 0), -EINVAL);
	ck_assert_int_eq(tuner_feed(r.t, &in, &l, NULL, 10), -EINVAL);
	ck_assert_int_eq(l, TUNER_WAVE); /* untouched on failure */
	ck_assert_int_eq(tuner_feed(r.t, &in, &l, NULL, 0), 0);
	ck_assert_int_eq(l, TUNER_NORMAL);
	/* time going backwards is refused and changes nothing */
	in.now_usec = T0 - 1;
	in.maxconn_event = true;
	ck_assert_int_eq(tuner_feed(r.t, &in, &l, NULL, 0), -EINVAL);
	ck_assert_int_eq(tuner_level(r.t), TUNER_NORMAL);
	/* same time is fine */
	in.now_usec = T0;
	ck_assert_int_eq(tuner_feed(r.t, &in, NULL, NULL, 0), 1);
	ck_assert_int_eq(tuner_level(r.t), TUNER_WAVE);
	tuner_free(r.t);
}
END_TEST

START_TEST(test_reason_truncated)
{
	struct run r;
	run_init(&r, NULL);
	struct tuner_input in = {
		.now_usec = T0, .established = 287, .max_daemons = 300, .backlog = 41
	};
	char small[8];
	memset(small, 'x', sizeof(small));
	enum tuner_level l;
	ck_assert_int_eq(tuner_feed(r.t, &in, &l, small, sizeof(small)), 1);
	ck_assert_str_eq(small, "wave: 2");
	tuner_free(r.t);
}
END_TEST

static Suite *tuner_suite(void)
{
	Suite *s = suite_create("tuner");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_level_names);
	tcase_add_test(tc, test_defaults_and_params);
	tcase_add_test(tc, test_up_fraction);
	tcase_add_test(tc, test_up_backlog);
	tcase_add_test(tc, test_up_ban_rate);
	tcase_add_test(tc, test_up_probe_failures);
	tcase_add_test(tc, test_up_maxconn);
	tcase_add_test(tc, test_straight_to_wave);
	tcase_add_test(tc, test_article_wave);
	tcase_add_test(tc, test_hysteresis_down);
	tcase_add_test(tc, test_calm_interrupted);
	tcase_add_test(tc, test_no_flapping);
	tcase_add_test(tc, test_max_daemons_unknown);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_reason_truncated);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(tuner_suite());
}
