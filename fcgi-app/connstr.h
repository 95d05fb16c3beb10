/*
 * Connection strings of tenants with their own database, ADO.NET style:
 * "Server=h;Port=3306;Database=d;User Id=u;Password=p".  One parser and
 * one policy check serve the request validator and the provisioner, so
 * a string that passes one passes the other.
 */
#ifndef CONNSTR_H
#define CONNSTR_H

#include <stdbool.h>
#include <stddef.h>

#define CONNSTR_MAX	1000	/* bytes of a stored connection string */

struct connstr {
	char		 host[256];
	unsigned int	 port;		/* 3306 when not given */
	char		 database[65];	/* "" = derived from the slug */
	char		 user[129];	/* the application's, never used */
	char		 password[257];	/* the application's, never used */
	bool		 has_port, has_user, has_password;
};

/* What a connection string may name; set once from the configuration. */
struct conn_policy {
	const char	*hosts;		/* comma-separated host names */
	const char	*ports;		/* comma-separated port numbers */
	const char	*name_pattern;	/* '%' any run, other bytes literal */
	const char	*own_db;	/* tenantd's own database */
};

/*
 * Parses s (n bytes).  Keys are case-insensitive; unknown keys, a key
 * given twice (also under two of its names), values with control
 * characters and a missing host are refused.  Returns NULL or the
 * reason, a fixed sentence that never quotes the input.
 */
const char	*connstr_parse(const char *s, size_t n, struct connstr *);

/* Checks host, port and database name against p: NULL or the reason. */
const char	*connstr_check(const struct connstr *, const struct conn_policy *);

/*
 * The tenant database's name: the one named, or "tenant_" + slug with
 * '-' as '_'.  -1 when the result is no valid name.
 */
int		 connstr_db_name(const struct connstr *, const char *slug,
		    char out[65]);

/* Does name (a database name) pass the policy: NULL or the reason. */
const char	*connstr_check_db(const char *name, const struct conn_policy *);

#endif
