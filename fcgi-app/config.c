#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h"
#include "secretbox.h"

enum ctype {
	CT_STR,
	CT_LONG,
	CT_OCTAL,
};

struct copt {
	const char	*key;
	enum ctype	 type;
	size_t		 off;
	size_t		 size;	/* CT_STR buffer size */
	long		 min, max;
};

#define STR(k, f)	{ k, CT_STR, offsetof(struct config, f), \
			    sizeof(((struct config *)0)->f), 0, 0 }
#define NUM(k, f, lo, hi) { k, CT_LONG, offsetof(struct config, f), 0, lo, hi }

static const struct copt copts[] = {
	STR("listen", listen),
	NUM("workers", workers, 0, 256),
	{ "socket_mode", CT_OCTAL, offsetof(struct config, socket_mode), 0, 0, 0777 },
	NUM("backlog", backlog, 1, 65535),
	STR("mount_prefix", mount_prefix),
	NUM("body_limit", body_limit, 1024, 64L * 1024 * 1024),
	NUM("fastcgi.idle_timeout", fcgi_idle_timeout, 1, 86400),
	NUM("fastcgi.request_timeout", fcgi_request_timeout, 1, 3600),
	NUM("fastcgi.write_timeout", fcgi_write_timeout, 1, 3600),
	STR("db.host", db_host),
	NUM("db.port", db_port, 0, 65535),
	STR("db.socket", db_socket),
	STR("db.user", db_user),
	STR("db.password", db_password),
	STR("db.name", db_name),
	NUM("db.connect_timeout", db_connect_timeout, 1, 600),
	NUM("db.read_timeout", db_read_timeout, 1, 3600),
	NUM("rate_limit.per_minute", rate_limit_per_minute, 0, 1000000000),
	NUM("rate_limit.conflicts_per_minute", rate_limit_conflicts, 0, 1000000000),
	NUM("log.requests", log_requests, 0, 1),
	STR("log.file", log_file),
	NUM("jwt.leeway", jwt_leeway, 0, 3600),
	NUM("auth.cache_ttl", auth_cache_ttl, 0, 300),
	NUM("expiry.grace_days", expiry_grace_days, 0, 3650),
	NUM("license.max_tenants", license_max_tenants, 0, 1000000000),
	NUM("list.mark_every", list_mark_every, 1, 1000000),
	NUM("list.mark_beyond", list_mark_beyond, 0, 100000000),
	NUM("list.mark_memory", list_mark_memory, 0, 256L * 1024 * 1024),
	NUM("list.scan_budget", list_scan_budget, 1, 100000000),
	NUM("provision.enabled", provision_enabled, 0, 1),
	NUM("connections.retention_days", connections_retention_days, 0, 3650),
	NUM("connections.purge_interval", connections_purge_interval, 1, 86400),
	NUM("retention.deleted_days", retention_deleted_days, 0, 3650),
	STR("provision.db_hosts", provision_db_hosts),
	STR("provision.sql_dir", provision_sql_dir),
	STR("provision.db_ports", provision_db_ports),
	STR("provision.db_name_pattern", provision_db_name_pattern),
	STR("provision.db_user", provision_db_user),
	STR("provision.db_password", provision_db_password),
	NUM("provision.connect_timeout", provision_connect_timeout, 1, 60),
	NUM("provision.read_timeout", provision_read_timeout, 1, 600),
	NUM("provision.concurrency", provision_concurrency, 1, 64),
	NUM("provision.per_account", provision_per_account, 1, 64),
	NUM("provision.allow_activate_unprovisioned",
	    provision_allow_activate_unprovisioned, 0, 1),
	STR("secrets.active", secrets_active),
	NUM("webhooks.enabled", webhooks_enabled, 0, 1),
	STR("webhooks.allow_http_hosts", webhooks_allow_http_hosts),
	STR("webhooks.allow_private_hosts", webhooks_allow_private_hosts),
	NUM("webhooks.connect_timeout", webhooks_connect_timeout, 1, 60),
	NUM("webhooks.timeout", webhooks_timeout, 1, 300),
	NUM("webhooks.max_attempts", webhooks_max_attempts, 1, 100),
	NUM("webhooks.retry_base", webhooks_retry_base, 1, 86400),
	NUM("webhooks.retry_max", webhooks_retry_max, 1, 7 * 86400),
};

const char *
config_path(void)
{
	const char	*env = getenv("TENANTD_CONFIG");

	if (env != NULL && *env != '\0')
		return env;
	return access(CONFIG_PATH, R_OK) == 0 ? CONFIG_PATH : NULL;
}

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->workers = 0;
	c->socket_mode = 0666;
	c->backlog = 1024;
	c->body_limit = 1024 * 1024;
	c->fcgi_idle_timeout = 120;
	c->fcgi_request_timeout = 30;
	c->fcgi_write_timeout = 30;
	snprintf(c->db_host, sizeof(c->db_host), "localhost");
	snprintf(c->db_user, sizeof(c->db_user), "tenantd");
	snprintf(c->db_name, sizeof(c->db_name), "tenantd");
	c->db_connect_timeout = 5;
	c->db_read_timeout = 10;
	c->rate_limit_per_minute = 60;
	c->rate_limit_conflicts = 30;
	c->log_requests = 1;
	c->jwt_leeway = 60;
	c->auth_cache_ttl = 5;
	c->expiry_grace_days = 7;
	c->list_mark_every = 250;
	c->list_mark_beyond = 1000;
	c->list_mark_memory = 2 * 1024 * 1024;
	c->list_scan_budget = 1000;
	c->provision_enabled = 1;
	c->connections_retention_days = 30;
	c->connections_purge_interval = 10;
	c->retention_deleted_days = 30;
	snprintf(c->provision_db_hosts, sizeof(c->provision_db_hosts),
	    "localhost,127.0.0.1,::1");
	snprintf(c->provision_sql_dir, sizeof(c->provision_sql_dir),
	    "%s/tenant", SQLDIR);
	snprintf(c->provision_db_ports, sizeof(c->provision_db_ports), "3306");
	snprintf(c->provision_db_name_pattern,
	    sizeof(c->provision_db_name_pattern), "tenant_%%");
	c->provision_connect_timeout = 3;
	c->provision_read_timeout = 10;
	c->provision_concurrency = 4;
	c->provision_per_account = 2;
	c->webhooks_enabled = 1;
	c->webhooks_connect_timeout = 5;
	c->webhooks_timeout = 15;
	c->webhooks_max_attempts = 10;
	c->webhooks_retry_base = 30;
	c->webhooks_retry_max = 6 * 3600;
}

static int
set_scalar(struct config *c, const struct copt *o, const char *v,
    char *err, size_t errlen)
{
	char	*end;
	long	 n;

	if (o->type == CT_STR) {
		if (strlen(v) >= o->size) {
			snprintf(err, errlen, "%s: value too long", o->key);
			return -1;
		}
		memcpy((char *)c + o->off, v, strlen(v) + 1);
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, o->type == CT_OCTAL ? 8 : 10);
	if (errno != 0 || end == v || *end != '\0' || n < o->min || n > o->max) {
		snprintf(err, errlen, "%s: expected a number from %ld to %ld",
		    o->key, o->min, o->max);
		return -1;
	}
	*(long *)((char *)c + o->off) = n;
	return 0;
}

static struct jwt_issuer *
issuer_named(struct config *c, const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < c->nissuers; i++)
		if (strlen(c->issuers[i].name) == len &&
		    strncmp(c->issuers[i].name, name, len) == 0)
			return &c->issuers[i];
	if (c->nissuers == CONFIG_ISSUERS_MAX || len == 0 ||
	    len >= sizeof(c->issuers[0].name))
		return NULL;
	memcpy(c->issuers[c->nissuers].name, name, len);
	c->issuers[c->nissuers].leeway = -1;
	return &c->issuers[c->nissuers++];
}

/*
 * The key slot for an optional kid: "secret" or "secret.KID"; never the
 * slot of previous_secret, which has no kid either.
 */
static struct jwt_key *
issuer_key(struct jwt_issuer *is, const char *kid, unsigned char previous)
{
	size_t	 i;

	for (i = 0; i < is->nkeys; i++)
		if (i + 1 != previous && strcmp(is->keys[i].kid, kid) == 0)
			return &is->keys[i];
	if (is->nkeys == JWT_KEYS_MAX || strlen(kid) >= sizeof(is->keys[0].kid))
		return NULL;
	snprintf(is->keys[is->nkeys].kid, sizeof(is->keys[0].kid), "%s", kid);
	return &is->keys[is->nkeys++];
}

/*
 * jwt.NAME.iss, .alg, .audience, .leeway, .secret[.KID], .key[.KID]
 * (a PEM public key file), .previous_secret.  Keys are loaded in
 * config_finish, once the algorithm is known whatever the order of the
 * lines.
 *
 * previous_secret is a second HS256 secret without kid: tokens without kid
 * are checked against both, so an issuer that sends no kid can change its
 * secret without a moment in which tenantd refuses its tokens.
 */
static int
set_issuer(struct config *c, const char *key, const char *v, char *err,
    size_t errlen)
{
	const char		*name = key + 4, *dot, *attr, *kid;
	struct jwt_issuer	*is;
	struct jwt_key		*k;
	unsigned char		*prev;

	if ((dot = strchr(name, '.')) == NULL)
		goto bad;
	if ((is = issuer_named(c, name, (size_t)(dot - name))) == NULL) {
		snprintf(err, errlen, "%s: too many issuers or bad name", key);
		return -1;
	}
	attr = dot + 1;
	kid = strchr(attr, '.');
	prev = &c->previous[is - c->issuers];
	if (strcmp(attr, "iss") == 0)
		snprintf(is->iss, sizeof(is->iss), "%s", v);
	else if (strcmp(attr, "audience") == 0)
		snprintf(is->aud, sizeof(is->aud), "%s", v);
	else if (strcmp(attr, "alg") == 0) {
		if (jwt_alg_parse(v, &is->alg) == -1) {
			snprintf(err, errlen, "%s: HS256, RS256 or ES256", key);
			return -1;
		}
	} else if (strcmp(attr, "leeway") == 0)
		is->leeway = strtol(v, NULL, 10);
	else if (strncmp(attr, "secret", 6) == 0 && (attr[6] == '\0' || attr[6] == '.')) {
		if ((k = issuer_key(is, kid ? kid + 1 : "", *prev)) == NULL ||
		    jwt_key_set_secret(k, v, strlen(v)) == -1)
			goto bad;
	} else if (strcmp(attr, "previous_secret") == 0) {
		if (*prev == 0 && is->nkeys < JWT_KEYS_MAX)
			*prev = (unsigned char)++is->nkeys;
		if (*prev == 0 || jwt_key_set_secret(&is->keys[*prev - 1], v,
		    strlen(v)) == -1)
			goto bad;
	} else if (strncmp(attr, "key", 3) == 0 && (attr[3] == '\0' || attr[3] == '.')) {
		if ((k = issuer_key(is, kid ? kid + 1 : "", *prev)) == NULL ||
		    strlen(v) >= sizeof(c->keyfiles[0][0]))
			goto bad;
		memcpy(c->keyfiles[is - c->issuers][k - is->keys], v,
		    strlen(v) + 1);
	} else
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "%s: unknown or invalid setting", key);
	return -1;
}

/*
 * surface.NAME.enabled = 0|1, surface.NAME.prefix = /PATH.  Whether NAME
 * is a surface that may be switched or moved is for app.c to say.
 */
static int
set_surface(struct config *c, const char *key, const char *v, char *err,
    size_t errlen)
{
	const char		*name = key + 8, *attr = strrchr(key, '.');
	struct config_surface	*s = NULL;
	size_t			 i, len = (size_t)(attr - name);

	if (attr <= name || len >= sizeof(c->surfaces[0].name))
		goto bad;
	for (i = 0; i < c->nsurfaces; i++)
		if (strlen(c->surfaces[i].name) == len &&
		    strncmp(c->surfaces[i].name, name, len) == 0)
			s = &c->surfaces[i];
	if (s == NULL) {
		if (c->nsurfaces == CONFIG_SURFACES_MAX)
			goto bad;
		s = &c->surfaces[c->nsurfaces++];
		memcpy(s->name, name, len);
		s->enabled = 1;
	}
	if (strcmp(attr, ".enabled") == 0 && (strcmp(v, "0") == 0 ||
	    strcmp(v, "1") == 0))
		s->enabled = v[0] == '1';
	else if (strcmp(attr, ".prefix") == 0 && strlen(v) < sizeof(s->prefix))
		memcpy(s->prefix, v, strlen(v) + 1);
	else
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "%s: expected surface.NAME.enabled = 0|1 or "
	    "surface.NAME.prefix = /PATH", key);
	return -1;
}

/* rate_limit.route./api/v1/tenants = 30 */
static int
set_rl_route(struct config *c, const char *pattern, const char *v, char *err,
    size_t errlen)
{
	char	*end;
	long	 n = strtol(v, &end, 10);

	if (*pattern != '/' || strlen(pattern) >= sizeof(c->rl_routes[0].pattern) ||
	    c->nrl_routes == CONFIG_RL_ROUTES_MAX || *v == '\0' || *end != '\0' ||
	    n < 0) {
		snprintf(err, errlen, "rate_limit.route.%s: expected a route "
		    "pattern and a count", pattern);
		return -1;
	}
	snprintf(c->rl_routes[c->nrl_routes].pattern,
	    sizeof(c->rl_routes[0].pattern), "%s", pattern);
	c->rl_routes[c->nrl_routes++].limit = n;
	return 0;
}

long
config_rate_limit(const struct config *c, const char *pattern)
{
	size_t	 i;

	for (i = 0; i < c->nrl_routes; i++)
		if (strcmp(c->rl_routes[i].pattern, pattern) == 0)
			return c->rl_routes[i].limit;
	return c->rate_limit_per_minute;
}

/*
 * secrets.key = V and secrets.key_file = PATH name the key "default";
 * secrets.key.KID / secrets.key_file.KID add more, for rotation.  They
 * are loaded by config_finish.
 */
static int
set_secret(struct config *c, const char *key, const char *v, char *err,
    size_t errlen)
{
	const char	*kid = "default";
	int		 is_file = 0;
	size_t		 i;

	if (strncmp(key, "secrets.key_file", 16) == 0) {
		is_file = 1;
		key += 16;
	} else
		key += 11;	/* "secrets.key" */
	if (*key == '.')
		kid = key + 1;
	else if (*key != '\0')
		goto bad;
	if (*kid == '\0' || strlen(kid) >= sizeof(c->secrets[0].kid) ||
	    strlen(v) >= sizeof(c->secrets[0].value))
		goto bad;
	for (i = 0; i < c->nsecrets; i++)
		if (strcmp(c->secrets[i].kid, kid) == 0)
			break;
	if (i == CONFIG_SECRETS_MAX)
		goto bad;
	snprintf(c->secrets[i].kid, sizeof(c->secrets[i].kid), "%s", kid);
	snprintf(c->secrets[i].value, sizeof(c->secrets[i].value), "%s", v);
	c->secrets[i].is_file = is_file;
	if (i == c->nsecrets)
		c->nsecrets++;
	return 0;
bad:
	snprintf(err, errlen, "secrets.key%s: unknown or invalid setting",
	    is_file ? "_file" : "");
	return -1;
}

int
config_set(struct config *c, const char *key, const char *v, char *err,
    size_t errlen)
{
	size_t	 i;

	if (strncmp(key, "secrets.key", 11) == 0)
		return set_secret(c, key, v, err, errlen);
	if (strncmp(key, "rate_limit.route.", 17) == 0)
		return set_rl_route(c, key + 17, v, err, errlen);
	if (strncmp(key, "surface.", 8) == 0)
		return set_surface(c, key, v, err, errlen);
	if (strncmp(key, "jwt.", 4) == 0 && strcmp(key, "jwt.leeway") != 0)
		return set_issuer(c, key, v, err, errlen);
	for (i = 0; i < sizeof(copts) / sizeof(copts[0]); i++)
		if (strcmp(copts[i].key, key) == 0)
			return set_scalar(c, &copts[i], v, err, errlen);
	snprintf(err, errlen, "unknown setting %s", key);
	return -1;
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE	*f;
	char	 line[1024], *k, *v, *eq, sub[512];
	int	 lineno = 0, rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		k = trim(line);
		if (*k == '#' || *k == '\0')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected key = value",
			    path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		if (config_set(c, k, v, sub, sizeof(sub)) == -1) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

/*
 * TENANTD_SURFACE_NAME_ENABLED and TENANTD_SURFACE_NAME_PREFIX: surface
 * names are not known here, so the environment is searched for them.
 */
static void
load_env_surfaces(struct config *c)
{
	extern char	**environ;
	char		**e, key[96], err[256];
	const char	*eq, *attr;
	size_t		 i, n;

	for (e = environ; *e != NULL; e++) {
		if (strncmp(*e, "TENANTD_SURFACE_", 16) != 0 ||
		    (eq = strchr(*e, '=')) == NULL || eq[1] == '\0')
			continue;
		n = (size_t)(eq - *e);
		if (n > 24 && strncmp(eq - 8, "_ENABLED", 8) == 0)
			attr = "enabled", n -= 8;
		else if (n > 23 && strncmp(eq - 7, "_PREFIX", 7) == 0)
			attr = "prefix", n -= 7;
		else
			continue;
		if (n - 16 > 40)
			continue;
		memcpy(key, "surface.", 8);
		for (i = 16; i < n; i++)
			key[8 + i - 16] = (char)tolower((unsigned char)(*e)[i]);
		snprintf(key + 8 + n - 16, sizeof(key) - (8 + n - 16), ".%s",
		    attr);
		if (set_surface(c, key, eq + 1, err, sizeof(err)) == -1)
			fprintf(stderr, "tenantd: ignoring %.*s: %s\n",
			    (int)(eq - *e), *e, err);
	}
}

void
config_load_env(struct config *c)
{
	char	 name[128], err[256];
	size_t	 i, j;
	const char *v;

	load_env_surfaces(c);
	for (i = 0; i < sizeof(copts) / sizeof(copts[0]); i++) {
		snprintf(name, sizeof(name), "TENANTD_%s", copts[i].key);
		for (j = 8; name[j] != '\0'; j++)
			name[j] = name[j] == '.' ? '_' :
			    (char)toupper((unsigned char)name[j]);
		if ((v = getenv(name)) == NULL || *v == '\0')
			continue;
		if (set_scalar(c, &copts[i], v, err, sizeof(err)) == -1)
			fprintf(stderr, "tenantd: ignoring %s: %s\n", name, err);
	}
}

/*
 * Moves issuer n's previous secret behind its other keys, so that keys[0],
 * which tenantctl signs with, is the first one configured of the others.
 */
static int
previous_last(struct config *c, size_t n)
{
	struct jwt_issuer	*is = &c->issuers[n];
	struct jwt_key		 k;
	char			 path[sizeof(c->keyfiles[0][0])];
	size_t			 p = c->previous[n] - 1u, rest = is->nkeys - 1 - p;

	if (is->nkeys < 2)
		return -1;
	k = is->keys[p];
	memcpy(path, c->keyfiles[n][p], sizeof(path));
	memmove(&is->keys[p], &is->keys[p + 1], rest * sizeof(is->keys[0]));
	memmove(c->keyfiles[n][p], c->keyfiles[n][p + 1], rest * sizeof(path));
	is->keys[is->nkeys - 1] = k;
	memcpy(c->keyfiles[n][is->nkeys - 1], path, sizeof(path));
	c->previous[n] = (unsigned char)is->nkeys;
	return 0;
}

/*
 * An HS256 issuer takes secrets only and an RS256/ES256 issuer PEM key
 * files only, so a key can never be used under the other algorithm family.
 */
static int
finish_issuer(struct config *c, size_t n, char *err, size_t errlen)
{
	struct jwt_issuer	*is = &c->issuers[n];
	const char		*why, *path;
	size_t			 i;

	if (is->iss[0] == '\0' || is->nkeys == 0) {
		snprintf(err, errlen, "jwt.%s: needs iss and a secret or key",
		    is->name);
		return -1;
	}
	if (is->leeway < 0)
		is->leeway = c->jwt_leeway;
	if (c->previous[n] != 0 && previous_last(c, n) == -1) {
		snprintf(err, errlen, "jwt.%s: previous_secret needs secret",
		    is->name);
		return -1;
	}
	for (i = 0; i < is->nkeys; i++) {
		path = c->keyfiles[n][i];
		if (is->alg == JWT_HS256 && is->keys[i].secret == NULL) {
			snprintf(err, errlen, "jwt.%s: HS256 takes secret, not key",
			    is->name);
			return -1;
		}
		if (is->alg == JWT_HS256)
			continue;
		if (is->keys[i].secret != NULL || *path == '\0') {
			snprintf(err, errlen, "jwt.%s: %s takes key (a PEM file)",
			    is->name, jwt_alg_name(is->alg));
			return -1;
		}
		if (jwt_key_load_pem(&is->keys[i], path, is->alg, &why) == -1) {
			snprintf(err, errlen, "jwt.%s: %s: %s", is->name, path, why);
			return -1;
		}
	}
	return 0;
}

/*
 * Fills the key ring.  With several keys, secrets.active must say which
 * one seals; the others only open what they sealed before.
 */
static int
finish_secrets(struct config *c, char *err, size_t errlen)
{
	size_t	 i;
	int	 rc = 0;

	secretbox_reset();
	for (i = 0; i < c->nsecrets && rc == 0; i++)
		rc = c->secrets[i].is_file ?
		    secretbox_add_key_file(c->secrets[i].kid,
		    c->secrets[i].value, err, errlen) :
		    secretbox_add_key(c->secrets[i].kid, c->secrets[i].value,
		    err, errlen);
	for (i = 0; i < c->nsecrets; i++)
		OPENSSL_cleanse(c->secrets[i].value,
		    sizeof(c->secrets[i].value));
	if (rc == -1)
		return -1;
	if (c->secrets_active[0] != '\0')
		return secretbox_set_active(c->secrets_active, err, errlen);
	if (c->nsecrets > 1) {
		snprintf(err, errlen, "secrets.active: several keys are "
		    "configured; name the one that seals new values");
		return -1;
	}
	return 0;
}

int
config_finish(struct config *c, char *err, size_t errlen)
{
	size_t	 i;
	long	 n;

	if (c->workers == 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = n > 0 ? n : 1;
	}
	for (i = 0; i < c->nissuers; i++)
		if (finish_issuer(c, i, err, errlen) == -1)
			return -1;
	return finish_secrets(c, err, errlen);
}

void
config_free(struct config *c)
{
	size_t	 i;

	for (i = 0; i < c->nissuers; i++)
		jwt_issuer_free(&c->issuers[i]);
	c->nissuers = 0;
	memset(c->previous, 0, sizeof(c->previous));
}
