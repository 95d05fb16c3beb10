/*
 * Liveness and readiness probes, public, and the metrics, for loopback
 * peers and the Metrics permission: outside any API surface.
 */
#include "../app.h"
#include "../metrics.h"
#include "../problem.h"
#include "../provision.h"
#include "../surfaces.h"

static void	 h_healthz(struct ctx *);
static void	 h_readyz(struct ctx *);
static void	 h_metrics(struct ctx *);

static const struct route routes[] = {
	{ HTTP_GET, "/healthz", PERM_NONE, h_healthz, ROUTE_PUBLIC },
	{ HTTP_GET, "/readyz", PERM_NONE, h_readyz, ROUTE_PUBLIC },
	{ HTTP_GET, "/metrics", PERM_METRICS, h_metrics,
	    ROUTE_LOOPBACK | ROUTE_OWN_MEDIA },
};

static void
h_healthz(struct ctx *c)
{
	response_set(c->resp, 200, json_pack("{s:s}", "status", "ok"),
	    "health", NULL);
}

static void
h_readyz(struct ctx *c)
{
	if (db_ping(c->db) == -1) {
		response_header(c->resp, "Retry-After", "5");
		response_set(c->resp, 503, json_pack("{s:s, s:s}", "status",
		    "unavailable", "database", "unreachable"), "health", NULL);
		return;
	}
	response_set(c->resp, 200, json_pack("{s:s, s:s}", "status", "ok",
	    "database", "ok"), "health", NULL);
}

/*
 * The provisioning queue is read from the database, so every node
 * reports the cluster's; without a database those samples are left out
 * and tenantd_db_up says why.
 */
static int
provisioning_gauges(struct ctx *c, struct buf *b)
{
	long long	 n[JOB__MAX];
	char		 label[32];
	size_t		 i;

	if (provision_job_counts(c->db, n) == -1)
		return metrics_gauge(b, "tenantd_db_up", NULL, "Whether this "
		    "worker could read the database for this scrape", 0);
	if (metrics_gauge(b, "tenantd_db_up", NULL, "Whether this worker "
	    "could read the database for this scrape", 1) == -1 ||
	    metrics_gauge(b, "tenantd_provisioning_queue_depth", NULL,
	    "Provisioning jobs waiting or running, cluster-wide",
	    n[JOB_PENDING] + n[JOB_IN_PROGRESS]) == -1)
		return -1;
	for (i = 0; i < JOB__MAX; i++) {
		snprintf(label, sizeof(label), "status=\"%s\"",
		    provision_job_states[i]);
		if (metrics_gauge(b, "tenantd_provisioning_jobs", label, i > 0 ?
		    NULL : "Provisioning jobs not completed, by status, "
		    "cluster-wide", n[i]) == -1)
			return -1;
	}
	return 0;
}

/* One buffer for every scrape of this worker: never freed, reused. */
static struct buf	 metrics_text;

static void
h_metrics(struct ctx *c)
{
	buf_reset(&metrics_text);
	if (metrics_write(&metrics_text, app_route_count(),
	    app_route_label) == -1 ||
	    provisioning_gauges(c, &metrics_text) == -1) {
		ctx_error(c, 500, "internal", "the metrics could not be "
		    "written", NULL);
		return;
	}
	response_text(c->resp, 200, "text/plain; version=0.0.4",
	    &metrics_text);
}

const struct surface surface_system = {
	.name = "system",
	.prefix = "/healthz",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.error = ctx_problem,
};
