/* status: one hand-built snapshot (two jails with distinct counters, two sources, with and
 * without a sample row) rendered as the `status` text, its JSON, the node_exporter textfile and
 * systemd's STATUS= line; assertions are on the exact text each rendering produces. */
#include <math.h>

#include "history.h"
#include "status.h"
#include "testutil.h"

struct fx {
	struct status st;
	struct status_jail jails[2];
	struct status_source sources[2];
	struct history_row row;
};

/* Two jails whose every counter differs (so that a value on the wrong jail or from the wrong
 * field shows), two sources, no row, not tuning. */
static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->jails[0] = (struct status_jail){
		.name = "courier-dnsbl",
		.filter = "courier-dnsbl",
		.tracked = 11,
		.active_bans = 12,
		.hits = 13,
		.bans = 14,
		.allowed = 15,
		.events = 16,
		.unbans = 17,
		.evictions = 18,
	};
	f->jails[1] = (struct status_jail){
		.name = "we\"ird\\jail",
		.filter = "auth",
		.tracked = 21,
		.active_bans = 22,
		.hits = 23,
		.bans = 24,
		.allowed = 25,
		.events = 26,
		.unbans = 27,
		.evictions = 28,
	};
	f->sources[0] = (struct status_source){ .name = "/var/log/mail.log", .lines = 1234 };
	f->sources[1] = (struct status_source){
		.name = "journal:system:SYSLOG_IDENTIFIER=courieresmtpd",
		.lines = 56,
	};
	f->row = (struct history_row){
		.time_usec = 1000000,
		.established = 35,
		.syn_recv = 3,
		.other = 4,
		.backlog = 7,
		.distinct = 9,
		.active_bans = 34,
		.new_bans = 1,
		.probe_ms = -1,
	};
	snprintf(f->row.probe_status, sizeof(f->row.probe_status), "timeout");
	snprintf(f->row.tuner, sizeof(f->row.tuner), "wave");
	f->st = (struct status){
		.uptime_sec = 3600,
		.lines = 1290,
		.decisions = 38,
		.events = 42,
		.reloads = 2,
		.active_bans = 34,
		.nft_sent = 40,
		.nft_errors = 1,
		.tuner_level = "wave",
		.tuner_reason = "wave: 35/40 connections",
		.n_files = 1,
		.n_journals = 1,
		.jails = f->jails,
		.n_jails = ELEMENTSOF(f->jails),
		.sources = f->sources,
		.n_sources = ELEMENTSOF(f->sources),
	};
}

/* What a renderer wrote to a FILE, as a malloc'ed string. */
typedef void (*render_fn)(const struct status *st, FILE *out);

static char *render(render_fn fn, const struct status *st)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	ck_assert_ptr_nonnull(f);
	fn(st, f);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

#define TEXT_HEADER                                                                                \
	"JAIL             FILTER             TRACKED  ACTIVE      HITS      BANS  ALLOWED\n"
#define TEXT_JAILS                                                                                 \
	"courier-dnsbl    courier-dnsbl           11      12        13        14       15\n"       \
	"we\"ird\\jail      auth                    21      22        23        24       25\n"

START_TEST(test_text)
{
	struct fx f;
	char *s;

	fx_init(&f);
	s = render(status_write_text, &f.st);
	ck_assert_str_eq(s, "waveguard " WAVEGUARD_VERSION
			    ", up 3600 s, 1290 lines, 38 ban decisions, "
			    "34 active bans, 2 reloads\n" TEXT_HEADER TEXT_JAILS);
	free(s);

	/* The tuner line only when a tuner runs; dry run is said on the summary line. */
	f.st.tuning = true;
	f.st.dry_run = true;
	s = render(status_write_text, &f.st);
	ck_assert_str_eq(s,
			 "waveguard " WAVEGUARD_VERSION " (dry run), up 3600 s, 1290 lines, 38 ban "
			 "decisions, 34 active bans, 2 reloads\n"
			 "tuner: wave (wave: 35/40 connections)\n" TEXT_HEADER TEXT_JAILS);
	free(s);

	/* A server found down says so, with its time and the probe's outcome. */
	f.st.server_down = true;
	f.st.down_since_usec = 1795761409ULL * USEC_PER_SEC;
	f.st.down_why = "refused";
	s = render(status_write_text, &f.st);
	ck_assert_ptr_nonnull(strstr(s,
				     "\nserver: DOWN since 2026-11-27T06:36:49Z (probe refused); "
				     "the tuner leaves Courier alone\ntuner: wave"));
	free(s);
	f.st.server_down = false;

	/* The reaper's line: what it does, from which level, how many so far and at the last
	 * sample; "off" says nothing, "unsupported" only that. */
	f.st.server_down = false;
	f.st.reaper = "on";
	f.st.reaper_level = "wave";
	f.st.reaped = 45;
	f.st.row = &f.row;
	f.row.reaped = 3;
	s = render(status_write_text, &f.st);
	ck_assert_ptr_nonnull(strstr(s, "\ntuner: wave (wave: 35/40 connections)\nreaper: on from "
					"the wave level, 45 idle connections closed since start, 3 "
					"at the last sample\nJAIL "));
	free(s);
	f.st.reaper = "dry-run";
	f.st.reaped = 1;
	f.row.reaped = 0;
	s = render(status_write_text, &f.st);
	ck_assert_ptr_nonnull(strstr(s, "\nreaper: dry-run from the wave level, 1 idle connection "
					"it would have closed since start\n"));
	free(s);
	f.st.reaper = "unsupported";
	s = render(status_write_text, &f.st);
	ck_assert_ptr_nonnull(strstr(s, "\nreaper: unsupported\n"));
	free(s);
	f.st.reaper = "off";
	s = render(status_write_text, &f.st);
	ck_assert_ptr_null(strstr(s, "reaper"));
	free(s);
	f.st.row = NULL;

	/* No jail: the header of an empty table. */
	f.st.tuning = false;
	f.st.n_jails = 0;
	s = render(status_write_text, &f.st);
	ck_assert_str_eq(s,
			 "waveguard " WAVEGUARD_VERSION " (dry run), up 3600 s, 1290 lines, 38 ban "
			 "decisions, 34 active bans, 2 reloads\n" TEXT_HEADER);
	free(s);
}
END_TEST

#define JSON_JAILS                                                                                 \
	"\"jails\":[{\"name\":\"courier-dnsbl\",\"filter\":\"courier-dnsbl\",\"tracked\":11,"      \
	"\"active_bans\":12,\"hits\":13,\"bans\":14,\"allowed\":15,\"events\":16,\"evictions\":"   \
	"18},"                                                                                     \
	"{\"name\":\"we\\\"ird\\\\jail\",\"filter\":\"auth\",\"tracked\":21,\"active_bans\":22,"   \
	"\"hits\":23,\"bans\":24,\"allowed\":25,\"events\":26,\"evictions\":28}],"                 \
	"\"fleet\":null}\n"

START_TEST(test_json)
{
	struct fx f;
	char *s;

	fx_init(&f);
	s = render(status_write_json, &f.st);
	ck_assert_str_eq(s,
			 "{\"uptime\":3600,\"dry_run\":false,\"lines\":1290,\"decisions\":38,"
			 "\"events\":42,\"reloads\":2,\"active_bans\":34,\"nft_sent\":40,"
			 "\"nft_errors\":1,\"bans_evicted\":0,\"evidence_bytes\":0,"
			 "\"tuner\":\"off\",\"reaper\":\"off\",\"reaped\":0,\"server\":\"unknown\","
			 "\"reload_error\":null," JSON_JAILS);
	free(s);

	f.st.tuning = true;
	f.st.reaper = "on";
	f.st.reaped = 45;
	f.st.dry_run = true;
	s = render(status_write_json, &f.st);
	ck_assert_str_eq(
		s, "{\"uptime\":3600,\"dry_run\":true,\"lines\":1290,\"decisions\":38,"
		   "\"events\":42,\"reloads\":2,\"active_bans\":34,\"nft_sent\":40,"
		   "\"nft_errors\":1,\"bans_evicted\":0,\"evidence_bytes\":0,"
		   "\"tuner\":\"wave\",\"reaper\":\"on\",\"reaped\":45,\"server\":\"unknown\","
		   "\"reload_error\":null," JSON_JAILS);
	free(s);

	/* A refused reload: its reason, in the JSON and the text. */
	f.st.reload_failed_usec = 1764720000ULL * USEC_PER_SEC;
	f.st.reload_error = "conf.d/x.conf:3: unknown key 'bantme' in [x]";
	s = render(status_write_json, &f.st);
	ck_assert_ptr_nonnull(
		strstr(s, ",\"reload_error\":\"conf.d/x.conf:3: unknown key 'bantme' in [x]\","));
	free(s);
	s = render(status_write_text, &f.st);
	ck_assert_ptr_nonnull(strstr(s, "reload: REFUSED at 2025-12-03T00:00:00Z, the running "
					"configuration stays: conf.d/x.conf:3: unknown key"));
	free(s);
	f.st.reload_failed_usec = 0;

	/* The server: up after a probe got through, down when the probe says so. */
	f.st.row = &f.row;
	s = render(status_write_json, &f.st);
	ck_assert_ptr_nonnull(strstr(s, ",\"server\":\"up\","));
	free(s);
	f.st.server_down = true;
	f.st.down_why = "refused";
	s = render(status_write_json, &f.st);
	ck_assert_ptr_nonnull(strstr(s, ",\"server\":\"down\","));
	free(s);

	/* A control character in a name is escaped too; no jail is an empty array. */
	f.jails[0].name = "tab\there";
	f.st.n_jails = 1;
	f.st.tuning = false;
	f.st.reaper = NULL;
	f.st.reaped = 0;
	s = render(status_write_json, &f.st);
	ck_assert_ptr_nonnull(strstr(s, "\"jails\":[{\"name\":\"tab\\u0009here\","));
	free(s);
	f.st.n_jails = 0;
	s = render(status_write_json, &f.st);
	ck_assert_ptr_nonnull(strstr(s, ",\"tuner\":\"off\",\"reaper\":\"off\",\"reaped\":0,"
					"\"server\":\"down\",\"reload_error\":null,\"jails\":[],"
					"\"fleet\":null}\n"));
	free(s);
}
END_TEST

/* ---- metrics ---- */

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t size = 0;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	/* The file holds no NUL: one getdelim() reads it whole. */
	ck_assert_int_gt(getdelim(&buf, &size, '\0', f), 0);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

/* The text has this exact line. */
static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return true;
	return false;
}

/* Every sample line comes after its family's HELP and TYPE lines (counter or gauge), every
 * family is declared once. Returns the number of samples. */
static unsigned check_families(const char *text)
{
	char help[128], type[160];
	unsigned samples = 0;
	char *copy = strdup(text), *save = NULL;

	ck_assert_ptr_nonnull(copy);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		size_t n = strcspn(line, "{ ");
		ck_assert_uint_lt(n, 100);
		ck_assert_msg(line[n] != '\0', "no value: %s", line);
		snprintf(help, sizeof(help), "# HELP %.*s ", (int)n, line);
		snprintf(type, sizeof(type), "# TYPE %.*s ", (int)n, line);
		const char *h = strstr(text, help), *t = strstr(text, type);
		ck_assert_msg(h && t, "no HELP or TYPE for %s", line);
		ck_assert_msg(h < t && t < text + (line - copy), "HELP, TYPE, then %s", line);
		ck_assert_msg(!strstr(h + 1, help) && !strstr(t + 1, type), "%s declared twice",
			      line);
		const char *kind = t + strlen(type);
		ck_assert_msg(strncmp(kind, "counter\n", 8) == 0 ||
				      strncmp(kind, "gauge\n", 6) == 0,
			      "type of %s", line);
		samples++;
	}
	free(copy);
	return samples;
}

static char *write_metrics(const struct fx *f, const char *dir)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/waveguard.prom", dir);
	ck_assert_int_eq(status_write_metrics(&f->st, path), 0);
	return read_all(path);
}

static const char *const jail_lines[] = {
	"waveguard_lines_total{source=\"/var/log/mail.log\"} 1234",
	"waveguard_lines_total{source=\"journal:system:SYSLOG_IDENTIFIER=courieresmtpd\"} 56",
	"waveguard_hits_total{jail=\"courier-dnsbl\"} 13",
	"waveguard_hits_total{jail=\"we\\\"ird\\\\jail\"} 23",
	"waveguard_bans_total{jail=\"courier-dnsbl\"} 14",
	"waveguard_bans_total{jail=\"we\\\"ird\\\\jail\"} 24",
	"waveguard_unbans_total{jail=\"courier-dnsbl\"} 17",
	"waveguard_unbans_total{jail=\"we\\\"ird\\\\jail\"} 27",
	"waveguard_active_bans{jail=\"courier-dnsbl\"} 12",
	"waveguard_active_bans{jail=\"we\\\"ird\\\\jail\"} 22",
	"waveguard_tracked_addresses{jail=\"courier-dnsbl\"} 11",
	"waveguard_tracked_addresses{jail=\"we\\\"ird\\\\jail\"} 21",
	"waveguard_evictions_total{jail=\"courier-dnsbl\"} 18",
	"# TYPE waveguard_evictions_total counter",
	"# TYPE waveguard_lines_total counter",
	"# TYPE waveguard_hits_total counter",
	"# TYPE waveguard_bans_total counter",
	"# TYPE waveguard_unbans_total counter",
	"# TYPE waveguard_active_bans gauge",
	"# TYPE waveguard_tracked_addresses gauge",
};

static const char *const row_families[] = {
	"waveguard_connections",	   "waveguard_listen_backlog", "waveguard_probe_up",
	"waveguard_probe_latency_seconds", "waveguard_tuner_level",
};

START_TEST(test_metrics_without_row)
{
	char *dir = test_mkdtemp(), *text;
	struct fx f;

	fx_init(&f);
	text = write_metrics(&f, dir);
	for (size_t i = 0; i < ELEMENTSOF(jail_lines); i++)
		ck_assert_msg(has_line(text, jail_lines[i]), "missing \"%s\" in:\n%s",
			      jail_lines[i], text);
	/* 2 sources + 6 families of 2 jails + reaped_total, server_down, reload_failed,
	 * ban_table_evicted and evidence_bytes, nothing else. */
	ck_assert_uint_eq(check_families(text), 19);
	ck_assert(has_line(text, "# TYPE waveguard_reaped_total counter"));
	ck_assert(has_line(text, "waveguard_reaped_total 0"));
	ck_assert(has_line(text, "waveguard_server_down 0"));
	ck_assert(has_line(text, "waveguard_reload_failed 0"));
	for (size_t i = 0; i < ELEMENTSOF(row_families); i++)
		ck_assert_msg(!strstr(text, row_families[i]), "%s without a row", row_families[i]);
	free(text);

	/* Node_exporter reads the file as another user. */
	struct stat sb;
	char path[4200];
	snprintf(path, sizeof(path), "%s/waveguard.prom", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0644);

	/* No directory to write into: an error, not a crash. */
	snprintf(path, sizeof(path), "%s/missing/waveguard.prom", dir);
	ck_assert_int_lt(status_write_metrics(&f.st, path), 0);

	test_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(test_metrics_with_row)
{
	char *dir = test_mkdtemp(), *text;
	struct fx f;

	fx_init(&f);
	f.st.row = &f.row;
	text = write_metrics(&f, dir);
	for (size_t i = 0; i < ELEMENTSOF(jail_lines); i++)
		ck_assert_msg(has_line(text, jail_lines[i]), "missing \"%s\"", jail_lines[i]);
	static const char *const lines[] = {
		"waveguard_connections{state=\"established\"} 35",
		"waveguard_connections{state=\"syn_recv\"} 3",
		"waveguard_connections{state=\"other\"} 4",
		"waveguard_listen_backlog 7",
		"waveguard_probe_up 0",
		"waveguard_probe_latency_seconds NaN",
		"waveguard_tuner_level{level=\"normal\"} 0",
		"waveguard_tuner_level{level=\"elevated\"} 0",
		"waveguard_tuner_level{level=\"wave\"} 1",
		"# TYPE waveguard_connections gauge",
		"# TYPE waveguard_probe_latency_seconds gauge",
	};
	for (size_t i = 0; i < ELEMENTSOF(lines); i++)
		ck_assert_msg(has_line(text, lines[i]), "missing \"%s\" in:\n%s", lines[i], text);
	ck_assert_uint_eq(check_families(text), 19 + 3 + 1 + 1 + 1 + 3);
	free(text);

	f.st.reaped = 45;
	text = write_metrics(&f, dir);
	ck_assert(has_line(text, "waveguard_reaped_total 45"));
	free(text);

	f.st.server_down = true;
	text = write_metrics(&f, dir);
	ck_assert(has_line(text, "waveguard_server_down 1"));
	free(text);
	f.st.server_down = false;

	/* A probe that got its banner in 42 ms. */
	f.row.probe_ms = 42;
	snprintf(f.row.probe_status, sizeof(f.row.probe_status), "ok");
	snprintf(f.row.tuner, sizeof(f.row.tuner), "elevated");
	text = write_metrics(&f, dir);
	ck_assert(has_line(text, "waveguard_probe_up 1"));
	ck_assert(has_line(text, "waveguard_probe_latency_seconds 0.042"));
	ck_assert(has_line(text, "waveguard_tuner_level{level=\"elevated\"} 1"));
	ck_assert(has_line(text, "waveguard_tuner_level{level=\"wave\"} 0"));
	free(text);

	test_rm_rf(dir);
	free(dir);
}
END_TEST

/* A daemon in a fleet: the status line, the JSON object and the metrics say what the fleet
 * room did. */
START_TEST(test_fleet)
{
	char *dir = test_mkdtemp(), *text;
	struct fx f;

	fx_init(&f);
	f.st.fleet = (struct status_fleet){ .host = "mx-c",
					    .redis = "198.51.100.9:6379",
					    .connected = true,
					    .published = 3,
					    .dropped = 1,
					    .applied = 5,
					    .refused = 2,
					    .ignored = 4,
					    .forged = 1,
					    .outbox = 7,
					    .reconnects = 2 };
	f.st.remote_bans = 5;
	text = render(status_write_text, &f.st);
	ck_assert_msg(strstr(text, "\nfleet: mx-c, connected to Redis at 198.51.100.9:6379; "
				   "published 3, applied 5, refused 2, forged 1, dropped 1, outbox "
				   "7; 5 remote bans in force\n"),
		      "%s", text);
	free(text);
	text = render(status_write_json, &f.st);
	ck_assert_msg(strstr(text, "],\"fleet\":{\"host\":\"mx-c\",\"connected\":true,"
				   "\"published\":3,\"dropped\":1,\"failed\":0,\"applied\":5,"
				   "\"refused\":2,\"ignored\":4,\"forged\":1,\"malformed\":0,"
				   "\"outbox\":7,\"reconnects\":2,\"remote_bans\":5}}\n"),
		      "%s", text);
	free(text);
	text = write_metrics(&f, dir);
	static const char *const lines[] = {
		"waveguard_fleet_connected 1",
		"waveguard_fleet_entries_total{outcome=\"published\"} 3",
		"waveguard_fleet_entries_total{outcome=\"forged\"} 1",
		"waveguard_fleet_entries_total{outcome=\"refused\"} 2",
		"waveguard_fleet_outbox 7",
		"waveguard_fleet_reconnects_total 2",
		"waveguard_remote_bans 5",
		"# TYPE waveguard_fleet_entries_total counter",
	};
	for (size_t i = 0; i < ELEMENTSOF(lines); i++)
		ck_assert_msg(has_line(text, lines[i]), "missing \"%s\" in:\n%s", lines[i], text);
	ck_assert_uint_eq(check_families(text), 19 + 1 + 8 + 1 + 1 + 1);
	free(text);
	/* The text of a host cut off from Redis says so. */
	f.st.fleet.connected = false;
	text = render(status_write_text, &f.st);
	ck_assert_ptr_nonnull(strstr(text, "fleet: mx-c, NOT connected to Redis at "));
	free(text);
	test_rm_rf(dir);
	free(dir);
}
END_TEST

/* ---- STATUS= ---- */

START_TEST(test_format_line)
{
	static const char tail[] = "34 active bans, 2 jails, 1 files, 1 journals, 1290 lines, 38 "
				   "ban decisions since start";
	char buf[512], small[16];
	struct fx f;

	fx_init(&f);
	status_format_line(&f.st, buf, sizeof(buf));
	ck_assert_str_eq(buf, tail);

	f.st.row = &f.row;
	f.st.dry_run = true;
	status_format_line(&f.st, buf, sizeof(buf));
	ck_assert_str_eq(buf,
			 "35 connections, backlog 7, probe timeout, 34 active bans, 2 jails, "
			 "1 files, 1 journals, 1290 lines, 38 ban decisions since start (dry run)");

	f.st.server_down = true;
	f.st.down_why = "refused";
	status_format_line(&f.st, buf, sizeof(buf));
	ck_assert_str_eq(
		buf, "MAIL SERVER DOWN (probe refused), 35 connections, backlog 7, probe timeout, "
		     "34 active bans, 2 jails, 1 files, 1 journals, 1290 lines, 38 ban decisions "
		     "since start (dry run)");
	f.st.server_down = false;
	f.st.reaped = 45;
	status_format_line(&f.st, buf, sizeof(buf));
	ck_assert_str_eq(buf,
			 "35 connections, backlog 7, probe timeout, 45 idle connections reaped, 34 "
			 "active bans, 2 jails, 1 files, 1 journals, 1290 lines, 38 ban decisions "
			 "since start (dry run)");
	f.st.reaped = 0;

	/* Cut to the buffer, always terminated, never past it. */
	memset(small, 'X', sizeof(small));
	status_format_line(&f.st, small, 10);
	ck_assert_str_eq(small, "35 connec");
	for (size_t i = 10; i < sizeof(small); i++)
		ck_assert_int_eq(small[i], 'X');
	f.st.row = NULL;
	memset(small, 'X', sizeof(small));
	status_format_line(&f.st, small, 10);
	ck_assert_str_eq(small, "34 active");
	ck_assert_int_eq(small[10], 'X');
	memset(small, 'X', sizeof(small));
	status_format_line(&f.st, small, 1);
	ck_assert_int_eq(small[0], '\0');
	ck_assert_int_eq(small[1], 'X');
	memset(small, 'X', sizeof(small));
	status_format_line(&f.st, small, 0);
	ck_assert_int_eq(small[0], 'X');
}
END_TEST

START_TEST(test_clear)
{
	struct status st = { 0 };

	st.jails = calloc(2, sizeof(*st.jails));
	st.sources = calloc(3, sizeof(*st.sources));
	ck_assert(st.jails && st.sources);
	st.n_jails = 2;
	st.n_sources = 3;
	status_clear(&st);
	ck_assert_ptr_null(st.jails);
	ck_assert_ptr_null(st.sources);
	ck_assert_uint_eq(st.n_jails, 0);
	ck_assert_uint_eq(st.n_sources, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_metrics_without_row);
	tcase_add_test(tc, test_metrics_with_row);
	tcase_add_test(tc, test_fleet);
	tcase_add_test(tc, test_format_line);
	tcase_add_test(tc, test_clear);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
