/* The help of each command: one text per command, usage first, then what it does, its options
 * and one example. `waveguard --help` (main.c) is the overview; waveguard(8) says it all. */
#include <errno.h>
#include <string.h>

#include "help.h"
#include "macro.h"

static const struct {
	const char *name, *text;
} helps[] = {
	{ "run",
	  "Usage: waveguard [-c DIR] run [--dry-run]\n"
	  "\n"
	  "Runs the daemon in the foreground: follows the jails' logs or the journal, bans,\n"
	  "answers the control socket. SIGTERM/SIGINT stop it (positions saved, bans stay in\n"
	  "the kernel until they expire); SIGHUP reloads the configuration.\n"
	  "\n"
	  "Options:\n"
	  "  --dry-run        decide and print each decision, touch neither the kernel nor\n"
	  "                   any command\n"
	  "\n"
	  "Example:\n"
	  "  waveguard -c . run --dry-run\n" },
	{ "check-config", "Usage: waveguard [-c DIR] check-config [--keys|--show]\n"
			  "\n"
			  "Loads the whole configuration, runs every filter's [test] samples and "
			  "prints\n"
			  "the jails, filters and actions. Exit 0, or 78 with every error as "
			  "file:line.\n"
			  "\n"
			  "Options:\n"
			  "  --show           print every key in effect with the file:line it came "
			  "from\n"
			  "  --keys           list every key the configuration files know\n"
			  "\n"
			  "Example:\n"
			  "  waveguard check-config --show | grep -A3 '^\\[courier-dnsbl\\]'\n" },
	{ "test-filter",
	  "Usage: waveguard [-c DIR] test-filter [OPTIONS] FILTER LOG|-\n"
	  "       waveguard [-c DIR] test-filter [OPTIONS] FILTER --journal [--journal-directory "
	  "DIR]\n"
	  "                                      [--match FIELD=VALUE]...\n"
	  "\n"
	  "Runs one filter over a log (or standard input, -) and explains the result: lines\n"
	  "read and matched, hits per failregex, and the lines that were not for the filter\n"
	  "(no syslog header, other programs, rejected by the prefilter). When nothing matched,\n"
	  "one line says the most likely reason.\n"
	  "FILTER is a name (DIR/filters/NAME.conf), a filter file, or else a failregex with\n"
	  "<HOST> (as fail2ban-regex takes), tried on the message of every line. The filter\n"
	  "comes first; a log first and a filter second (fail2ban-regex's order) is refused\n"
	  "with the right order.\n"
	  "\n"
	  "Options:\n"
	  "  -v, --verbose       print each matched line: time, address, #regex, the line\n"
	  "                      (TAB-separated; \"ignored\" for a line an ignoreregex took)\n"
	  "  --missed[=N|all]    print the lines of the filter's programs that no failregex\n"
	  "                      matched (\"missed\") or the prefilter rejected (\"prefilter\"):\n"
	  "                      the first 100 of each kind, or N, or all\n"
	  "  --hosts             print only one address per matched line\n"
	  "  --users             the same, with a TAB and what the filter's <USER> captured\n"
	  "                      (the candidates for a trap list)\n"
	  "  --messages          every line is a bare message of the filter's programs (no\n"
	  "                      time, host or tag)\n"
	  "  --journal           read the systemd journal instead of a log\n"
	  "  --journal-directory DIR\n"
	  "                      read the journal files in DIR (implies --journal)\n"
	  "  --match FIELD=VALUE a journal match, repeatable (default: SYSLOG_IDENTIFIER= each\n"
	  "                      tag of the filter)\n"
	  "\n"
	  "Example:\n"
	  "  waveguard test-filter -v --missed courier-smtp /var/log/mail.log\n" },
	{ "replay",
	  "Usage: waveguard [-c DIR] replay [--jail NAME] [--no-allowlist] LOG|-\n"
	  "       waveguard [-c DIR] replay [--jail NAME] [--no-allowlist] --journal\n"
	  "                 [--journal-directory DIR] [--match FIELD=VALUE]...\n"
	  "\n"
	  "Runs the enabled jails over a log with the log's own time stamps as the clock, and\n"
	  "prints each ban decision on standard output: TIME<TAB>JAIL<TAB>ADDRESS<TAB>SECONDS.\n"
	  "On standard error, a table per jail: lines of its programs, hits, events, hits\n"
	  "allowlisted (and by which entry), addresses below maxretry, bans and the ban time;\n"
	  "and why a jail with hits banned no one. Touches neither the kernel nor the state.\n"
	  "\n"
	  "Options:\n"
	  "  --jail NAME         only this jail (enabled or not)\n"
	  "  --no-allowlist      ignore [daemon] allow and the jails' allow: what would be\n"
	  "                      banned without them (e.g. a capture from 127.0.0.0/8)\n"
	  "  --journal, --journal-directory DIR, --match FIELD=VALUE\n"
	  "                      read the journal, as test-filter does\n"
	  "\n"
	  "Example:\n"
	  "  waveguard replay /var/log/mail.log.1 >bans.tsv\n" },
	{ "status",
	  "Usage: waveguard [-c DIR] status [--json]\n"
	  "\n"
	  "Asks the running daemon for its jails, tracked addresses, bans and totals, the\n"
	  "tuner's level and the probe's outcome.\n"
	  "\n"
	  "Options:\n"
	  "  --json           machine-readable output\n"
	  "\n"
	  "Example:\n"
	  "  waveguard status --json\n" },
	{ "list", "Usage: waveguard [-c DIR] list [JAIL] [--json] [-v|--verbose]\n"
		  "\n"
		  "Asks the running daemon for the active bans (of one jail, or all) with their\n"
		  "remaining time (59m58s, 7d, forever) and offence count.\n"
		  "\n"
		  "Options:\n"
		  "  --json           machine-readable output, evidence included\n"
		  "  -v, --verbose    each ban's offender and the log lines that decided it\n"
		  "\n"
		  "Example:\n"
		  "  waveguard list courier-dnsbl -v\n" },
	{ "show", "Usage: waveguard [-c DIR] show ADDR[/N] [--json]\n"
		  "\n"
		  "Why is ADDR banned: every ban in force that covers it (the /64 banned for one\n"
		  "of its hosts) or lies inside it, with its jail, offender, since and until, the\n"
		  "offences, the network's recent bans across jails (recidive) and the log lines\n"
		  "that decided it. Exit 1 when nothing covers it, saying when its last ban ended\n"
		  "and whether it is allowlisted.\n"
		  "\n"
		  "Options:\n"
		  "  --json           machine-readable output\n"
		  "\n"
		  "Example:\n"
		  "  waveguard show 2001:db8:1:2::99\n" },
	{ "ban", "Usage: waveguard [-c DIR] ban ADDR[/N] [--jail JAIL] [--time DURATION|forever]\n"
		 "\n"
		 "Bans an address or network by hand. Allowlisted addresses and networks wider\n"
		 "than /8 (/16 for IPv6) are refused.\n"
		 "\n"
		 "Options:\n"
		 "  --jail JAIL      ban as this jail would (its ports, escalation)\n"
		 "  --time DURATION  how long (default 1h): 90s, 10m, 1h30m, 7d, or forever\n"
		 "                   (until unban)\n"
		 "\n"
		 "Example:\n"
		 "  waveguard ban 192.0.2.7 --time 1d\n" },
	{ "unban", "Usage: waveguard [-c DIR] unban ADDR[/N] | unban --all\n"
		   "\n"
		   "Lifts every ban that covers ADDR (the /64 or /24 its jail banned for it) or\n"
		   "lies inside ADDR/N, and says which networks it lifted; exit 1 when none.\n"
		   "The exec actions' unban commands run for each.\n"
		   "\n"
		   "Options:\n"
		   "  --all            lift every ban\n"
		   "\n"
		   "Example:\n"
		   "  waveguard unban 2001:db8:1:2::99\n" },
	{ "reload", "Usage: waveguard [-c DIR] reload\n"
		    "\n"
		    "Makes the daemon read its configuration again (as SIGHUP) and waits for the\n"
		    "outcome: exit 0 when taken, 1 with the first error (file:line) when refused;\n"
		    "the running configuration then stays, and status says so. Bans stay either\n"
		    "way.\n"
		    "\n"
		    "Options: none\n"
		    "\n"
		    "Example:\n"
		    "  waveguard check-config && waveguard reload\n" },
	{ "nft-cleanup",
	  "Usage: waveguard [-c DIR] nft-cleanup\n"
	  "\n"
	  "Removes waveguard's nftables table and with it every ban (to uninstall).\n"
	  "Refuses (exit 75) while the daemon runs: it would put the table back.\n"
	  "\n"
	  "Options: none\n"
	  "\n"
	  "Example:\n"
	  "  systemctl stop waveguard && waveguard nft-cleanup\n" },
	{ "history",
	  "Usage: waveguard [-c DIR] history [--file F] [--since T] [--last N] [--svg "
	  "OUT]\n"
	  "                 [--max-daemons N]\n"
	  "\n"
	  "Prints the connection history the daemon samples: a table of the last rows\n"
	  "('date  connections'), or an SVG chart.\n"
	  "\n"
	  "Options:\n"
	  "  --file F         read this history file instead of the configured one\n"
	  "  --since T        from T: an RFC 3339 time, or a duration ago (1h)\n"
	  "  --last N         the last N rows (default 60)\n"
	  "  --svg OUT        write an SVG chart to OUT (- for standard output)\n"
	  "  --max-daemons N  the chart's MAXDAEMONS line (default: from [tuner], 0: none)\n"
	  "\n"
	  "Example:\n"
	  "  waveguard history --since 1h --svg /tmp/wave.svg\n" },
	{ "help", "Usage: waveguard help [COMMAND]\n"
		  "\n"
		  "Prints the overview of the commands, or one command's usage, options and an\n"
		  "example (the same as waveguard COMMAND --help).\n"
		  "\n"
		  "Options: none\n"
		  "\n"
		  "Example:\n"
		  "  waveguard help test-filter\n" },
};

int help_command(FILE *f, const char *command)
{
	for (size_t i = 0; i < ELEMENTSOF(helps); i++)
		if (strcmp(helps[i].name, command) == 0) {
			fputs(helps[i].text, f);
			return 0;
		}
	return -ENOENT;
}

void help_list(FILE *f)
{
	for (size_t i = 0; i < ELEMENTSOF(helps); i++)
		fprintf(f, "%s%s", i ? " " : "", helps[i].name);
}
