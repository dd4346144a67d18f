/* ban_nft against the real kernel, in a private network namespace: table/sets/chain, element
 * batches with timeouts, error mapping, listing, a 10,000-ban burst, and real packets dropped on
 * loopback. Needs root (skips with 77 otherwise); observes the outcome through `nft list`. */
#include "ban_nft.h"
#include "nftlist.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>

static const char *fmt(const struct addr *a)
{
	static char buf[4][ADDR_STRLEN];
	static unsigned i;
	i = (i + 1) % 4;
	return addr_format(a, buf[i], sizeof(buf[i]));
}

static struct addr cidr(const char *s)
{
	struct addr a;
	ck_assert_msg(addr_parse_cidr(s, &a) == 0, "cannot parse %s", s);
	return a;
}

/* Runs a shell command and returns its standard output (malloc'ed); *ret_status gets the exit
 * status when not NULL. */
static char *run(const char *cmd, int *ret_status)
{
	FILE *f = popen(cmd, "r");
	ck_assert_msg(f != NULL, "popen %s", cmd);
	size_t cap = 4096, n = 0;
	char *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	size_t k;
	while ((k = fread(out + n, 1, cap - n - 1, f)) > 0) {
		n += k;
		if (cap - n < 2) {
			cap *= 2;
			out = realloc(out, cap);
			ck_assert_ptr_nonnull(out);
		}
	}
	out[n] = 0;
	int st = pclose(f);
	if (ret_status)
		*ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return out;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static struct ban_nft *fresh(const struct ban_nft_config *c)
{
	struct ban_nft *b = NULL;
	ck_assert_int_eq(ban_nft_new(c, &b), 0);
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	return b;
}

/* Collects errors reported by ban_nft_flush(). */
struct errs {
	unsigned n;
	struct addr a[16];
	int error[16];
};

static void on_error(const struct addr *a, int error, void *userdata)
{
	struct errs *e = userdata;
	if (e->n < ELEMENTSOF(e->a)) {
		e->a[e->n] = *a;
		e->error[e->n] = error;
	}
	e->n++;
}

/* Collects the elements nftlist_bans() reports. */
struct listing {
	unsigned n;
	struct addr a[64];
	uint64_t expires[64];
};

static void on_elem(const struct addr *a, uint64_t expires_usec, void *userdata)
{
	struct listing *l = userdata;
	if (l->n < ELEMENTSOF(l->a)) {
		l->a[l->n] = *a;
		l->expires[l->n] = expires_usec;
	}
	l->n++;
}

static int find(const struct listing *l, const char *net)
{
	struct addr a = cidr(net);
	for (unsigned i = 0; i < l->n && i < ELEMENTSOF(l->a); i++)
		if (addr_equal(&l->a[i], &a))
			return (int)i;
	return -1;
}

/* Kernels since 6.12 update the timeout of an element added again; older ones keep it. */
static bool kernel_updates_timeouts(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;
	ck_assert_int_eq(uname(&u), 0);
	ck_assert_int_eq(sscanf(u.release, "%u.%u", &major, &minor), 2);
	return major > 6 || (major == 6 && minor >= 12);
}

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* Whether out holds the rule "<dport> <SYN-only match> <saddr> counter..." (nft 1.0.6 prints the
 * match `tcp flags & (syn | ack) == syn` as "tcp flags syn / syn,ack"; other versions print it
 * as written). */
static bool has_syn_rule(const char *out, const char *dport, const char *rest)
{
	static const char *const forms[] = { "tcp flags syn / syn,ack",
					     "tcp flags & (syn | ack) == syn" };
	for (size_t i = 0; i < ELEMENTSOF(forms); i++) {
		char want[640];
		snprintf(want, sizeof(want), "%s %s %s", dport, forms[i], rest);
		if (strstr(out, want))
			return true;
	}
	return false;
}

static unsigned count_syn_matches(const char *out)
{
	return count(out, "tcp flags syn / syn,ack ") +
	       count(out, "tcp flags & (syn | ack) == syn ");
}

/* Whether out holds the rule of a prefix set, "<match> == @<set> counter" (nft 1.0.6 prints the
 * "=="; other versions may not), after the SYN-only match of the ports dport (NULL: all ports,
 * no TCP match). match is e.g. "ip6 saddr & ffff:ffff:ffff:ffff::". */
static bool has_masked_rule(const char *out, const char *dport, const char *match, const char *set)
{
	static const char *const ops[] = { " == @", " @" };
	for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
		char rest[512];
		snprintf(rest, sizeof(rest), "%s%s%s counter", match, ops[i], set);
		if (dport ? has_syn_rule(out, dport, rest) : strstr(out, rest) != NULL)
			return true;
	}
	return false;
}

#define MASK64 "ip6 saddr & ffff:ffff:ffff:ffff::"
#define MASK24 "ip saddr & 255.255.255.0"

START_TEST(test_setup_creates_everything)
{
	struct ban_nft *b = fresh(NULL);
	int st;
	char *out = run("nft list table inet waveguard 2>&1", &st);
	ck_assert_msg(st == 0, "nft list failed: %s", out);
	ck_assert_msg(strstr(out, "set ban4 {\n\t\ttype ipv4_addr\n\t\tflags interval,timeout"),
		      "%s", out);
	ck_assert_msg(strstr(out, "set ban6 {\n\t\ttype ipv6_addr\n\t\tflags interval,timeout"),
		      "%s", out);
	/* Single addresses: hash sets, no interval flag. */
	ck_assert_msg(strstr(out, "set ban4_host {\n\t\ttype ipv4_addr\n\t\tflags timeout\n"), "%s",
		      out);
	ck_assert_msg(strstr(out, "set ban6_host {\n\t\ttype ipv6_addr\n\t\tflags timeout\n"), "%s",
		      out);
	ck_assert_int_eq(count(out, "\tset "), 4);
	ck_assert_msg(
		strstr(out, "chain input {\n\t\ttype filter hook input priority filter - 10;"),
		"%s", out);
	/* Connection attempts only (SYN without ACK): open sessions can finish. */
	static const char *const rests[] = {
		"ip saddr @ban4 counter packets 0 bytes 0 drop",
		"ip saddr @ban4_host counter packets 0 bytes 0 drop",
		"ip6 saddr @ban6 counter packets 0 bytes 0 drop",
		"ip6 saddr @ban6_host counter packets 0 bytes 0 drop",
	};
	for (size_t i = 0; i < ELEMENTSOF(rests); i++)
		ck_assert_msg(has_syn_rule(out, "tcp dport { 25, 465, 587 }", rests[i]), "%s: %s",
			      rests[i], out);
	ck_assert_int_eq(count(out, " drop"), 4);
	ck_assert_int_eq(count_syn_matches(out), 4);
	free(out);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_setup_twice_no_duplicates)
{
	struct ban_nft *b = fresh(NULL);
	struct addr a = cidr("192.0.2.1");
	ck_assert_int_eq(ban_nft_add(b, &a, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	ban_nft_free(b);

	/* A second daemon start: new object, setup again. */
	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	char *out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(count(out, " drop") == 4 && count_syn_matches(out) == 4, "%s", out);
	ck_assert_msg(count(out, "chain ") == 1, "%s", out);
	ck_assert_msg(count(out, "\tset ") == 4, "%s", out);
	ck_assert_msg(strstr(out, "192.0.2.1 timeout 1m"), "ban lost by setup: %s", out);
	free(out);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_setup_other_ports_and_all_ports)
{
	static const uint16_t one[] = { 2525 };
	struct ban_nft_config c = { .ports = one, .n_ports = 1 };
	struct ban_nft *b = fresh(&c);
	char *out = run("nft list chain inet waveguard input", NULL);
	ck_assert_msg(has_syn_rule(out, "tcp dport 2525", "ip saddr @ban4 counter"), "%s", out);
	ck_assert_msg(has_syn_rule(out, "tcp dport 2525", "ip saddr @ban4_host counter"), "%s",
		      out);
	ck_assert_msg(has_syn_rule(out, "tcp dport 2525", "ip6 saddr @ban6 counter"), "%s", out);
	ck_assert_msg(has_syn_rule(out, "tcp dport 2525", "ip6 saddr @ban6_host counter"), "%s",
		      out);
	ck_assert_msg(count(out, " drop") == 4 && count_syn_matches(out) == 4, "%s", out);
	free(out);
	ban_nft_free(b);

	/* Switching to all ports on the next start replaces the rules: a firewall-style block of
	 * every packet, no TCP condition. */
	c = (struct ban_nft_config){ .all_ports = true };
	ck_assert_int_eq(ban_nft_new(&c, &b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	out = run("nft list chain inet waveguard input", NULL);
	ck_assert_msg(strstr(out, "\t\tip saddr @ban4 counter packets 0 bytes 0 drop"), "%s", out);
	ck_assert_msg(strstr(out, "\t\tip saddr @ban4_host counter packets 0 bytes 0 drop"), "%s",
		      out);
	ck_assert_msg(strstr(out, "\t\tip6 saddr @ban6 counter packets 0 bytes 0 drop"), "%s", out);
	ck_assert_msg(strstr(out, "\t\tip6 saddr @ban6_host counter packets 0 bytes 0 drop"), "%s",
		      out);
	ck_assert_msg(count(out, " drop") == 4 && !strstr(out, "dport") && !strstr(out, "tcp"),
		      "%s", out);
	free(out);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_setup_repairs_chain)
{
	static const char *const broken[] = {
		"nft add chain inet waveguard input '{ type filter hook input priority 0; }'",
		"nft add chain inet waveguard input '{ type filter hook output priority -10; }'",
		"nft add chain inet waveguard input "
		"'{ type filter hook input priority -10; policy drop; }'",
		"nft add chain inet waveguard input && nft add rule inet waveguard input accept",
	};
	struct ban_nft *b = fresh(NULL);
	struct addr a = cidr("192.0.2.1");
	ck_assert_int_eq(ban_nft_add(b, &a, 600 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);

	for (size_t i = 0; i < ELEMENTSOF(broken); i++) {
		ck_assert_int_eq(system("nft flush chain inet waveguard input && "
					"nft delete chain inet waveguard input"),
				 0);
		ck_assert_msg(system(broken[i]) == 0, "%s", broken[i]);
		ck_assert_msg(ban_nft_setup(b) == 0, "not repaired: %s", broken[i]);
		char *out = run("nft list table inet waveguard", NULL);
		ck_assert_msg(strstr(out, "type filter hook input priority filter - 10; policy "
					  "accept;"),
			      "%s: %s", broken[i], out);
		ck_assert_msg(count(out, " drop") == 4 && !strstr(out, "accept\n"), "%s: %s",
			      broken[i], out);
		ck_assert_msg(strstr(out, "192.0.2.1 timeout 10m"), "ban lost: %s", out);
		free(out);
	}
	ban_nft_free(b);
}
END_TEST

START_TEST(test_setup_conflicting_set)
{
	struct ban_nft *b = NULL;
	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ck_assert_int_eq(system("nft add table inet waveguard && "
				"nft add set inet waveguard ban4 '{ type ipv4_addr; }'"),
			 0);
	int r = ban_nft_setup(b);
	ck_assert_msg(r < 0, "setup over a set of another kind: %d", r);
	/* Atomic: nothing of ours was created. */
	char *out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(!strstr(out, "ban6") && !strstr(out, "ban4_host") && !strstr(out, "chain"),
		      "%s", out);
	free(out);
	printf("setup over a conflicting set ban4: %s\n", strerror(-r));

	/* The same for a host set that is an interval set. */
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ck_assert_int_eq(system("nft add table inet waveguard && "
				"nft add set inet waveguard ban4_host "
				"'{ type ipv4_addr; flags interval,timeout; }'"),
			 0);
	r = ban_nft_setup(b);
	ck_assert_msg(r < 0, "setup over a host set of another kind: %d", r);
	out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(!strstr(out, "set ban4 ") && !strstr(out, "ban6") && !strstr(out, "chain"),
		      "%s", out);
	free(out);
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_set_names)
{
	struct ban_nft *b = NULL;
	char name[256];

	/* set4_host would be set6. */
	struct ban_nft_config c = { .set4 = "x_host", .set6 = "x" };
	ck_assert_int_eq(ban_nft_new(&c, &b), -EINVAL);
	c = (struct ban_nft_config){ .set4 = "x", .set6 = "x_host" };
	ck_assert_int_eq(ban_nft_new(&c, &b), -EINVAL);
	/* Room for the suffix: 250 bytes at most. */
	memset(name, 'a', 251);
	name[251] = 0;
	c = (struct ban_nft_config){ .set4 = name };
	ck_assert_int_eq(ban_nft_new(&c, &b), -ENAMETOOLONG);
	name[250] = 0;
	ck_assert_int_eq(ban_nft_new(&c, &b), 0);
	ban_nft_free(b);

	/* Other names: the host sets follow them. */
	c = (struct ban_nft_config){ .table = "wgnames", .set4 = "v4", .set6 = "v6" };
	ck_assert_int_eq(ban_nft_new(&c, &b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	struct addr h = cidr("192.0.2.3"), n = cidr("2001:db8::/48");
	ck_assert_int_eq(ban_nft_add(b, &h, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &n, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 2);
	char *out = run("nft list table inet wgnames", NULL);
	ck_assert_msg(strstr(out, "set v4_host {") && strstr(out, "set v6_host {") &&
			      strstr(out, "ip saddr @v4_host counter") &&
			      strstr(out, "ip6 saddr @v6_host counter") &&
			      strstr(out, "192.0.2.3 timeout 1m") &&
			      strstr(out, "2001:db8::/48 timeout 1m"),
		      "%s", out);
	free(out);
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ban_nft_free(b);
}
END_TEST

/* A table left by the version before the host sets: interval sets only, two rules. */
START_TEST(test_setup_upgrades_previous_version)
{
	struct ban_nft *b = NULL;
	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ck_assert_int_eq(system("nft -f - <<'EOF'\n"
				"table inet waveguard {\n"
				"  set ban4 { type ipv4_addr; flags interval,timeout; }\n"
				"  set ban6 { type ipv6_addr; flags interval,timeout; }\n"
				"  chain input {\n"
				"    type filter hook input priority -10; policy accept;\n"
				"    tcp dport { 25, 465, 587 } ip saddr @ban4 counter drop\n"
				"    tcp dport { 25, 465, 587 } ip6 saddr @ban6 counter drop\n"
				"  }\n"
				"}\n"
				"add element inet waveguard ban4 { 192.0.2.1 timeout 10m, "
				"198.51.100.0/24 timeout 10m }\n"
				"add element inet waveguard ban6 { 2001:db8::1 timeout 10m }\n"
				"EOF"),
			 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	char *out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(count(out, "\tset ") == 4 && count(out, " drop") == 4, "%s", out);
	/* The old rules (every packet to the ports) are replaced by SYN-only ones. */
	ck_assert_msg(
		count_syn_matches(out) == 4 &&
			has_syn_rule(out, "tcp dport { 25, 465, 587 }", "ip saddr @ban4 counter") &&
			has_syn_rule(out, "tcp dport { 25, 465, 587 }", "ip6 saddr @ban6 counter"),
		"%s", out);
	ck_assert_msg(strstr(out, "set ban4_host {\n\t\ttype ipv4_addr\n\t\tflags timeout\n") &&
			      strstr(out, "ip saddr @ban4_host counter") &&
			      strstr(out, "ip6 saddr @ban6_host counter"),
		      "%s", out);
	ck_assert_msg(strstr(out, "192.0.2.1 timeout 10m") &&
			      strstr(out, "198.51.100.0/24 timeout 10m") &&
			      strstr(out, "2001:db8::1 timeout 10m"),
		      "bans lost by the upgrade: %s", out);
	free(out);
	struct listing l = { 0 };
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 3);
	ck_assert_int_ge(find(&l, "192.0.2.1"), 0);
	ck_assert_int_ge(find(&l, "2001:db8::1"), 0);

	/* Re-banned by the new version: now in the host set too. Unbanning a single address
	 * removes it from both sets (the old element would still block it). */
	struct addr h = cidr("192.0.2.1"), h6 = cidr("2001:db8::1");
	ck_assert_int_eq(ban_nft_add(b, &h, 600 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	l.n = 0;
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 4); /* listed from both sets */
	struct errs e = { 0 };
	ck_assert_int_eq(ban_nft_del(b, &h), 0);
	ck_assert_int_eq(ban_nft_del(b, &h6), 0);
	ck_assert_int_eq(ban_nft_pending(b), 2);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);
	ck_assert_int_eq(e.n, 0);
	out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(!strstr(out, "192.0.2.1 ") && !strstr(out, "2001:db8::1 ") &&
			      strstr(out, "198.51.100.0/24 timeout 10m"),
		      "%s", out);
	free(out);
	l.n = 0;
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 1);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_add_list_del)
{
	struct ban_nft *b = fresh(NULL);
	struct addr a4 = cidr("192.0.2.1"), a6 = cidr("2001:db8:1:2::/64");
	struct errs e = { 0 };

	ck_assert_int_eq(ban_nft_add(b, &a4, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &a6, 120 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_pending(b), 2);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);
	ck_assert_int_eq(e.n, 0);
	ck_assert_int_eq(ban_nft_pending(b), 0);

	/* A single address goes to the host set, a network to the interval set. */
	char *out = run("nft list set inet waveguard ban4_host", NULL);
	ck_assert_msg(strstr(out, "elements = { 192.0.2.1 timeout 1m expires "), "%s", out);
	free(out);
	out = run("nft list set inet waveguard ban4", NULL);
	ck_assert_msg(!strstr(out, "192.0.2"), "%s", out);
	free(out);
	out = run("nft list set inet waveguard ban6", NULL);
	ck_assert_msg(strstr(out, "elements = { 2001:db8:1:2::/64 timeout 2m expires "), "%s", out);
	free(out);
	out = run("nft list set inet waveguard ban6_host", NULL);
	ck_assert_msg(!strstr(out, "2001:db8"), "%s", out);
	free(out);

	struct listing l = { 0 };
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 2);
	ck_assert_int_eq(l.n, 2);
	int i4 = find(&l, "192.0.2.1"), i6 = find(&l, "2001:db8:1:2::/64");
	ck_assert_int_eq(i4, 0); /* IPv4 first */
	ck_assert_int_eq(i6, 1);
	ck_assert_uint_le(l.expires[i4], 60 * USEC_PER_SEC);
	ck_assert_uint_gt(l.expires[i4], 50 * USEC_PER_SEC);
	ck_assert_uint_le(l.expires[i6], 120 * USEC_PER_SEC);
	ck_assert_uint_gt(l.expires[i6], 110 * USEC_PER_SEC);

	/* Host bits are ignored: the network is banned. */
	struct addr h = cidr("2001:db8:1:2::1");
	h.prefix = 64;
	ck_assert_int_eq(ban_nft_del(b, &h), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 1);
	ck_assert_int_eq(e.n, 0);
	l.n = 0;
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 1);
	ck_assert_int_eq(find(&l, "192.0.2.1"), 0);
	out = run("nft list set inet waveguard ban6", NULL);
	ck_assert_msg(!strstr(out, "2001:db8"), "%s", out);
	free(out);
	out = run("nft list set inet waveguard ban4_host", NULL);
	ck_assert_msg(strstr(out, "192.0.2.1 timeout 1m"), "%s", out);
	free(out);

	/* Deleting what is not there (expired meanwhile) is no error. */
	ck_assert_int_eq(ban_nft_del(b, &a6), 0);
	ck_assert_int_eq(ban_nft_del(b, &a4), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);
	ck_assert_int_eq(e.n, 0);
	l.n = 0;
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 0);

	/* No timeout: listed with UINT64_MAX. */
	ck_assert_int_eq(ban_nft_add(b, &a4, 0), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 1);
	l.n = 0;
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 1);
	ck_assert_uint_eq(l.expires[0], UINT64_MAX);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_hosts_and_networks)
{
	struct ban_nft *b = fresh(NULL);
	struct errs e = { 0 };
	struct listing l = { 0 };
	static const char *const hosts[] = { "192.0.2.1",
					     "192.0.2.200",
					     "255.255.255.255",
					     "0.0.0.0",
					     "2001:db8:1::1",
					     "::",
					     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" };
	static const char *const nets[] = { "192.0.2.0/24", "10.0.0.0/31", "2001:db8:1::/64",
					    "2001:db8:1::/127" };

	/* A host inside a banned network is no conflict: they live in different sets. */
	for (size_t i = 0; i < ELEMENTSOF(hosts); i++) {
		struct addr a = cidr(hosts[i]);
		ck_assert_int_eq(ban_nft_add(b, &a, 60 * USEC_PER_SEC), 0);
	}
	struct addr n0 = cidr(nets[0]), n1 = cidr(nets[1]), n2 = cidr(nets[2]);
	ck_assert_int_eq(ban_nft_add(b, &n0, 120 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &n1, 120 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &n2, 120 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), (int)ELEMENTSOF(hosts) + 3);
	ck_assert_msg(e.n == 0, "%s: %s", fmt(&e.a[0]), strerror(-e.error[0]));

	char *out = run("nft list set inet waveguard ban4_host", NULL);
	ck_assert_msg(strstr(out, "192.0.2.1 timeout 1m") &&
			      strstr(out, "192.0.2.200 timeout 1m") &&
			      strstr(out, "255.255.255.255 timeout 1m") &&
			      strstr(out, "0.0.0.0 timeout 1m") && !strstr(out, "/"),
		      "%s", out);
	free(out);
	out = run("nft list set inet waveguard ban4", NULL);
	ck_assert_msg(strstr(out, "192.0.2.0/24 timeout 2m") &&
			      strstr(out, "10.0.0.0/31 timeout 2m") && count(out, " timeout ") == 2,
		      "%s", out);
	free(out);
	out = run("nft list set inet waveguard ban6_host", NULL);
	ck_assert_msg(strstr(out, "2001:db8:1::1 timeout 1m") && strstr(out, ":: timeout 1m") &&
			      strstr(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff timeout 1m") &&
			      count(out, " timeout ") == 3,
		      "%s", out);
	free(out);
	out = run("nft list set inet waveguard ban6", NULL);
	ck_assert_msg(strstr(out, "2001:db8:1::/64 timeout 2m") && count(out, " timeout ") == 1,
		      "%s", out);
	free(out);

	/* Listed from all four sets: IPv4 first, each family in ascending order, hosts with
	 * their full prefix. */
	static const char *const order[] = { "0.0.0.0",
					     "10.0.0.0/31",
					     "192.0.2.0/24",
					     "192.0.2.1",
					     "192.0.2.200",
					     "255.255.255.255",
					     "::",
					     "2001:db8:1::/64",
					     "2001:db8:1::1",
					     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" };
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), (int)ELEMENTSOF(order));
	for (size_t i = 0; i < ELEMENTSOF(order); i++) {
		ck_assert_msg(find(&l, order[i]) == (int)i, "%s at %d, not %zu", order[i],
			      find(&l, order[i]), i);
		bool host = strchr(order[i], '/') == NULL;
		ck_assert_uint_eq(l.a[i].prefix, host ? (l.a[i].family == AF_INET ? 32 : 128)
						      : cidr(order[i]).prefix);
		ck_assert_uint_le(l.expires[i], (host ? 60 : 120) * USEC_PER_SEC);
		ck_assert_uint_gt(l.expires[i], (host ? 50 : 110) * USEC_PER_SEC);
	}

	/* Overlaps are still refused inside the interval set, and reported. */
	struct addr n3 = cidr(nets[3]);
	ck_assert_int_eq(ban_nft_add(b, &n3, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 0);
	ck_assert_int_eq(e.n, 1);
	ck_assert_int_eq(e.error[0], -EEXIST);
	ck_assert(addr_equal(&e.a[0], &n3));

	/* Deletes go where the adds went: the host, not its network, and the reverse. */
	struct addr h = cidr("192.0.2.1"), h6 = cidr("2001:db8:1::1");
	e.n = 0;
	ck_assert_int_eq(ban_nft_del(b, &h), 0);
	ck_assert_int_eq(ban_nft_del(b, &n2), 0);
	ck_assert_int_eq(ban_nft_pending(b), 2);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);
	ck_assert_int_eq(e.n, 0);
	l.n = 0;
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), (int)ELEMENTSOF(order) - 2);
	ck_assert_int_lt(find(&l, "192.0.2.1"), 0);
	ck_assert_int_ge(find(&l, "192.0.2.0/24"), 0);
	ck_assert_int_lt(find(&l, "2001:db8:1::/64"), 0);
	ck_assert_int_ge(find(&l, "2001:db8:1::1"), 0);
	ck_assert_int_eq(ban_nft_del(b, &h6), 0);
	ck_assert_int_eq(ban_nft_del(b, &n0), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);
	ck_assert_int_eq(e.n, 0);
	ck_assert_int_eq(nftlist_bans(NULL, NULL, NULL), (int)ELEMENTSOF(order) - 4);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_readd_refreshes)
{
	struct ban_nft *b = fresh(NULL);
	struct addr a = cidr("192.0.2.7"), n = cidr("198.51.100.0/24");
	struct errs e = { 0 };
	struct listing l = { 0 };

	ck_assert_int_eq(ban_nft_add(b, &a, 30 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &n, 30 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);

	/* Again, longer, in a later flush; and twice in the same flush. */
	ck_assert_int_eq(ban_nft_add(b, &a, 600 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &n, 300 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &n, 600 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 3);
	ck_assert_msg(e.n == 0, "re-add failed: %s %s", e.n ? fmt(&e.a[0]) : "",
		      e.n ? strerror(-e.error[0]) : "");

	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 2);
	int ia = find(&l, "192.0.2.7"), in = find(&l, "198.51.100.0/24");
	ck_assert_int_ge(ia, 0);
	ck_assert_int_ge(in, 0);
	if (kernel_updates_timeouts()) {
		ck_assert_msg(l.expires[ia] > 500 * USEC_PER_SEC, "not refreshed: %llu",
			      (unsigned long long)l.expires[ia]);
		ck_assert_msg(l.expires[in] > 500 * USEC_PER_SEC, "not refreshed: %llu",
			      (unsigned long long)l.expires[in]);
		/* The host set (hash) refreshes like the interval set. */
		char *out = run("nft list set inet waveguard ban4_host", NULL);
		ck_assert_msg(strstr(out, "192.0.2.7 timeout 10m"), "%s", out);
		free(out);
		out = run("nft list set inet waveguard ban4", NULL);
		ck_assert_msg(strstr(out, "198.51.100.0/24 timeout 10m"), "%s", out);
		free(out);
	} else {
		printf("kernel before 6.12: a re-add keeps the old timeout\n");
		ck_assert_uint_le(l.expires[ia], 30 * USEC_PER_SEC);
	}

	/* Delete then add in one flush: banned again. */
	ck_assert_int_eq(ban_nft_del(b, &a), 0);
	ck_assert_int_eq(ban_nft_add(b, &a, 60 * USEC_PER_SEC), 0);
	/* Add then delete in one flush: gone. */
	ck_assert_int_eq(ban_nft_add(b, &n, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_del(b, &n), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 4);
	ck_assert_int_eq(e.n, 0);
	l.n = 0;
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 1);
	ck_assert_int_eq(find(&l, "192.0.2.7"), 0);
	ck_assert_uint_le(l.expires[0], 60 * USEC_PER_SEC);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_errors_map_to_addresses)
{
	struct ban_nft *b = fresh(NULL);
	struct addr net = cidr("198.51.100.0/24"), sub = cidr("198.51.100.128/25");
	struct addr sub6 = cidr("2001:db8:5::/48"), net6 = cidr("2001:db8::/32");
	struct errs e = { 0 };

	ck_assert_int_eq(ban_nft_add(b, &net, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &sub6, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);

	/* 3,000 good ones, an overlapping one in the middle of a big message, 3,000 more good
	 * ones, an overlapping IPv6 network and a good IPv6 one. */
	for (unsigned i = 0; i < 6000; i++) {
		if (i == 3000)
			ck_assert_int_eq(ban_nft_add(b, &sub, 60 * USEC_PER_SEC), 0);
		struct addr a = { .family = AF_INET, .prefix = 32 };
		a.v4.s_addr = htonl(0x0a000000u + i);
		ck_assert_int_eq(ban_nft_add(b, &a, 60 * USEC_PER_SEC), 0);
	}
	struct addr good6 = cidr("2001:db9::1");
	ck_assert_int_eq(ban_nft_add(b, &net6, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &good6, 60 * USEC_PER_SEC), 0);

	int r = ban_nft_flush(b, on_error, &e);
	struct ban_nft_stats s;
	ban_nft_last_stats(b, &s);
	printf("2 bad elements among 6,002: %u transactions, %u messages\n", s.sends, s.messages);
	ck_assert_int_eq(r, 6001);
	ck_assert_int_eq(e.n, 2);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert_msg(addr_equal(&e.a[i], &sub) || addr_equal(&e.a[i], &net6), "%s",
			      fmt(&e.a[i]));
		ck_assert_msg(e.error[i] == -EEXIST, "%s: %s", fmt(&e.a[i]), strerror(-e.error[i]));
	}
	ck_assert_msg(!addr_equal(&e.a[0], &e.a[1]), "reported twice");

	int n = nftlist_bans(NULL, NULL, NULL);
	ck_assert_int_eq(n, 6000 + 1 + 2);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_missing_set_reported)
{
	struct ban_nft *b = NULL;
	struct errs e = { 0 };
	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	struct addr a = cidr("192.0.2.1"), c = cidr("192.0.2.2");
	ck_assert_int_eq(ban_nft_add(b, &a, USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &c, USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 0);
	ck_assert_int_eq(e.n, 2);
	ck_assert_int_eq(e.error[0], -ENOENT);
	ck_assert_int_eq(nftlist_bans(NULL, NULL, NULL), -ENOENT);
	ban_nft_free(b);
}
END_TEST

static struct addr burst_addr(unsigned i)
{
	/* distinct, not adjacent: 10.<i/250>.<i%250>.7 */
	struct addr a = { .family = AF_INET, .prefix = 32 };
	a.v4.s_addr = htonl(0x0a000007u | (i / 250) << 16 | (i % 250) << 8);
	return a;
}

/* Queues n bans (no ck_assert per element: check's bookkeeping would dominate the timing). */
static double queue_burst(struct ban_nft *b, unsigned from, unsigned n, uint64_t timeout)
{
	uint64_t t0 = now_usec();
	int bad = 0;
	for (unsigned i = from; i < from + n; i++) {
		struct addr a = burst_addr(i);
		bad |= ban_nft_add(b, &a, timeout);
	}
	uint64_t t1 = now_usec();
	ck_assert_int_eq(bad, 0);
	return (double)(t1 - t0) / 1000.0;
}

START_TEST(test_burst_10000)
{
	struct ban_nft *b = fresh(NULL);
	struct ban_nft_stats s;
	struct errs e = { 0 };

	double tq = queue_burst(b, 0, 10000, 3600 * USEC_PER_SEC);
	uint64_t t1 = now_usec();
	int r = ban_nft_flush(b, on_error, &e);
	uint64_t t2 = now_usec();
	ban_nft_last_stats(b, &s);
	ck_assert_int_eq(r, 10000);
	ck_assert_int_eq(e.n, 0);
	printf("burst of 10,000 IPv4 bans: queued in %.2f ms; flush %.1f ms: %u sendmsg "
	       "(one transaction), %u netlink messages, %zu bytes\n",
	       tq, (double)(t2 - t1) / 1000.0, s.sends, s.messages, s.bytes);
	ck_assert_uint_eq(s.sends, 1);

	uint64_t t3 = now_usec();
	ck_assert_int_eq(nftlist_bans(NULL, NULL, NULL), 10000);
	printf("listing 10,000 bans: %.1f ms\n", (double)(now_usec() - t3) / 1000.0);
	char *out = run("nft list set inet waveguard ban4_host", NULL);
	ck_assert_int_eq(count(out, " timeout 1h expires "), 10000);
	ck_assert_msg(strstr(out, "10.0.0.7 timeout 1h"), "first missing");
	ck_assert_msg(strstr(out, "10.39.249.7 timeout 1h"), "last missing");
	free(out);

	/* The same burst again (a wave that keeps going): all refreshed, no error. */
	queue_burst(b, 0, 10000, 7200 * USEC_PER_SEC);
	t1 = now_usec();
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 10000);
	t2 = now_usec();
	ck_assert_int_eq(e.n, 0);
	ban_nft_last_stats(b, &s);
	printf("the same 10,000 again (timeout refresh): %.1f ms, %u sendmsg, %u messages\n",
	       (double)(t2 - t1) / 1000.0, s.sends, s.messages);
	out = run("nft list set inet waveguard ban4_host", NULL);
	ck_assert_int_eq(count(out, kernel_updates_timeouts() ? " timeout 2h expires "
							      : " timeout 1h expires "),
			 10000);
	free(out);

	/* 10,000 IPv6 /64s interleaved with 10,000 more IPv4 ones: grouped per set. */
	uint64_t tq0 = now_usec();
	int bad = 0;
	for (unsigned i = 0; i < 10000; i++) {
		struct addr a = cidr("2001:db8::/64"), a4 = burst_addr(10000 + i);
		a.bytes[4] = (uint8_t)(i >> 8);
		a.bytes[5] = (uint8_t)i;
		a.bytes[7] = 1;
		bad |= ban_nft_add(b, &a, 3600 * USEC_PER_SEC);
		bad |= ban_nft_add(b, &a4, 3600 * USEC_PER_SEC);
	}
	ck_assert_int_eq(bad, 0);
	t1 = now_usec();
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 20000);
	t2 = now_usec();
	ck_assert_int_eq(e.n, 0);
	ban_nft_last_stats(b, &s);
	printf("10,000 IPv6 /64 interleaved with 10,000 IPv4: queued %.2f ms, flush %.1f ms, "
	       "%u sendmsg, %u messages, %zu bytes\n",
	       (double)(t1 - tq0) / 1000.0, (double)(t2 - t1) / 1000.0, s.sends, s.messages,
	       s.bytes);
	ck_assert_uint_le(s.messages, 8 + 12 + 2);
	ck_assert_int_eq(nftlist_bans(NULL, NULL, NULL), 30000);

	/* Larger than one 1 MiB transaction: split, all applied. */
	queue_burst(b, 20000, 40000, 600 * USEC_PER_SEC);
	t1 = now_usec();
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 40000);
	t2 = now_usec();
	ck_assert_int_eq(e.n, 0);
	ban_nft_last_stats(b, &s);
	printf("40,000 IPv4 bans: flush %.1f ms, %u sendmsg, %u messages, %zu bytes\n",
	       (double)(t2 - t1) / 1000.0, s.sends, s.messages, s.bytes);
	ck_assert_uint_ge(s.sends, 2);
	ck_assert_int_eq(nftlist_bans(NULL, NULL, NULL), 70000);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_ranges_and_edges)
{
	struct ban_nft *b = fresh(NULL);
	struct errs e = { 0 };
	struct listing l = { 0 };
	static const char *const nets[] = { "255.255.255.0/24", "0.0.0.0/8", "203.0.113.255",
					    "ffff:ffff:ffff:ffff::/64", "::/96" };

	for (size_t i = 0; i < ELEMENTSOF(nets); i++) {
		struct addr a = cidr(nets[i]);
		ck_assert_int_eq(ban_nft_add(b, &a, 60 * USEC_PER_SEC), 0);
	}
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), (int)ELEMENTSOF(nets));
	ck_assert_int_eq(e.n, 0);
	/* A range an admin added by hand comes back as the CIDR blocks that cover it. */
	ck_assert_int_eq(system("nft add element inet waveguard ban4 "
				"'{ 198.51.100.1-198.51.100.6 timeout 30s }'"),
			 0);
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), (int)ELEMENTSOF(nets) + 4);
	for (size_t i = 0; i < ELEMENTSOF(nets); i++)
		ck_assert_msg(find(&l, nets[i]) >= 0, "%s not listed", nets[i]);
	static const char *const blocks[] = { "198.51.100.1", "198.51.100.2/31", "198.51.100.4/31",
					      "198.51.100.6" };
	for (size_t i = 0; i < ELEMENTSOF(blocks); i++) {
		int k = find(&l, blocks[i]);
		ck_assert_msg(k >= 0, "%s not listed", blocks[i]);
		ck_assert_uint_le(l.expires[k], 30 * USEC_PER_SEC);
	}
	char *out = run("nft list set inet waveguard ban4", NULL);
	ck_assert_msg(strstr(out, "255.255.255.0/24 timeout 1m"), "%s", out);
	ck_assert_msg(strstr(out, "0.0.0.0/8 timeout 1m"), "%s", out);
	free(out);

	for (size_t i = 0; i < ELEMENTSOF(nets); i++) {
		struct addr a = cidr(nets[i]);
		ck_assert_int_eq(ban_nft_del(b, &a), 0);
	}
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), (int)ELEMENTSOF(nets));
	ck_assert_int_eq(e.n, 0);
	ck_assert_int_eq(nftlist_bans(NULL, NULL, NULL), 4);

	/* Refused before anything is sent. */
	struct addr bad = { .family = AF_UNIX };
	ck_assert_int_eq(ban_nft_add(b, &bad, 0), -EAFNOSUPPORT);
	bad = cidr("192.0.2.1");
	bad.prefix = 33;
	ck_assert_int_eq(ban_nft_add(b, &bad, 0), -EINVAL);
	ck_assert_int_eq(ban_nft_pending(b), 0);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_expiry_and_rebans)
{
	struct ban_nft *b = fresh(NULL);
	struct errs e = { 0 };
	struct addr a = cidr("192.0.2.9"), a6 = cidr("2001:db8:9::/48");

	ck_assert_int_eq(ban_nft_add(b, &a, 800 * USEC_PER_MSEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &a6, 800 * USEC_PER_MSEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);
	ck_assert_int_eq(nftlist_bans(NULL, NULL, NULL), 2);

	/* The kernel expires them (poll with a deadline). */
	uint64_t deadline = now_usec() + 10 * USEC_PER_SEC;
	int n;
	while ((n = nftlist_bans(NULL, NULL, NULL)) > 0 && now_usec() < deadline)
		usleep(20 * 1000);
	ck_assert_msg(n == 0, "still %d elements after 10 s", n);
	char *out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(!strstr(out, "192.0.2") && !strstr(out, "2001:db8:9"), "%s", out);
	free(out);

	/* Banning again at once, the same networks or overlapping ones, is fine even if the
	 * kernel's garbage collector has not run yet. */
	struct addr over = cidr("192.0.2.8/31");
	ck_assert_int_eq(ban_nft_add(b, &a, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &a6, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);
	ck_assert_int_eq(e.n, 0);
	ck_assert_int_eq(ban_nft_del(b, &a), 0);
	ck_assert_int_eq(ban_nft_add(b, &over, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);
	ck_assert_int_eq(e.n, 0);

	/* Adjacent networks: the end of one is the start of the other. */
	struct addr lo = cidr("192.0.2.0/25"), hi = cidr("192.0.2.128/25");
	ck_assert_int_eq(ban_nft_del(b, &over), 0);
	ck_assert_int_eq(ban_nft_add(b, &hi, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &lo, 30 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 3);
	ck_assert_int_eq(e.n, 0);
	struct listing l = { 0 };
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 3);
	ck_assert_int_eq(find(&l, "192.0.2.0/25"), 0);
	ck_assert_int_eq(find(&l, "192.0.2.128/25"), 1);
	ck_assert_uint_le(l.expires[0], 30 * USEC_PER_SEC);
	ck_assert_uint_gt(l.expires[1], 30 * USEC_PER_SEC);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_bad_timeout_reported)
{
	struct ban_nft *b = fresh(NULL);
	struct errs e = { 0 };
	struct addr good = cidr("192.0.2.20"), bad = cidr("192.0.2.21"), good2 = cidr("192.0.2.22");

	ck_assert_int_eq(ban_nft_add(b, &good, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &bad, UINT64_MAX), 0);
	ck_assert_int_eq(ban_nft_add(b, &good2, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);
	ck_assert_int_eq(e.n, 1);
	ck_assert_msg(addr_equal(&e.a[0], &bad), "%s", fmt(&e.a[0]));
	printf("timeout of UINT64_MAX us: %s\n", strerror(-e.error[0]));
	struct listing l = { 0 };
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 2);
	ck_assert_int_ge(find(&l, "192.0.2.20"), 0);
	ck_assert_int_ge(find(&l, "192.0.2.22"), 0);
	ban_nft_free(b);
}
END_TEST

static bool monitor_lost(struct ban_nft *b, int *ret_events)
{
	bool lost = false;
	int r = ban_nft_monitor_process(b, &lost);
	ck_assert_int_ge(r, 0);
	if (ret_events)
		*ret_events = r;
	return lost;
}

START_TEST(test_monitor)
{
	struct ban_nft *b = NULL;
	int events;
	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, 64), 1);
	ck_assert_int_eq(ban_nft_monitor_process(b, &(bool){ false }), -EBADF);
	int fd = ban_nft_monitor_fd(b);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ban_nft_monitor_fd(b), fd);

	/* Our own changes never reach the monitor, not even a 10,000-ban burst. */
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	queue_burst(b, 0, 10000, 3600 * USEC_PER_SEC);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 10000);
	struct addr gone = cidr("10.0.0.7");
	ck_assert_int_eq(ban_nft_del(b, &gone), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, 0), 0); /* filtered in the kernel: nothing queued */
	ck_assert(!monitor_lost(b, &events));
	ck_assert_int_eq(events, 0);

	/* Other tables, and harmless changes of ours, are not a loss. */
	ck_assert_int_eq(system("nft add table inet other && nft delete table inet other"), 0);
	ck_assert_int_eq(system("nft add element inet waveguard ban4 '{ 192.0.2.99 }'"), 0);
	ck_assert_int_eq(system("nft add element inet waveguard ban6_host '{ 2001:db8::99 }'"), 0);
	ck_assert_int_eq(system("nft add element inet waveguard ban6_64 '{ 2001:db8:0:99:: }'"), 0);
	ck_assert(!monitor_lost(b, &events));
	ck_assert_int_gt(events, 0);

	static const char *const damage[] = {
		"nft delete element inet waveguard ban4_host '{ 10.0.1.7 }'",
		"nft delete element inet waveguard ban4 '{ 192.0.2.99 }'",
		"nft delete element inet waveguard ban6_host '{ 2001:db8::99 }'",
		"nft delete element inet waveguard ban6_64 '{ 2001:db8:0:99:: }'",
		"nft add element inet waveguard ban6_64 '{ 2001:db8:0:98:: }' && "
		"nft flush set inet waveguard ban6_64",
		"nft flush set inet waveguard ban4_host",
		"nft flush set inet waveguard ban4",
		"nft flush chain inet waveguard input",
		"nft delete chain inet waveguard input",
		/* a set in use cannot be deleted alone (EBUSY) */
		"nft 'flush chain inet waveguard input; delete set inet waveguard ban6'",
		"nft 'flush chain inet waveguard input; delete set inet waveguard ban6_host'",
		"nft 'flush chain inet waveguard input; delete set inet waveguard ban6_64'",
		"nft add table inet waveguard '{ flags dormant; }'",
		"nft delete table inet waveguard",
	};
	for (size_t i = 0; i < ELEMENTSOF(damage); i++) {
		ck_assert_int_eq(ban_nft_setup(b), 0);
		ck_assert(!monitor_lost(b, NULL));
		ck_assert_msg(system(damage[i]) == 0, "%s", damage[i]);
		ck_assert_int_eq(poll(&p, 1, 0), 1); /* queued before nft returned */
		ck_assert_msg(monitor_lost(b, NULL), "not noticed: %s", damage[i]);
	}
	/* A set deleted on its own (once no rule uses it). */
	ck_assert_int_eq(ban_nft_setup(b), 0);
	ck_assert_int_eq(system("nft flush chain inet waveguard input"), 0);
	ck_assert(monitor_lost(b, NULL));
	ck_assert_int_eq(system("nft delete set inet waveguard ban4"), 0);
	ck_assert(monitor_lost(b, NULL));
	ck_assert_int_eq(system("nft delete set inet waveguard ban4_host"), 0);
	ck_assert(monitor_lost(b, NULL));

	/* setup() repairs: the table is back and awake. */
	ck_assert_int_eq(ban_nft_setup(b), 0);
	char *out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(!strstr(out, "dormant") && count(out, " drop") == 5 &&
			      count(out, "\tset ") == 5,
		      "%s", out);
	free(out);
	ban_nft_free(b);
}
END_TEST

START_TEST(test_cleanup)
{
	struct ban_nft *b = fresh(NULL);
	int st;
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	char *out = run("nft list table inet waveguard 2>&1", &st);
	ck_assert_msg(st != 0, "table still there: %s", out);
	free(out);
	ck_assert_int_eq(ban_nft_cleanup(b), 0); /* ENOENT is success */
	ban_nft_free(b);
}
END_TEST

START_TEST(test_other_tables_untouched)
{
	ck_assert_int_eq(system("nft add table inet other && "
				"nft add chain inet other input "
				"'{ type filter hook input priority 0; }' && "
				"nft add rule inet other input tcp dport 22 accept"),
			 0);
	struct ban_nft *b = fresh(NULL);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	char *out = run("nft list table inet other", NULL);
	ck_assert_msg(strstr(out, "tcp dport 22 accept"), "%s", out);
	free(out);
	ck_assert_int_eq(system("nft delete table inet other"), 0);
	ban_nft_free(b);
}
END_TEST

/* Returns 1 when a TCP connection from src to 127.0.0.1:port (to [::1]:port for an IPv6 src) is
 * established within 300 ms, 0 when not. */
static int try_connect(const char *src, uint16_t port)
{
	bool v6 = strchr(src, ':') != NULL;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6 };
	struct sockaddr *sp = v6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa;
	socklen_t sl = v6 ? sizeof(sa6) : sizeof(sa);
	if (v6)
		ck_assert_msg(inet_pton(AF_INET6, src, &sa6.sin6_addr) == 1, "%s", src);
	else
		ck_assert_msg(inet_pton(AF_INET, src, &sa.sin_addr) == 1, "%s", src);
	ck_assert_msg(bind(fd, sp, sl) == 0, "bind %s: %s", src, strerror(errno));
	sa.sin_port = sa6.sin6_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr), 1);
	sa6.sin6_addr = in6addr_loopback;
	int r = connect(fd, sp, sl);
	ck_assert(r == 0 || errno == EINPROGRESS);
	if (r != 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		r = poll(&p, 1, 300);
		ck_assert_int_ge(r, 0);
		if (r == 0) {
			close(fd);
			return 0;
		}
		int err = 0;
		socklen_t l = sizeof(err);
		ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l), 0);
		ck_assert_msg(err == 0, "connect from %s: %s", src, strerror(err));
	}
	close(fd);
	return 1;
}

START_TEST(test_packets_dropped)
{
	static const uint16_t smtp[] = { 25 };
	struct ban_nft_config c = { .ports = smtp, .n_ports = 1 };
	struct ban_nft *b = fresh(&c);

	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	int one = 1;
	ck_assert_int_eq(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(25) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 16), 0);

	ck_assert_int_eq(try_connect("127.0.0.2", 25), 1); /* not banned yet */

	struct addr a = cidr("127.0.0.2");
	ck_assert_int_eq(ban_nft_add(b, &a, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	ck_assert_int_eq(try_connect("127.0.0.2", 25), 0);
	ck_assert_int_eq(try_connect("127.0.0.3", 25), 1);

	/* Dropped by the host set's rule. */
	char *out = run("nft list chain inet waveguard input", NULL);
	ck_assert_msg(strstr(out, "ip saddr @ban4_host counter packets 0 ") == NULL &&
			      strstr(out, "ip saddr @ban4 counter packets 0 "),
		      "not counted: %s", out);
	free(out);

	/* Unban: it connects again. */
	ck_assert_int_eq(ban_nft_del(b, &a), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	ck_assert_int_eq(try_connect("127.0.0.2", 25), 1);

	/* A /24 covers its members. */
	struct addr net = cidr("127.0.5.0/24");
	ck_assert_int_eq(ban_nft_add(b, &net, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	ck_assert_int_eq(try_connect("127.0.5.77", 25), 0);
	ck_assert_int_eq(try_connect("127.0.6.1", 25), 1);
	out = run("nft list chain inet waveguard input", NULL);
	ck_assert_msg(strstr(out, "ip saddr @ban4 counter packets 0 ") == NULL, "not counted: %s",
		      out);
	free(out);

	/* A host inside a banned network stays banned when the network is lifted. */
	struct addr h = cidr("127.0.5.9");
	ck_assert_int_eq(ban_nft_add(b, &h, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_del(b, &net), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 2);
	ck_assert_int_eq(try_connect("127.0.5.9", 25), 0);
	ck_assert_int_eq(try_connect("127.0.5.77", 25), 1);
	close(l);
	ban_nft_free(b);
}
END_TEST

/* A listening socket on [::1]:port. */
static int listen_on6(uint16_t port)
{
	int l = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	int one = 1;
	ck_assert_int_eq(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_int_eq(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), 0);
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	sa.sin6_addr = in6addr_loopback;
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 64), 0);
	return l;
}

/* A listening socket on 127.0.0.1:port. */
static int listen_on(uint16_t port)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	int one = 1;
	ck_assert_int_eq(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 16), 0);
	return l;
}

/* A connection from src to 127.0.0.1:port, established (connect from src, accept on l). Sets
 * *ret_server to the accepted socket; returns the client's. */
static int open_session(int l, const char *src, uint16_t port, int *ret_server)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	ck_assert_int_eq(inet_pton(AF_INET, src, &sa.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect from %s: %s",
		      src, strerror(errno));
	struct sockaddr_in me, peer;
	socklen_t sl = sizeof(me);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&me, &sl), 0);
	/* Skip the connections of earlier checks (try_connect()) still in the accept queue. */
	for (;;) {
		struct pollfd p = { .fd = l, .events = POLLIN };
		ck_assert_int_eq(poll(&p, 1, 1000), 1);
		sl = sizeof(peer);
		*ret_server = accept4(l, (struct sockaddr *)&peer, &sl, SOCK_CLOEXEC);
		ck_assert_int_ge(*ret_server, 0);
		if (peer.sin_addr.s_addr == me.sin_addr.s_addr && peer.sin_port == me.sin_port)
			return fd;
		close(*ret_server);
	}
}

/* Reads from fd what arrives within ms milliseconds: the byte count (0 at EOF), or -1 when
 * nothing arrived. */
static ssize_t recv_within(int fd, char *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, ms);
	ck_assert_int_ge(r, 0);
	if (r == 0)
		return -1;
	ssize_t n = recv(fd, buf, len, 0);
	ck_assert_int_ge(n, 0);
	return n;
}

static void send_all(int fd, const char *s)
{
	ck_assert_int_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* A session open when its source is banned finishes (Courier's 511 reject is logged, and the
 * source banned, before the client's QUIT): only new connection attempts are dropped. In
 * all-ports mode every packet is dropped, those of open sessions too. */
START_TEST(test_open_session_finishes)
{
	struct ban_nft *b = fresh(NULL); /* the default ports, 25 among them */
	int l = listen_on(25), srv;
	char buf[64];

	int cl = open_session(l, "127.0.0.2", 25, &srv);
	send_all(srv, "220 test ESMTP\r\n");
	ck_assert_int_eq(recv_within(cl, buf, sizeof(buf), 1000), 16);
	send_all(cl, "RCPT TO:<x@y.test>\r\n");
	ck_assert_int_eq(recv_within(srv, buf, sizeof(buf), 1000), 20);

	/* Banned while its session is open (the server has just sent its reject). */
	struct addr a = cidr("127.0.0.2");
	ck_assert_int_eq(ban_nft_add(b, &a, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	send_all(srv, "511 Listed\r\n");
	ck_assert_int_eq(recv_within(cl, buf, sizeof(buf), 1000), 12);

	/* Its QUIT reaches the server, the answer reaches it, and its FIN too: the server sees
	 * EOF at once (no retransmission: nothing of the session was dropped). */
	send_all(cl, "QUIT\r\n");
	ssize_t n = recv_within(srv, buf, sizeof(buf), 1000);
	ck_assert_msg(n == 6 && memcmp(buf, "QUIT\r\n", 6) == 0, "QUIT not received: %zd", n);
	send_all(srv, "221 Bye\r\n");
	ck_assert_int_eq(recv_within(cl, buf, sizeof(buf), 1000), 9);
	ck_assert_int_eq(close(cl), 0);
	ck_assert_msg(recv_within(srv, buf, sizeof(buf), 150) == 0, "no EOF: the FIN was dropped");
	ck_assert_int_eq(close(srv), 0);
	char *out = run("nft list chain inet waveguard input", NULL);
	ck_assert_msg(strstr(out, "ip saddr @ban4_host counter packets 0 "),
		      "a packet of the open session was dropped: %s", out);
	free(out);

	/* A new session: its SYN is dropped (no SYN-ACK), and counted. */
	ck_assert_int_eq(try_connect("127.0.0.2", 25), 0);
	ck_assert_int_eq(try_connect("127.0.0.3", 25), 1);
	out = run("nft list chain inet waveguard input", NULL);
	ck_assert_msg(!strstr(out, "ip saddr @ban4_host counter packets 0 "), "not counted: %s",
		      out);
	free(out);
	ban_nft_free(b);

	/* All ports: a firewall-style block, open sessions included. */
	struct ban_nft_config c = { .all_ports = true };
	ck_assert_int_eq(ban_nft_new(&c, &b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	ck_assert_int_eq(try_connect("127.0.0.2", 25), 0);
	cl = open_session(l, "127.0.0.4", 25, &srv);
	struct addr a4 = cidr("127.0.0.4");
	ck_assert_int_eq(ban_nft_add(b, &a4, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	send_all(cl, "QUIT\r\n");
	n = recv_within(srv, buf, sizeof(buf), 300);
	out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(n < 0, "all ports: data of an open session passed: %zd %s", n, out);
	free(out);
	/* Unbanned: the retransmission gets through. */
	ck_assert_int_eq(ban_nft_del(b, &a4), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	ck_assert_int_eq(recv_within(srv, buf, sizeof(buf), 5000), 6);
	close(cl);
	close(srv);
	close(l);
	ban_nft_free(b);
}
END_TEST

/* Port groups: jails that close other ports get four sets of their own, named from a hash of
 * the ports, and their rules in the same chain; a ban goes to its group's sets only, and closes
 * its group's ports only. */
static const uint16_t auth_ports[] = { 110, 143, 993, 995, 587, 465, 25 };

START_TEST(test_groups_sets_and_rules)
{
	static const uint16_t same[] = { 25, 995, 143, 143, 110, 465, 993, 587 };
	static const uint16_t dflt[] = { 587, 25, 465, 25 };
	struct ban_nft *b = fresh(NULL);
	unsigned g = 99, g2 = 99, g0 = 99, ga = 99;

	ck_assert_int_eq(ban_nft_groups(b), 1);
	ck_assert_int_eq(ban_nft_group(b, auth_ports, ELEMENTSOF(auth_ports), false, &g), 0);
	ck_assert_int_eq(g, 1);
	/* The same ports in another order, with a duplicate: the same group. */
	ck_assert_int_eq(ban_nft_group(b, same, ELEMENTSOF(same), false, &g2), 0);
	ck_assert_int_eq(g2, 1);
	ck_assert_int_eq(ban_nft_group(b, dflt, ELEMENTSOF(dflt), false, &g0), 0);
	ck_assert_int_eq(g0, 0);
	ck_assert_int_eq(ban_nft_group(b, NULL, 0, true, &ga), 0);
	ck_assert_int_eq(ga, 2);
	ck_assert_int_eq(ban_nft_groups(b), 3);
	ck_assert_int_eq(ban_nft_group_find(b, same, ELEMENTSOF(same), false), 1);
	ck_assert_int_eq(ban_nft_group_find(b, auth_ports, 2, false), -ENOENT);
	ck_assert_int_eq(ban_nft_group(b, NULL, 0, false, &g2), -EINVAL);
	ck_assert_str_eq(ban_nft_group_set(b, 0, AF_INET), "ban4");
	ck_assert_str_eq(ban_nft_group_set(b, 2, AF_INET6), "ban6_all");
	const char *set4 = ban_nft_group_set(b, 1, AF_INET);
	const char *set6 = ban_nft_group_set(b, 1, AF_INET6);
	ck_assert_msg(strncmp(set4, "ban4_p", 6) == 0 && strlen(set4) == 14, "%s", set4);
	ck_assert_str_eq(set6 + 4, set4 + 4);

	/* Twice, as a second start does: no duplicate rule, every set once. */
	ck_assert_int_eq(ban_nft_setup(b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	char *out = run("nft list table inet waveguard", NULL), want[256];
	ck_assert_msg(count(out, "\tset ") == 12 && count(out, " drop") == 12, "%s", out);
	ck_assert_int_eq(count_syn_matches(out), 8);
	snprintf(want, sizeof(want), "ip saddr @%s_host counter", set4);
	ck_assert_msg(has_syn_rule(out, "tcp dport { 25, 110, 143, 465, 587, 993, 995 }", want),
		      "%s: %s", want, out);
	snprintf(want, sizeof(want), "ip6 saddr @%s counter", set6);
	ck_assert_msg(has_syn_rule(out, "tcp dport { 25, 110, 143, 465, 587, 993, 995 }", want),
		      "%s: %s", want, out);
	ck_assert_msg(has_syn_rule(out, "tcp dport { 25, 465, 587 }", "ip saddr @ban4 counter"),
		      "%s", out);
	ck_assert_msg(strstr(out, "\t\tip saddr @ban4_all_host counter packets 0 bytes 0 drop"),
		      "%s", out);
	free(out);

	/* Each ban in its group's sets, and only there. */
	struct addr h = cidr("192.0.2.1"), n = cidr("2001:db8:1::/64"), d = cidr("192.0.2.2");
	ck_assert_int_eq(ban_nft_add_group(b, 1, &h, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add_group(b, 1, &n, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &d, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add_group(b, 3, &d, 60 * USEC_PER_SEC), -EINVAL);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 3);
	struct listing l1 = { 0 }, l0 = { 0 }, la = { 0 };
	ck_assert_int_eq(nftlist_group_bans(NULL, b, 1, on_elem, &l1), 2);
	ck_assert_int_eq(nftlist_group_bans(NULL, b, 0, on_elem, &l0), 1);
	ck_assert_int_eq(nftlist_group_bans(NULL, b, 2, on_elem, &la), 0);
	ck_assert(find(&l1, "192.0.2.1") >= 0 && find(&l1, "2001:db8:1::/64") >= 0);
	ck_assert(find(&l0, "192.0.2.2") >= 0);

	/* An unban finds the element whatever its group; counted once. */
	ck_assert_int_eq(ban_nft_del(b, &h), 0);
	ck_assert_int_eq(ban_nft_del(b, &n), 0);
	ck_assert_int_eq(ban_nft_pending(b), 2);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 2);
	l1 = (struct listing){ 0 };
	ck_assert_int_eq(nftlist_group_bans(NULL, b, 1, on_elem, &l1), 0);
	ck_assert_int_eq(nftlist_bans(NULL, NULL, NULL), 1);

	/* A new start with one group: the other sets stay (with their elements), their rules go. */
	ban_nft_free(b);
	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(count(out, " drop") == 4 && count(out, "\tset ") == 12, "%s", out);
	free(out);
	ban_nft_free(b);
}
END_TEST

/* Group limits and names. */
START_TEST(test_groups_limits)
{
	struct ban_nft *b = NULL;
	unsigned g;
	uint16_t p;

	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	for (unsigned i = 1; i < BAN_NFT_GROUPS_MAX; i++) {
		p = (uint16_t)(1000 + i);
		ck_assert_int_eq(ban_nft_group(b, &p, 1, false, &g), 0);
		ck_assert_int_eq(g, i);
	}
	p = 2000;
	ck_assert_int_eq(ban_nft_group(b, &p, 1, false, &g), -ENOSPC);
	p = 1001;
	ck_assert_int_eq(ban_nft_group(b, &p, 1, false, &g), 0);
	ck_assert_int_eq(g, 1);
	ban_nft_trim(b, 2, 0);
	ck_assert_int_eq(ban_nft_groups(b), 2);
	p = 0;
	ck_assert_int_eq(ban_nft_group(b, &p, 1, false, &g), -EINVAL);
	ban_nft_free(b);

	/* The names follow the configured ones. */
	struct ban_nft_config c = { .set4 = "v4", .set6 = "v6", .all_ports = true };
	ck_assert_int_eq(ban_nft_new(&c, &b), 0);
	ck_assert_int_eq(ban_nft_group(b, NULL, 0, true, &g), 0);
	ck_assert_int_eq(g, 0);
	ck_assert_int_eq(ban_nft_group(b, auth_ports, ELEMENTSOF(auth_ports), false, &g), 0);
	ck_assert_msg(strncmp(ban_nft_group_set(b, 1, AF_INET), "v4_p", 4) == 0, "%s",
		      ban_nft_group_set(b, 1, AF_INET));
	ck_assert_ptr_null(ban_nft_group_set(b, 2, AF_INET));
	ban_nft_free(b);
}
END_TEST

/* What a client sees: banned in the IMAP group, it can open neither 143 nor 25 (the group's
 * ports include the SMTP ones); banned in the default group, it still opens 143. */
START_TEST(test_groups_packets)
{
	struct ban_nft *b = NULL;
	unsigned g;

	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ck_assert_int_eq(ban_nft_group(b, auth_ports, ELEMENTSOF(auth_ports), false, &g), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	int l25 = listen_on(25), l143 = listen_on(143), l993 = listen_on(993);

	struct addr auth = cidr("127.0.0.2"), smtp = cidr("127.0.0.3");
	ck_assert_int_eq(ban_nft_add_group(b, g, &auth, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &smtp, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 2);
	ck_assert_int_eq(try_connect("127.0.0.2", 143), 0);
	ck_assert_int_eq(try_connect("127.0.0.2", 993), 0);
	ck_assert_int_eq(try_connect("127.0.0.2", 25), 0);
	ck_assert_int_eq(try_connect("127.0.0.3", 25), 0);
	ck_assert_int_eq(try_connect("127.0.0.3", 143), 1);
	ck_assert_int_eq(try_connect("127.0.0.4", 143), 1);

	/* The table restored by a setup after a flush of the ruleset: every group is back. */
	ck_assert_int_eq(system("nft flush ruleset"), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	ck_assert_int_eq(ban_nft_add_group(b, g, &auth, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	ck_assert_int_eq(try_connect("127.0.0.2", 993), 0);
	ck_assert_int_eq(try_connect("127.0.0.3", 25), 1);

	ck_assert_int_eq(ban_nft_del(b, &auth), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	ck_assert_int_eq(try_connect("127.0.0.2", 143), 1);
	close(l25);
	close(l143);
	close(l993);
	ban_nft_free(b);
}
END_TEST

/* Prefix sets: networks of the widths the jails ban in hash sets of network addresses, looked up
 * with the source masked; other widths stay in the interval sets. */
START_TEST(test_prefix_sets)
{
	struct ban_nft *b = NULL;
	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, 64), 1);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, 64), 0); /* already there */
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET, 24), 1);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET, 32), 0); /* the host set */
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, 128), 0);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET, 33), -EINVAL);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET, 0), -EINVAL);
	ck_assert_int_eq(ban_nft_group_prefix(b, 1, AF_INET, 24), -EINVAL);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_UNIX, 24), -EINVAL);
	ck_assert_int_eq(ban_nft_prefix_sets(b), 2);
	ck_assert_str_eq(ban_nft_group_prefix_set(b, 0, AF_INET6, 64), "ban6_64");
	ck_assert_str_eq(ban_nft_group_prefix_set(b, 0, AF_INET, 24), "ban4_24");
	ck_assert_ptr_null(ban_nft_group_prefix_set(b, 0, AF_INET6, 48));
	ck_assert_int_eq(ban_nft_setup(b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0); /* a second start: no duplicates */

	char *out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(
		strstr(out, "set ban6_64 {\n\t\ttype ipv6_addr\n\t\tflags timeout\n") &&
			strstr(out, "set ban4_24 {\n\t\ttype ipv4_addr\n\t\tflags timeout\n") &&
			strstr(out, "set ban6 {\n\t\ttype ipv6_addr\n\t\tflags interval,timeout"),
		"%s", out);
	ck_assert_msg(count(out, "\tset ") == 6 && count(out, " drop") == 6 &&
			      count_syn_matches(out) == 6,
		      "%s", out);
	ck_assert_msg(has_masked_rule(out, "tcp dport { 25, 465, 587 }", MASK64, "ban6_64") &&
			      has_masked_rule(out, "tcp dport { 25, 465, 587 }", MASK24, "ban4_24"),
		      "%s", out);
	free(out);
	ban_nft_free(b);
}
END_TEST

/* Each width where it belongs: a /64 or /24 in its prefix set, other networks in the interval
 * sets, single addresses in the host sets. */
START_TEST(test_prefix_sets_elements)
{
	struct ban_nft *b = fresh(NULL);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, 64), 1);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET, 24), 1);
	ck_assert_int_eq(ban_nft_setup(b), 0);

	/* The host bits of a /64 are cleared. */
	struct addr n64 = cidr("2001:db8:1:2::1"), n48 = cidr("2001:db8::/48");
	struct addr n24 = cidr("192.0.2.0/24"), n25 = cidr("198.51.100.0/25");
	struct addr h = cidr("192.0.2.7"), in48 = cidr("2001:db8:0:5::/64");
	n64.prefix = 64;
	struct errs e = { 0 };
	ck_assert_int_eq(ban_nft_add(b, &n64, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &n48, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &n24, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &n25, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &h, 60 * USEC_PER_SEC), 0);
	/* A /64 inside a banned /48: no overlap (the interval set refuses one). */
	ck_assert_int_eq(ban_nft_add(b, &in48, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 6);
	ck_assert_msg(e.n == 0, "%s: %s", fmt(&e.a[0]), strerror(-e.error[0]));
	char *out = run("nft list set inet waveguard ban6_64", NULL);
	ck_assert_msg(strstr(out, "2001:db8:1:2:: timeout 1m") &&
			      strstr(out, "2001:db8:0:5:: timeout 1m") &&
			      count(out, " timeout ") == 2,
		      "%s", out);
	free(out);
	out = run("nft list set inet waveguard ban6", NULL);
	ck_assert_msg(strstr(out, "2001:db8::/48 timeout 1m") && count(out, " timeout ") == 1, "%s",
		      out);
	free(out);
	out = run("nft list set inet waveguard ban4_24", NULL);
	ck_assert_msg(strstr(out, "192.0.2.0 timeout 1m") && count(out, " timeout ") == 1, "%s",
		      out);
	free(out);
	out = run("nft list set inet waveguard ban4", NULL);
	ck_assert_msg(strstr(out, "198.51.100.0/25 timeout 1m") && count(out, " timeout ") == 1,
		      "%s", out);
	free(out);
	struct listing l = { 0 };
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 6);
	static const char *const listed[] = { "192.0.2.0/24",	   "192.0.2.7",
					      "198.51.100.0/25",   "2001:db8::/48",
					      "2001:db8:0:5::/64", "2001:db8:1:2::/64" };
	for (size_t i = 0; i < ELEMENTSOF(listed); i++)
		ck_assert_msg(find(&l, listed[i]) == (int)i, "%s at %d", listed[i],
			      find(&l, listed[i]));

	/* Unban: gone from the hash sets, counted once each. */
	ck_assert_int_eq(ban_nft_del(b, &n64), 0);
	ck_assert_int_eq(ban_nft_del(b, &n24), 0);
	ck_assert_int_eq(ban_nft_pending(b), 2);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);
	ck_assert_int_eq(e.n, 0);
	l.n = 0;
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 4);
	ck_assert_int_lt(find(&l, "2001:db8:1:2::/64"), 0);
	ck_assert_int_lt(find(&l, "192.0.2.0/24"), 0);
	out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(!strstr(out, "2001:db8:1:2::") && !strstr(out, "192.0.2.0 "), "%s", out);
	free(out);
	ban_nft_free(b);
}
END_TEST

/* A table of the version before the prefix sets: its /64s are in the interval set. They stay
 * there, blocking, until they expire; re-banned they go to the hash set too; an unban removes
 * them from both. */
START_TEST(test_prefix_sets_upgrade)
{
	struct ban_nft *b = fresh(NULL);
	struct addr n = cidr("2001:db8:9:9::/64"), other = cidr("2001:db8:9:a::/64");
	ck_assert_int_eq(ban_nft_add(b, &n, 600 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &other, 600 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 2);
	ban_nft_free(b);
	char *out = run("nft list set inet waveguard ban6", NULL);
	ck_assert_msg(strstr(out, "2001:db8:9:9::/64 timeout 10m"), "%s", out);
	free(out);

	/* The next start has a jail with prefix6 = 64. */
	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, 64), 1);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(
		strstr(out, "2001:db8:9:9::/64 timeout 10m") &&
			has_masked_rule(out, "tcp dport { 25, 465, 587 }", MASK64, "ban6_64") &&
			has_syn_rule(out, "tcp dport { 25, 465, 587 }", "ip6 saddr @ban6 counter"),
		"%s", out);
	free(out);
	ck_assert_int_eq(ban_nft_add(b, &n, 600 * USEC_PER_SEC), 0); /* restored at start */
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	struct listing l = { 0 };
	ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), 3); /* in both sets */
	struct errs e = { 0 };
	ck_assert_int_eq(ban_nft_del(b, &n), 0);
	ck_assert_int_eq(ban_nft_del(b, &other), 0); /* only in the interval set */
	ck_assert_int_eq(ban_nft_pending(b), 2);
	ck_assert_int_eq(ban_nft_flush(b, on_error, &e), 2);
	ck_assert_int_eq(e.n, 0);
	ck_assert_int_eq(nftlist_bans(NULL, NULL, NULL), 0);
	out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(!strstr(out, "2001:db8:9:"), "%s", out);
	free(out);
	ban_nft_free(b);
}
END_TEST

/* What a client sees: every host of a banned /64 (or /24) is blocked, another network's is not; a
 * width without a prefix set (a /48 by hand) still blocks through the interval set; after a
 * flush of the ruleset, a setup and the bans again block as before. */
START_TEST(test_prefix_sets_packets)
{
	static const char *const addrs[] = { "2001:db8:5:6::77", "2001:db8:5:6::78",
					     "2001:db8:5:7::1", "2001:db8:6:1::1" };
	for (size_t i = 0; i < ELEMENTSOF(addrs); i++) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "ip -6 addr replace %s/128 dev lo nodad", addrs[i]);
		ck_assert_msg(system(cmd) == 0, "%s", cmd);
	}
	struct ban_nft *b = NULL;
	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, 64), 1);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET, 24), 1);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	int l4 = listen_on(25), l6 = listen_on6(25);
	for (size_t i = 0; i < ELEMENTSOF(addrs); i++)
		ck_assert_msg(try_connect(addrs[i], 25) == 1, "%s before any ban", addrs[i]);

	struct addr n64 = cidr("2001:db8:5:6::77"), n24 = cidr("127.0.7.9");
	n64.prefix = 64;
	n24.prefix = 24;
	ck_assert_int_eq(ban_nft_add(b, &n64, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &n24, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 2);
	ck_assert_int_eq(try_connect("2001:db8:5:6::77", 25), 0);
	ck_assert_int_eq(try_connect("2001:db8:5:6::78", 25), 0); /* another host of the /64 */
	ck_assert_int_eq(try_connect("2001:db8:5:7::1", 25), 1);  /* another /64 */
	ck_assert_int_eq(try_connect("127.0.7.200", 25), 0);
	ck_assert_int_eq(try_connect("127.0.8.1", 25), 1);
	char *out = run("nft list chain inet waveguard input", NULL);
	ck_assert_msg(!has_masked_rule(out, "tcp dport { 25, 465, 587 }", MASK64,
				       "ban6_64 counter packets 0 ") &&
			      !has_masked_rule(out, "tcp dport { 25, 465, 587 }", MASK24,
					       "ban4_24 counter packets 0 "),
		      "dropped by other rules than the prefix sets': %s", out);
	free(out);

	/* A /48 by hand: the interval set. */
	struct addr n48 = cidr("2001:db8:6::/48");
	ck_assert_int_eq(ban_nft_add(b, &n48, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	ck_assert_int_eq(try_connect("2001:db8:6:1::1", 25), 0);
	out = run("nft list set inet waveguard ban6", NULL);
	ck_assert_msg(strstr(out, "2001:db8:6::/48"), "%s", out);
	free(out);

	/* The ruleset flushed: a setup and the bans again (what the daemon does when it notices).
	 */
	ck_assert_int_eq(system("nft flush ruleset"), 0);
	ck_assert_int_eq(try_connect("2001:db8:5:6::78", 25), 1);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	ck_assert_int_eq(ban_nft_add(b, &n64, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &n48, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 2);
	ck_assert_int_eq(try_connect("2001:db8:5:6::78", 25), 0);
	ck_assert_int_eq(try_connect("2001:db8:6:1::1", 25), 0);

	/* Unbanned: its hosts connect again, the /48 stays banned. */
	ck_assert_int_eq(ban_nft_del(b, &n64), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	ck_assert_int_eq(try_connect("2001:db8:5:6::78", 25), 1);
	ck_assert_int_eq(try_connect("2001:db8:6:1::1", 25), 0);
	close(l4);
	close(l6);
	ban_nft_free(b);
}
END_TEST

/* A group's prefix set: named after its interval set, its rule closes the group's ports, its
 * bans are listed with the group's and lifted from every group. */
START_TEST(test_groups_prefix_sets)
{
	struct ban_nft *b = fresh(NULL);
	unsigned g;
	ck_assert_int_eq(ban_nft_group(b, auth_ports, ELEMENTSOF(auth_ports), false, &g), 0);
	ck_assert_int_eq(ban_nft_group_prefix(b, g, AF_INET6, 64), 1);
	const char *set6 = ban_nft_group_set(b, g, AF_INET6);
	const char *set64 = ban_nft_group_prefix_set(b, g, AF_INET6, 64);
	ck_assert_msg(strncmp(set64, set6, strlen(set6)) == 0 &&
			      strcmp(set64 + strlen(set6), "_64") == 0,
		      "%s", set64);
	ck_assert_ptr_null(ban_nft_group_prefix_set(b, 0, AF_INET6, 64));
	ck_assert_int_eq(ban_nft_setup(b), 0);
	char *out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(count(out, "\tset ") == 9 && count(out, " drop") == 9 &&
			      has_masked_rule(out, "tcp dport { 25, 110, 143, 465, 587, 993, 995 }",
					      MASK64, set64),
		      "%s", out);
	free(out);

	/* The group's /64 in its prefix set; the default group has none: its interval set. */
	struct addr n = cidr("2001:db8:1::/64"), d = cidr("2001:db8:2::/64");
	ck_assert_int_eq(ban_nft_add_group(b, g, &n, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_add(b, &d, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 2);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "nft list set inet waveguard %s", set64);
	out = run(cmd, NULL);
	ck_assert_msg(strstr(out, "2001:db8:1:: timeout 1m") && count(out, " timeout ") == 1, "%s",
		      out);
	free(out);
	out = run("nft list set inet waveguard ban6", NULL);
	ck_assert_msg(strstr(out, "2001:db8:2::/64 timeout 1m"), "%s", out);
	free(out);
	struct listing l1 = { 0 }, l0 = { 0 };
	ck_assert_int_eq(nftlist_group_bans(NULL, b, g, on_elem, &l1), 1);
	ck_assert_int_eq(nftlist_group_bans(NULL, b, 0, on_elem, &l0), 1);
	ck_assert_int_eq(find(&l1, "2001:db8:1::/64"), 0);
	ck_assert_int_eq(find(&l0, "2001:db8:2::/64"), 0);

	/* Unbans find them wherever they are. */
	ck_assert_int_eq(ban_nft_del(b, &n), 0);
	ck_assert_int_eq(ban_nft_del(b, &d), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 2);
	ck_assert_int_eq(nftlist_group_bans(NULL, b, g, NULL, NULL), 0);
	ck_assert_int_eq(nftlist_bans(NULL, NULL, NULL), 0);
	ban_nft_free(b);
}
END_TEST

/* Bans that arrive a few at a time, one transaction each (a wave read line by line): a prefix
 * set's transaction costs the same however full it is, an interval set's grows with it. */
START_TEST(test_prefix_sets_many_transactions)
{
	const unsigned total = 20000, chunk = 200;
	double ms[2];
	for (int hash = 0; hash < 2; hash++) {
		struct ban_nft *b = NULL;
		ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
		ck_assert_int_eq(ban_nft_cleanup(b), 0);
		if (hash)
			ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, 64), 1);
		ck_assert_int_eq(ban_nft_setup(b), 0);
		uint64_t t0 = now_usec();
		for (unsigned i = 0; i < total; i += chunk) {
			int bad = 0;
			for (unsigned k = i; k < i + chunk; k++) {
				struct addr a = cidr("2001:db8::/64");
				a.bytes[4] = (uint8_t)(k >> 8);
				a.bytes[5] = (uint8_t)k;
				bad |= ban_nft_add(b, &a, 3600 * USEC_PER_SEC);
			}
			ck_assert_int_eq(bad, 0);
			ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), (int)chunk);
		}
		ms[hash] = (double)(now_usec() - t0) / 1000.0;
		struct listing l = { 0 };
		ck_assert_int_eq(nftlist_bans(NULL, on_elem, &l), (int)total);
		ck_assert_uint_eq(l.a[0].prefix, 64);
		char *out = run("nft list set inet waveguard ban6", NULL);
		ck_assert_msg(hash ? !strstr(out, "2001:db8")
				   : strstr(out, "2001:db8::/64") != NULL,
			      "%s", out);
		free(out);
		ban_nft_free(b);
	}
	printf("20,000 IPv6 /64 bans in 100 transactions: interval set %.0f ms, prefix set %.0f "
	       "ms\n",
	       ms[0], ms[1]);
}
END_TEST

START_TEST(test_prefix_sets_limits)
{
	struct ban_nft *b = NULL;

	/* A prefix set's name is another set's. */
	struct ban_nft_config c = { .set4 = "a", .set6 = "a_24" };
	ck_assert_int_eq(ban_nft_new(&c, &b), 0);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET, 24), -EEXIST);
	ck_assert_int_eq(ban_nft_prefix_sets(b), 0);
	ban_nft_free(b);

	/* At most BAN_NFT_PREFIX_SETS_MAX, all groups together. */
	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	unsigned n = 0;
	for (unsigned p = 1; p < 32; p++, n++)
		ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET, p), 1);
	for (unsigned p = 1; n < BAN_NFT_PREFIX_SETS_MAX; p++, n++)
		ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, p), 1);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, 120), -ENOSPC);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, 1), 0);
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	char *out = run("nft list table inet waveguard", NULL);
	ck_assert_msg(count(out, "\tset ") == 4 + BAN_NFT_PREFIX_SETS_MAX &&
			      count(out, " drop") == 4 + BAN_NFT_PREFIX_SETS_MAX &&
			      has_masked_rule(out, "tcp dport { 25, 465, 587 }",
					      "ip saddr & 128.0.0.0", "ban4_1"),
		      "%u sets, %u drops", count(out, "\tset "), count(out, " drop"));
	free(out);
	ban_nft_free(b);

	/* Trimmed: those added since the mark, and those of forgotten groups. */
	static const uint16_t imap[] = { 143 };
	unsigned g;
	ck_assert_int_eq(ban_nft_new(NULL, &b), 0);
	ck_assert_int_eq(ban_nft_group(b, imap, 1, false, &g), 0);
	ck_assert_int_eq(ban_nft_group_prefix(b, g, AF_INET6, 64), 1);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET6, 64), 1);
	ck_assert_int_eq(ban_nft_group_prefix(b, 0, AF_INET, 24), 1);
	const char *name = ban_nft_group_prefix_set(b, g, AF_INET6, 64);
	ck_assert_msg(name && strncmp(name, "ban6_p", 6) == 0 && strlen(name) == 17, "%s", name);
	ban_nft_trim(b, 1, 2);
	ck_assert_int_eq(ban_nft_groups(b), 1);
	ck_assert_int_eq(ban_nft_prefix_sets(b), 1);
	ck_assert_str_eq(ban_nft_group_prefix_set(b, 0, AF_INET6, 64), "ban6_64");
	ck_assert_ptr_null(ban_nft_group_prefix_set(b, 0, AF_INET, 24));
	/* The remaining one still takes its bans. */
	ck_assert_int_eq(ban_nft_cleanup(b), 0);
	ck_assert_int_eq(ban_nft_setup(b), 0);
	struct addr n64 = cidr("2001:db8:7::/64");
	ck_assert_int_eq(ban_nft_add(b, &n64, 60 * USEC_PER_SEC), 0);
	ck_assert_int_eq(ban_nft_flush(b, NULL, NULL), 1);
	out = run("nft list set inet waveguard ban6_64", NULL);
	ck_assert_msg(strstr(out, "2001:db8:7:: timeout 1m"), "%s", out);
	free(out);
	ban_nft_free(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ban_nft");
	TCase *tc = tcase_create("kernel");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_setup_creates_everything);
	tcase_add_test(tc, test_setup_twice_no_duplicates);
	tcase_add_test(tc, test_setup_other_ports_and_all_ports);
	tcase_add_test(tc, test_setup_repairs_chain);
	tcase_add_test(tc, test_setup_conflicting_set);
	tcase_add_test(tc, test_set_names);
	tcase_add_test(tc, test_setup_upgrades_previous_version);
	tcase_add_test(tc, test_hosts_and_networks);
	tcase_add_test(tc, test_add_list_del);
	tcase_add_test(tc, test_readd_refreshes);
	tcase_add_test(tc, test_errors_map_to_addresses);
	tcase_add_test(tc, test_missing_set_reported);
	tcase_add_test(tc, test_burst_10000);
	tcase_add_test(tc, test_ranges_and_edges);
	tcase_add_test(tc, test_expiry_and_rebans);
	tcase_add_test(tc, test_bad_timeout_reported);
	tcase_add_test(tc, test_cleanup);
	tcase_add_test(tc, test_other_tables_untouched);
	tcase_add_test(tc, test_packets_dropped);
	tcase_add_test(tc, test_open_session_finishes);
	tcase_add_test(tc, test_monitor);
	tcase_add_test(tc, test_groups_sets_and_rules);
	tcase_add_test(tc, test_groups_limits);
	tcase_add_test(tc, test_groups_packets);
	tcase_add_test(tc, test_prefix_sets);
	tcase_add_test(tc, test_prefix_sets_elements);
	tcase_add_test(tc, test_groups_prefix_sets);
	tcase_add_test(tc, test_prefix_sets_upgrade);
	tcase_add_test(tc, test_prefix_sets_packets);
	tcase_add_test(tc, test_prefix_sets_many_transactions);
	tcase_add_test(tc, test_prefix_sets_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("check_ban_nft: skipping: needs root (nftables in a private network "
		       "namespace)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "check_ban_nft: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	if (system("ip link set lo up") != 0) {
		fprintf(stderr, "check_ban_nft: cannot bring lo up\n");
		return EXIT_FAILURE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return test_run_suite(suite());
}
