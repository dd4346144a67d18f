/* reaper: the decision over a connection's facts as the kernel gives them (tcp_info), at every
 * boundary; what a slow legitimate sender, a client behind a slow or lossy network and an idle
 * holder look like at each step of a session; the shorter silence when the server is nearly
 * full; the per-pass batch under its cap. Pure: no socket, no clock. */
#include "reaper.h"
#include "testutil.h"

static const struct reaper_params P = {
	.idle_ms = 8000,
	.idle_full_ms = 3000,
	.full_fraction = 0.75,
	.greeting_bytes = 64,
};

/* A client that got a 40-byte banner, acknowledged it, sent `sent` bytes and has been silent
 * for silence_ms since its own last data and the server's last reply. */
static struct sampler_conn conn(uint64_t sent, uint32_t silence_ms)
{
	return (struct sampler_conn){
		.family = AF_INET,
		.local_port = 25,
		.has_info = true,
		.has_bytes = true,
		.bytes_received = sent,
		.bytes_acked = 40,
		.last_data_recv_ms = silence_ms,
		.last_data_sent_ms = silence_ms,
	};
}

static enum reaper_verdict judge(const struct sampler_conn *c)
{
	return reaper_judge(&P, P.idle_ms, c);
}

START_TEST(test_idle_holder)
{
	struct sampler_conn c = conn(0, 8000);
	ck_assert_int_eq(judge(&c), REAPER_REAP);
	c = conn(0, 7999);
	ck_assert_int_eq(judge(&c), REAPER_KEEP_RECENT);
	/* A holder that said EHLO and then nothing: still a holder, up to greeting_bytes. */
	c = conn(64, 60000);
	ck_assert_int_eq(judge(&c), REAPER_REAP);
	c = conn(65, 60000);
	ck_assert_int_eq(judge(&c), REAPER_KEEP_TALKED);
	/* idle 0 reaps nothing. */
	c = conn(0, 60000);
	ck_assert_int_eq(reaper_judge(&P, 0, &c), REAPER_KEEP_RECENT);
}
END_TEST

/* The silence is the client's turn: since the server last spoke, even when the client's own
 * last data is older (the server answered its EHLO 3 s ago: its turn has lasted 3 s). */
START_TEST(test_silence_is_the_clients_turn)
{
	struct sampler_conn c = conn(30, 0);
	c.last_data_recv_ms = 20000;
	c.last_data_sent_ms = 3000;
	ck_assert_uint_eq(reaper_silence_ms(&c), 3000);
	ck_assert_int_eq(judge(&c), REAPER_KEEP_RECENT);
	/* And the other way round: the server spoke long ago, the client 2 s ago. */
	c.last_data_recv_ms = 2000;
	c.last_data_sent_ms = 20000;
	ck_assert_uint_eq(reaper_silence_ms(&c), 2000);
	ck_assert_int_eq(judge(&c), REAPER_KEEP_RECENT);
}
END_TEST

/* A slow legitimate sender at each of its pauses: before its EHLO, after it, inside DATA (longer
 * than idle there): never reaped unless it stays silent after the greeting for idle. */
START_TEST(test_slow_sender)
{
	static const struct {
		uint64_t sent;
		uint32_t silence_ms;
		enum reaper_verdict want;
	} steps[] = {
		{ 0, 3000, REAPER_KEEP_RECENT },   /* 3 s before EHLO */
		{ 36, 3000, REAPER_KEEP_RECENT },  /* 3 s after EHLO's reply */
		{ 69, 3000, REAPER_KEEP_TALKED },  /* after MAIL FROM */
		{ 96, 9000, REAPER_KEEP_TALKED },  /* after RCPT TO, longer than idle */
		{ 158, 9000, REAPER_KEEP_TALKED }, /* inside DATA, longer than idle */
		{ 158, 600000, REAPER_KEEP_TALKED },
	};
	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		struct sampler_conn c = conn(steps[i].sent, steps[i].silence_ms);
		ck_assert_msg(judge(&c) == steps[i].want, "step %zu: %s, want %s", i,
			      reaper_verdict_to_string(judge(&c)),
			      reaper_verdict_to_string(steps[i].want));
		/* Nor when the server is full. */
		ck_assert_int_eq(reaper_judge(&P, P.idle_full_ms, &c) == REAPER_REAP,
				 steps[i].silence_ms >= P.idle_full_ms && steps[i].sent <= 64);
	}
}
END_TEST

/* A slow or lossy path: a banner not yet acknowledged (lost, or still on its way) never counts
 * against the client, however long ago it was first sent; nor does a client still waiting in the
 * listen queue (the server has said nothing). */
START_TEST(test_slow_network)
{
	struct sampler_conn c = conn(0, 30000);
	c.unacked = 1;
	ck_assert_int_eq(judge(&c), REAPER_KEEP_UNHEARD);
	ck_assert_int_eq(reaper_judge(&P, P.idle_full_ms, &c), REAPER_KEEP_UNHEARD);
	c = conn(0, 30000);
	c.bytes_acked = 0;
	ck_assert_int_eq(judge(&c), REAPER_KEEP_NOT_GREETED);
	/* The banner's ACK just arrived with the client's EHLO (they travel together): the
	 * server's reply to it is recent. */
	c = conn(36, 100);
	c.last_data_sent_ms = 100;
	ck_assert_int_eq(judge(&c), REAPER_KEEP_RECENT);
}
END_TEST

/* Without tcp_info, or without its byte counters (Linux before 4.1), nothing is judged. */
START_TEST(test_no_info)
{
	struct sampler_conn c = conn(0, 60000);
	c.has_bytes = false;
	ck_assert_int_eq(judge(&c), REAPER_KEEP_NO_INFO);
	c.has_info = false;
	ck_assert_int_eq(judge(&c), REAPER_KEEP_NO_INFO);
	ck_assert_uint_eq(reaper_silence_ms(&c), 0);
}
END_TEST

START_TEST(test_idle_full)
{
	ck_assert_uint_eq(reaper_idle(&P, 0, 30), 8000);
	ck_assert_uint_eq(reaper_idle(&P, 22, 30), 8000);
	ck_assert_uint_eq(reaper_idle(&P, 23, 30), 3000); /* 22.5 = 75% of 30 */
	ck_assert_uint_eq(reaper_idle(&P, 300, 30), 3000);
	ck_assert_uint_eq(reaper_idle(&P, 300, 0), 8000); /* MAXDAEMONS unknown */
	struct reaper_params q = P;
	q.full_fraction = 0;
	ck_assert_uint_eq(reaper_idle(&q, 300, 30), 8000);
	q = P;
	q.idle_full_ms = 10000; /* never longer than idle */
	ck_assert_uint_eq(reaper_idle(&q, 300, 30), 8000);
	q.idle_full_ms = 0;
	ck_assert_uint_eq(reaper_idle(&q, 300, 30), 8000);
}
END_TEST

START_TEST(test_verdict_names)
{
	ck_assert_str_eq(reaper_verdict_to_string(REAPER_REAP), "reap");
	ck_assert_str_eq(reaper_verdict_to_string(REAPER_KEEP_TALKED), "talked");
	ck_assert_str_eq(reaper_verdict_to_string(REAPER_KEEP_UNHEARD), "unheard");
	ck_assert_ptr_null(reaper_verdict_to_string(_REAPER_VERDICT_MAX));
}
END_TEST

/* Silences of the batch's entries, in order. */
static void assert_batch(const struct reaper_batch *b, const uint32_t *want, size_t n, size_t over)
{
	ck_assert_uint_eq(b->n, n);
	ck_assert_uint_eq(b->over, over);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(reaper_silence_ms(&b->v[i]), want[i]);
}

START_TEST(test_batch_cap)
{
	struct sampler_conn v[3];
	struct reaper_batch b;
	static const uint32_t offered[] = { 9000, 12000, 10000, 15000, 8000 };

	reaper_batch_init(&b, v, ELEMENTSOF(v));
	assert_batch(&b, NULL, 0, 0);
	for (size_t i = 0; i < ELEMENTSOF(offered); i++) {
		struct sampler_conn c = conn(0, offered[i]);
		c.id.idiag_dport = (uint16_t)i; /* which one it was */
		reaper_batch_offer(&b, &c);
	}
	/* The longest silent three, longest first; two left for the next pass. */
	assert_batch(&b, (const uint32_t[]){ 15000, 12000, 10000 }, 3, 2);
	ck_assert_uint_eq(v[0].id.idiag_dport, 3);
	ck_assert_uint_eq(v[2].id.idiag_dport, 2);
	/* A tie does not displace what is kept. */
	struct sampler_conn t = conn(0, 10000);
	t.id.idiag_dport = 99;
	reaper_batch_offer(&b, &t);
	assert_batch(&b, (const uint32_t[]){ 15000, 12000, 10000 }, 3, 3);
	ck_assert_uint_eq(v[2].id.idiag_dport, 2);

	/* A cap of 0 keeps nothing. */
	reaper_batch_init(&b, v, 0);
	reaper_batch_offer(&b, &t);
	assert_batch(&b, NULL, 0, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("reaper");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_idle_holder);
	tcase_add_test(tc, test_silence_is_the_clients_turn);
	tcase_add_test(tc, test_slow_sender);
	tcase_add_test(tc, test_slow_network);
	tcase_add_test(tc, test_no_info);
	tcase_add_test(tc, test_idle_full);
	tcase_add_test(tc, test_verdict_names);
	tcase_add_test(tc, test_batch_cap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
