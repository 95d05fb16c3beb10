/*
 * Daemon configuration: a key = value file, then TENANTD_* environment
 * variables on top (db.socket -> TENANTD_DB_SOCKET), then command-line
 * options on top of both.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#include "jwt.h"

#define CONFIG_ISSUERS_MAX	8
#define CONFIG_RL_ROUTES_MAX	32
#define CONFIG_SURFACES_MAX	16
#define CONFIG_SECRETS_MAX	8

/* surface.NAME.enabled / surface.NAME.prefix: where a surface is served. */
struct config_surface {
	char		 name[32];
	int		 enabled;	/* 0 switches the surface off */
	char		 prefix[128];	/* path its routes are mounted under */
};

struct config {
	char		 listen[256];	/* unix:PATH or HOST:PORT; "" = fd 0 */
	long		 workers;	/* 0 = one per core */
	long		 socket_mode;	/* for a unix socket we create */
	long		 backlog;
	char		 mount_prefix[128]; /* stripped from REQUEST_URI */
	long		 body_limit;	/* bytes; larger bodies get 413 */
	long		 fcgi_idle_timeout;	/* s an idle connection is kept */
	long		 fcgi_request_timeout;	/* s for a request to arrive whole */
	long		 fcgi_write_timeout;	/* s a reader may take nothing */
	char		 db_host[256];
	long		 db_port;
	char		 db_socket[256];
	char		 db_user[64];
	char		 db_password[128];
	char		 db_name[64];
	long		 db_connect_timeout;
	long		 db_read_timeout;	/* each read or write of a statement */
	long		 rate_limit_per_minute;
	long		 rate_limit_conflicts;	/* 409s a principal may meet a minute */
	struct {
		char	 pattern[128];	/* a route pattern, any method */
		long	 limit;
	}		 rl_routes[CONFIG_RL_ROUTES_MAX];
	size_t		 nrl_routes;
	long		 log_requests;	/* one JSON line per request */
	char		 log_file[256];	/* stderr goes here; "" = stderr */
	long		 jwt_leeway;	/* default for issuers */
	long		 auth_cache_ttl; /* seconds a worker trusts a key */
	long		 expiry_grace_days; /* InGrace after validUpto */
	long		 license_max_tenants; /* 0 = no limit */
	long		 list_mark_every; /* smallest step between page marks */
	long		 list_mark_beyond; /* rows read past before a mark */
	long		 list_mark_memory; /* bytes of page marks per worker */
	long		 list_scan_budget; /* rows a filtered read tries */
	long		 provision_enabled; /* run the provisioning process */
	long		 connections_retention_days; /* kept after a disconnect */
	long		 retention_deleted_days; /* a deleted tenant is kept */
	long		 connections_purge_interval; /* seconds between purges */
	char		 provision_db_hosts[512]; /* allowed tenant DB hosts */
	char		 provision_sql_dir[256]; /* sql/tenant migrations */
	struct config_surface surfaces[CONFIG_SURFACES_MAX];
	size_t		 nsurfaces;
	char		 provision_db_ports[256]; /* allowed tenant DB ports */
	char		 provision_db_name_pattern[65]; /* '%' = any run */
	char		 provision_db_user[64];	/* "" = db.user */
	char		 provision_db_password[128]; /* with db.user: db.password */
	long		 provision_connect_timeout; /* seconds */
	long		 provision_read_timeout; /* seconds, reads and writes */
	long		 provision_allow_activate_unprovisioned; /* 0: 409 */
	long		 provision_concurrency;	/* runners in the pool */
	long		 provision_per_account;	/* jobs of one account at once */
	long		 webhooks_enabled;	/* run the webhook deliverer */
	char		 webhooks_allow_http_hosts[512]; /* http:// allowed to */
	char		 webhooks_allow_private_hosts[512]; /* loopback, private */
	long		 webhooks_connect_timeout;	/* seconds */
	long		 webhooks_timeout;		/* seconds, whole attempt */
	long		 webhooks_max_attempts;		/* then given up */
	long		 webhooks_retry_base;		/* s before the 2nd attempt */
	long		 webhooks_retry_max;		/* s, the longest wait */
	/* secrets.key[.KID] = value, secrets.key_file[.KID] = path */
	struct {
		char	 kid[17];
		char	 value[256];
		int	 is_file;
	}		 secrets[CONFIG_SECRETS_MAX];
	size_t		 nsecrets;
	char		 secrets_active[17];
	struct jwt_issuer issuers[CONFIG_ISSUERS_MAX];
	size_t		 nissuers;
	/* PEM paths of issuers[i].keys[j], loaded by config_finish */
	char		 keyfiles[CONFIG_ISSUERS_MAX][JWT_KEYS_MAX][256];
	/* issuers[i].keys[previous[i] - 1] is jwt.NAME.previous_secret */
	unsigned char	 previous[CONFIG_ISSUERS_MAX];
};

/* The file read when neither --config nor $TENANTD_CONFIG names one. */
#define CONFIG_PATH	SYSCONFDIR "/tenantd/tenantd.conf"

/* $TENANTD_CONFIG, else CONFIG_PATH when it exists, else NULL. */
const char	*config_path(void);
void	 config_defaults(struct config *);
/* Reads path (which must exist) and applies it. */
int	 config_load_file(struct config *, const char *path, char *err,
	    size_t errlen);
/* Applies one "key = value" setting. */
int	 config_set(struct config *, const char *key, const char *value,
	    char *err, size_t errlen);
void	 config_load_env(struct config *);
/*
 * Checks the whole and fills derived values (issuer leeway); loads the
 * secrets keys into the process's key ring (secretbox).
 */
int	 config_finish(struct config *, char *err, size_t errlen);
void	 config_free(struct config *);
/* Requests per minute allowed on a route pattern (0 = unlimited). */
long	 config_rate_limit(const struct config *, const char *pattern);

#endif
