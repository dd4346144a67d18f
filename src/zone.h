/* The ban list as a DNSBL: the bans in force (this host's and the fleet's) written as rbldnsd data
 * files, an ip4set for IPv4 and an ip6trie for IPv6 (any prefix: /64 networks and /128 hosts
 * alike; rbldnsd's ip6tset holds /64s only), each entry with the A and TXT replies of [dnsbl].
 * Other MTAs (a Courier without waveguard, postscreen, rspamd) query the zone rbldnsd serves
 * from them. Written atomically on change, at most once a second, and again when a ban ends. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "bans.h"
#include "config.h"
#include "macro.h"

struct zone;

/* Writes the data file of one family (AF_INET: ip4set, AF_INET6: ip6trie) of the bans of b in
 * force at now: a comment line, then "NETWORK :A:TXT" per ban, TXT from conf's template with
 * %host% (the deciding host: the ban's origin, or host), %jail% and %until% (RFC 3339, or
 * "forever"). Returns the number of entries, or -EIO. */
int zone_format(const struct bans *b, const struct config_dnsbl *conf, const char *host, int family,
		uint64_t now_usec, FILE *out);

/* Starts the writer of conf's files for the table b on the loop e; host names this host. The
 * first write happens at once. conf and b must outlive the zone (zone_reconfigure() gives
 * another conf). Returns 0 or -errno (logged). */
int zone_new(sd_event *e, const struct config_dnsbl *conf, const struct bans *b, const char *host,
	     struct zone **ret);

/* The bans changed: the files are written again within a second. */
void zone_touch(struct zone *z);

/* A reload's [dnsbl] (the files are written again). */
void zone_reconfigure(struct zone *z, const struct config_dnsbl *conf);

struct zone *zone_free(struct zone *z);
DEFINE_FREE_FUNC(struct zone, zone_free)
