#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "webhook_url.h"

/* Is item (n bytes) on the comma-separated list? */
static int
on_list(const char *list, const char *item)
{
	size_t	 l, n = strlen(item);

	while (*list != '\0') {
		while (*list == ',' || *list == ' ')
			list++;
		l = strcspn(list, ", ");
		if (l > 0 && l == n && strncasecmp(list, item, n) == 0)
			return 1;
		list += l;
	}
	return 0;
}

/* Host and port of the authority a..end; NULL or why not. */
static const char *
authority(const char *a, const char *end, struct webhook_target *t)
{
	const char	*colon = NULL, *h = a, *hend;
	char		*stop;
	unsigned long	 port;

	if (memchr(a, '@', (size_t)(end - a)) != NULL)
		return "must not carry credentials";
	if (*a == '[') {
		if ((hend = memchr(a, ']', (size_t)(end - a))) == NULL)
			return "has a malformed host";
		h = a + 1;
		if (hend + 1 < end)
			colon = hend + 1;
	} else {
		hend = memchr(a, ':', (size_t)(end - a));
		if (hend == NULL)
			hend = end;
		else
			colon = hend;
	}
	if (hend == h || (size_t)(hend - h) >= sizeof(t->host))
		return "must name a host";
	memcpy(t->host, h, (size_t)(hend - h));
	t->host[hend - h] = '\0';
	t->port = t->https ? 443 : 80;
	if (colon != NULL) {
		if (*colon != ':' || !isdigit((unsigned char)colon[1]))
			return "has a malformed port";
		port = strtoul(colon + 1, &stop, 10);
		if (stop != end || port == 0 || port > 65535)
			return "has a malformed port";
		t->port = (unsigned int)port;
	}
	for (h = t->host; *h != '\0'; h++)
		if (!isalnum((unsigned char)*h) && strchr(".-:_", *h) == NULL)
			return "has a malformed host";
	return NULL;
}

const char *
webhook_url_check(const char *url, const struct config *cfg,
    struct webhook_target *t)
{
	const char	*a, *end, *p;
	struct in6_addr	 a6;
	struct in_addr	 a4;

	memset(t, 0, sizeof(*t));
	if (strlen(url) > WEBHOOK_URL_MAX)
		return "must be at most 2048 characters";
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return "must not contain spaces or control characters";
	if (strncasecmp(url, "https://", 8) == 0) {
		t->https = 1;
		a = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0)
		a = url + 7;
	else
		return "must be an https URL";
	if (strchr(url, '#') != NULL)
		return "must not have a fragment";
	end = a + strcspn(a, "/?");
	if ((p = authority(a, end, t)) != NULL)
		return p;
	if (!t->https && !on_list(cfg->webhooks_allow_http_hosts, t->host))
		return "must be an https URL (http only to the hosts "
		    "webhooks.allow_http_hosts names)";
	/* A literal address is judged now; a name when it is resolved. */
	if ((inet_pton(AF_INET, t->host, &a4) == 1 ||
	    inet_pton(AF_INET6, t->host, &a6) == 1) &&
	    webhook_url_resolve(t, cfg, NULL, 0, NULL, 0) == -1)
		return "must not reach a loopback, private or internal address";
	return NULL;
}

/* 0.0.0.0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24,
 * 192.168/16, 198.18/15, and everything from 224/4 on. */
static int
internal4(const unsigned char *b)
{
	return b[0] == 0 || b[0] == 10 || (b[0] == 100 && (b[1] & 0xc0) == 64) ||
	    b[0] == 127 || (b[0] == 169 && b[1] == 254) ||
	    (b[0] == 172 && (b[1] & 0xf0) == 16) ||
	    (b[0] == 192 && b[1] == 0 && b[2] == 0) ||
	    (b[0] == 192 && b[1] == 168) || (b[0] == 198 && (b[1] & 0xfe) == 18) ||
	    b[0] >= 224;
}

/* ::, ::1, IPv4-mapped internal, fc00::/7, fe80::/10, ff00::/8. */
static int
internal6(const struct in6_addr *a)
{
	const unsigned char *b = a->s6_addr;

	if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a))
		return internal4(b + 12) || IN6_IS_ADDR_UNSPECIFIED(a) ||
		    IN6_IS_ADDR_LOOPBACK(a);
	return IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) ||
	    (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
	    b[0] == 0xff;
}

int
webhook_url_resolve(const struct webhook_target *t, const struct config *cfg,
    char *addr, size_t addrlen, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res, *ai;
	const void	*raw;
	int		 bad = 0, rc;
	char		 text[INET6_ADDRSTRLEN];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(t->host, NULL, &hints, &res)) != 0) {
		if (err != NULL)
			snprintf(err, errlen, "cannot resolve %s: %s", t->host,
			    gai_strerror(rc));
		return -1;
	}
	if (addr != NULL)
		*addr = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			raw = &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr;
			bad |= internal4(raw);
		} else if (ai->ai_family == AF_INET6) {
			raw = &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;
			bad |= internal6(raw);
		} else
			continue;
		if (addr != NULL && *addr == '\0' &&
		    inet_ntop(ai->ai_family, raw, text, sizeof(text)) != NULL)
			snprintf(addr, addrlen, "%s", text);
	}
	freeaddrinfo(res);
	/* Every address must pass: a name may resolve to several. */
	if (bad && !on_list(cfg->webhooks_allow_private_hosts, t->host)) {
		if (err != NULL)
			snprintf(err, errlen, "%s resolves to a loopback, private "
			    "or internal address", t->host);
		return -1;
	}
	if (addr != NULL && *addr == '\0') {
		if (err != NULL)
			snprintf(err, errlen, "%s has no address", t->host);
		return -1;
	}
	return 0;
}
