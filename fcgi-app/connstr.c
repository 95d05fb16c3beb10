#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connstr.h"

enum ckey {
	CK_HOST,
	CK_PORT,
	CK_DATABASE,
	CK_USER,
	CK_PASSWORD,
	CK__MAX
};

static const struct {
	const char	*name;
	enum ckey	 key;
} knames[] = {
	{ "Server", CK_HOST },
	{ "Host", CK_HOST },
	{ "Data Source", CK_HOST },
	{ "Port", CK_PORT },
	{ "Database", CK_DATABASE },
	{ "Initial Catalog", CK_DATABASE },
	{ "User Id", CK_USER },
	{ "User", CK_USER },
	{ "Uid", CK_USER },
	{ "Username", CK_USER },
	{ "Password", CK_PASSWORD },
	{ "Pwd", CK_PASSWORD },
};

/* Schemas of the server itself: never a tenant's, whatever the pattern. */
static const char *const system_schemas[] = {
	"mysql", "information_schema", "performance_schema", "sys",
};

static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

static int
ident_ok(const char *s, size_t n)
{
	size_t	 i;

	if (n < 1 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int
host_ok(const char *s, size_t n)
{
	size_t	 i;

	if (n < 1 || n > 253)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '-' || s[i] == ':'))
			return 0;
	return 1;
}

static const char *
set_value(struct connstr *c, enum ckey k, const char *v, size_t n)
{
	unsigned long	 port = 0;
	size_t		 i;

	switch (k) {
	case CK_HOST:
		if (!host_ok(v, n))
			return "host must be a host name or IP address";
		memcpy(c->host, v, n);
		c->host[n] = '\0';
		return NULL;
	case CK_PORT:
		if (n < 1 || n > 5)
			return "port must be a number from 1 to 65535";
		for (i = 0; i < n; i++) {
			if (v[i] < '0' || v[i] > '9')
				return "port must be a number from 1 to 65535";
			port = port * 10 + (unsigned long)(v[i] - '0');
		}
		if (port < 1 || port > 65535)
			return "port must be a number from 1 to 65535";
		c->port = (unsigned int)port;
		c->has_port = true;
		return NULL;
	case CK_DATABASE:
		if (!ident_ok(v, n))
			return "database must be 1 to 64 letters, digits or "
			    "underscores";
		memcpy(c->database, v, n);
		c->database[n] = '\0';
		return NULL;
	case CK_USER:
		if (n < 1 || n >= sizeof(c->user))
			return "user must be 1 to 128 characters";
		memcpy(c->user, v, n);
		c->user[n] = '\0';
		c->has_user = true;
		return NULL;
	case CK_PASSWORD:
		if (n >= sizeof(c->password))
			return "password must be at most 256 characters";
		memcpy(c->password, v, n);
		c->password[n] = '\0';
		c->has_password = true;
		return NULL;
	default:
		return "has an unknown key";
	}
}

const char *
connstr_parse(const char *s, size_t n, struct connstr *c)
{
	const char	*seg, *eq, *k, *v;
	size_t		 left, sl, kl, vl, i;
	bool		 seen[CK__MAX] = { false };
	const char	*why;

	memset(c, 0, sizeof(*c));
	c->port = 3306;
	if (n > CONNSTR_MAX)
		return "is too long";
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return "must not contain control characters";
	for (seg = s, left = n; left > 0; ) {
		sl = 0;
		while (sl < left && seg[sl] != ';')
			sl++;
		k = seg;
		kl = sl;
		seg += sl + (sl < left ? 1 : 0);
		left -= sl + (sl < left ? 1 : 0);
		trim(&k, &kl);
		if (kl == 0)
			continue;	/* ";;" and a trailing ";" */
		if ((eq = memchr(k, '=', kl)) == NULL)
			return "must be Key=Value pairs separated by ';'";
		v = eq + 1;
		vl = kl - (size_t)(v - k);
		kl = (size_t)(eq - k);
		trim(&k, &kl);
		trim(&v, &vl);
		for (i = 0; i < sizeof(knames) / sizeof(knames[0]); i++)
			if (strlen(knames[i].name) == kl &&
			    strncasecmp(knames[i].name, k, kl) == 0)
				break;
		if (i == sizeof(knames) / sizeof(knames[0]))
			return "may only have the keys Server, Port, Database, "
			    "User Id and Password";
		if (seen[knames[i].key])
			return "names a key twice";
		seen[knames[i].key] = true;
		if ((why = set_value(c, knames[i].key, v, vl)) != NULL)
			return why;
	}
	if (c->host[0] == '\0')
		return "must name a Server";
	return NULL;
}

/* Is item (n bytes) on the comma-separated list? */
static int
on_list(const char *list, const char *item, size_t n)
{
	const char	*p = list;
	size_t		 l;

	while (p != NULL && *p != '\0') {
		while (*p == ',' || *p == ' ')
			p++;
		l = strcspn(p, ", ");
		if (l > 0 && l == n && strncasecmp(p, item, n) == 0)
			return 1;
		p += l;
	}
	return 0;
}

/*
 * LIKE-style, but only '%' is special: '_' in "tenant_%" means an
 * underscore, which is what an administrator writing it means.
 */
static int
pattern_match(const char *p, const char *s)
{
	for (; *p != '\0'; p++, s++) {
		if (*p == '%') {
			while (p[1] == '%')
				p++;
			if (p[1] == '\0')
				return 1;
			for (; *s != '\0'; s++)
				if (pattern_match(p + 1, s))
					return 1;
			return 0;
		}
		if (*s != *p)
			return 0;
	}
	return *s == '\0';
}

const char *
connstr_check_db(const char *name, const struct conn_policy *p)
{
	static char	 msg[160];
	size_t		 i;

	if (!ident_ok(name, strlen(name)))
		return "database must be 1 to 64 letters, digits or underscores";
	for (i = 0; i < sizeof(system_schemas) / sizeof(system_schemas[0]); i++)
		if (strcasecmp(name, system_schemas[i]) == 0)
			return "database must not be a system schema";
	if (p->own_db != NULL && strcasecmp(name, p->own_db) == 0)
		return "database must not be tenantd's own database";
	if (!pattern_match(p->name_pattern, name)) {
		/* The pattern is the administrator's, not the caller's. */
		snprintf(msg, sizeof(msg), "database must match %s",
		    p->name_pattern);
		return msg;
	}
	return NULL;
}

const char *
connstr_check(const struct connstr *c, const struct conn_policy *p)
{
	char	 port[8];

	if (!on_list(p->hosts, c->host, strlen(c->host)))
		return "host is not allowed";
	snprintf(port, sizeof(port), "%u", c->port);
	if (!on_list(p->ports, port, strlen(port)))
		return "port is not allowed";
	if (c->database[0] != '\0')
		return connstr_check_db(c->database, p);
	return NULL;
}

int
connstr_db_name(const struct connstr *c, const char *slug, char out[65])
{
	size_t	 i;

	if (c->database[0] != '\0') {
		snprintf(out, 65, "%s", c->database);
		return 0;
	}
	if (slug == NULL || 7 + strlen(slug) > 64)
		return -1;
	snprintf(out, 65, "tenant_%s", slug);
	for (i = 7; out[i] != '\0'; i++)
		if (out[i] == '-')
			out[i] = '_';
	return ident_ok(out, strlen(out)) ? 0 : -1;
}
