/* Courier's esmtpd file, read the way its start script's shell would for the few plain
 * assignments waveguard needs: the last assignment wins, "export" is allowed, values may be
 * quoted, comments follow white space. Anything a shell would expand ($X, `cmd`) is refused by
 * the callers' checks rather than guessed. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esmtpd.h"
#include "macro.h"

static const char *skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* The value of one assignment line to name, or 0 when the line assigns something else. */
static int parse_line(const char *line, const char *name, char *buf, size_t size)
{
	const char *p = skip_blank(line), *start, *end;
	size_t nlen = strlen(name);

	if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
		p = skip_blank(p + 6);
	if (strncmp(p, name, nlen) != 0 || p[nlen] != '=')
		return 0;
	p += nlen + 1;
	if (*p == '"' || *p == '\'') {
		start = p + 1;
		end = strchr(start, *p);
		if (!end)
			return -EINVAL;
		p = end + 1;
	} else {
		start = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		end = p;
	}
	p = skip_blank(p);
	if (*p && *p != '\n' && *p != '\r' && *p != '#')
		return -EINVAL;
	if ((size_t)(end - start) >= size)
		return -ENAMETOOLONG;
	memcpy(buf, start, (size_t)(end - start));
	buf[end - start] = '\0';
	return 1;
}

int esmtpd_read_var(const char *path, const char *name, char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;

	if (!path || !name || !buf || size == 0)
		return -EINVAL;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) >= 0) {
		int k = parse_line(line, name, buf, size);
		if (k != 0)
			r = k < 0 ? k : 0; /* the last assignment wins, broken or not */
	}
	if (ferror(f))
		return -EIO;
	return r;
}

int esmtpd_read_maxdaemons(const char *path, unsigned *ret)
{
	char v[32];
	int r = esmtpd_read_var(path, "MAXDAEMONS", v, sizeof(v));

	if (r == -ENAMETOOLONG)
		return -EINVAL;
	if (r < 0)
		return r;
	if (v[0] == '\0' || strspn(v, "0123456789") != strlen(v) || strlen(v) > 7)
		return -EINVAL;
	unsigned long n = strtoul(v, NULL, 10);
	if (n == 0 || n > 1000000)
		return -EINVAL;
	*ret = (unsigned)n;
	return 0;
}

/* A port number or a service name. */
static int parse_port(const char *s, uint16_t *ret)
{
	static const struct {
		const char *name;
		uint16_t port;
	} known[] = { { "smtp", 25 }, { "submission", 587 }, { "smtps", 465 }, { "ssmtp", 465 } };

	if (s[0] && strspn(s, "0123456789") == strlen(s)) {
		unsigned long n = strlen(s) <= 5 ? strtoul(s, NULL, 10) : 0;
		if (n == 0 || n > 65535)
			return -EINVAL;
		*ret = (uint16_t)n;
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(known); i++)
		if (strcmp(s, known[i].name) == 0) {
			*ret = known[i].port;
			return 0;
		}
	/* Without netbase's /etc/services this finds nothing, hence the table above. */
	struct servent *se = getservbyname(s, "tcp");
	if (!se)
		return -EINVAL;
	*ret = ntohs((uint16_t)se->s_port);
	return 0;
}

static bool any_address(const char *a)
{
	return a[0] == '\0' || strcmp(a, "0") == 0 || strcmp(a, "0.0.0.0") == 0 ||
	       strcmp(a, "::") == 0;
}

int esmtpd_listen_target(const char *path, char *addr, size_t size, uint16_t *ret_port)
{
	char ports[256], address[128] = "", entry[128];
	unsigned char bin[16];
	uint16_t port;
	int r;

	r = esmtpd_read_var(path, "PORT", ports, sizeof(ports));
	if (r < 0)
		return r == -ENAMETOOLONG ? -EINVAL : r;
	r = esmtpd_read_var(path, "ADDRESS", address, sizeof(address));
	if (r < 0 && r != -ENOENT)
		return r == -ENAMETOOLONG ? -EINVAL : r;
	/* The first entry of the list: "port" or "address.port". */
	size_t n = strcspn(ports, ",");
	if (n == 0 || n >= sizeof(entry))
		return -EINVAL;
	memcpy(entry, ports, n);
	entry[n] = '\0';
	char *dot = strrchr(entry, '.');
	if (dot) {
		*dot = '\0';
		snprintf(address, sizeof(address), "%s", entry);
	}
	r = parse_port(dot ? dot + 1 : entry, &port);
	if (r < 0)
		return r;
	const char *a = any_address(address) ? "127.0.0.1" : address;
	if (inet_pton(AF_INET, a, bin) != 1 && inet_pton(AF_INET6, a, bin) != 1)
		return -EINVAL;
	if (strlen(a) >= size)
		return -ENAMETOOLONG;
	snprintf(addr, size, "%s", a);
	*ret_port = port;
	return 0;
}
