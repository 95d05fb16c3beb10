#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "metrics.h"

/* Upper bounds of the latency buckets, in milliseconds; +Inf follows. */
static const double buckets_ms[] = {
	1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
};
#define NBUCKETS	(sizeof(buckets_ms) / sizeof(buckets_ms[0]))
#define NCLASSES	5	/* 1xx .. 5xx */

struct metrics_slot {
	uint64_t	 requests[METRICS_ROUTES][NCLASSES];
	uint64_t	 latency[NBUCKETS + 1];	/* not cumulative */
	uint64_t	 latency_us;		/* their sum */
	uint64_t	 c[MC__MAX];
};

struct metrics_shared {
	size_t		 nslots;
	size_t		 size;
	struct metrics_slot slots[];
};

/* Families in order; consecutive entries of one name share HELP/TYPE. */
static const struct {
	const char	*name;
	const char	*labels;
	const char	*help;
} counters[MC__MAX] = {
	[MC_DB_ERR_DUP] = { "tenantd_db_errors_total", "kind=\"duplicate\"",
	    "Database statements that failed, by kind" },
	[MC_DB_ERR_RETRY] = { "tenantd_db_errors_total", "kind=\"retry\"", NULL },
	[MC_DB_ERR_LOST] = { "tenantd_db_errors_total", "kind=\"lost\"", NULL },
	[MC_DB_ERR_OTHER] = { "tenantd_db_errors_total", "kind=\"other\"", NULL },
	[MC_DB_RECONNECTS] = { "tenantd_db_reconnects_total", NULL,
	    "Database connections made again after one was lost" },
	[MC_DB_RETRY_1205] = { "tenantd_db_retries_total", "code=\"1205\"",
	    "Transactions run again after a lock wait timeout (1205) or a "
	    "deadlock or certification conflict (1213)" },
	[MC_DB_RETRY_1213] = { "tenantd_db_retries_total", "code=\"1213\"", NULL },
	[MC_KEYCACHE_HIT] = { "tenantd_keycache_lookups_total",
	    "result=\"hit\"", "API key lookups in the per-worker cache" },
	[MC_KEYCACHE_MISS] = { "tenantd_keycache_lookups_total",
	    "result=\"miss\"", NULL },
	[MC_WORKER_RESTARTS] = { "tenantd_worker_restarts_total", NULL,
	    "Worker or provisioning processes replaced after they died" },
	[MC_PROVISION_FAILED] = { "tenantd_provisioning_failures_total", NULL,
	    "Provisioning attempts that failed on this node" },
	[MC_PROVISION_DONE] = { "tenantd_provisioning_completed_total", NULL,
	    "Provisioning jobs completed on this node" },
	[MC_MARK_ONE] = { "tenantd_page_mark_reads_total", "kind=\"one\"",
	    "Reads for page marks of deep list pages: one mark, a pass "
	    "over the whole listing for all of them, or the changes since "
	    "its marks' generation (rebase)" },
	[MC_MARK_PASS] = { "tenantd_page_mark_reads_total", "kind=\"pass\"",
	    NULL },
	[MC_MARK_REBASE] = { "tenantd_page_mark_reads_total",
	    "kind=\"rebase\"", NULL },
	[MC_MARK_DROPPED] = { "tenantd_page_marks_dropped_total", NULL,
	    "Listings whose marks the logged changes could not move (a gap "
	    "in the log, keys alike past the weights kept): read again" },
};

static struct metrics_slot	 private;
static struct metrics_slot	*mine = &private;
static struct metrics_shared	*attached;

#define ADD(p, n)	__atomic_fetch_add((p), (n), __ATOMIC_RELAXED)
#define GET(p)		__atomic_load_n((p), __ATOMIC_RELAXED)

struct metrics_shared *
metrics_open(size_t nslots)
{
	struct metrics_shared	*m;
	size_t			 size;

	size = sizeof(*m) + nslots * sizeof(struct metrics_slot);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	m->nslots = nslots;
	m->size = size;
	return m;
}

void
metrics_close(struct metrics_shared *m)
{
	if (m == NULL)
		return;
	if (attached == m) {
		attached = NULL;
		mine = &private;
	}
	munmap(m, m->size);
}

void
metrics_attach(struct metrics_shared *m, size_t i)
{
	if (m == NULL || i >= m->nslots)
		return;
	attached = m;
	mine = &m->slots[i];
}

void
metrics_count(enum metric k)
{
	ADD(&mine->c[k], 1);
}

void
metrics_request(size_t route, int status, double ms)
{
	size_t	 b, class = status >= 100 && status < 600 ?
	    (size_t)(status / 100 - 1) : NCLASSES - 1;

	if (route >= METRICS_ROUTES)
		route = 0;
	if (ms < 0)
		ms = 0;
	ADD(&mine->requests[route][class], 1);
	for (b = 0; b < NBUCKETS && ms > buckets_ms[b]; b++)
		;
	ADD(&mine->latency[b], 1);
	ADD(&mine->latency_us, (uint64_t)(ms * 1000));
}

/* A slot's field summed over every slot (or the private one). */
static uint64_t
sum(size_t off)
{
	uint64_t	 n = 0;
	size_t		 i;

	if (attached == NULL)
		return GET((uint64_t *)((char *)&private + off));
	for (i = 0; i < attached->nslots; i++)
		n += GET((uint64_t *)((char *)&attached->slots[i] + off));
	return n;
}

#define SUM(field)	sum((size_t)((char *)&private.field - (char *)&private))

static int
write_requests(struct buf *b, size_t nroutes,
    void (*label)(size_t, const char **, char *, size_t))
{
	const char	*method;
	char		 path[256];
	uint64_t	 n;
	size_t		 r, k;

	if (buf_puts(b, "# HELP tenantd_requests_total Requests answered, by "
	    "route and status class\n# TYPE tenantd_requests_total "
	    "counter\n") == -1)
		return -1;
	for (r = 0; r < nroutes && r < METRICS_ROUTES; r++)
		for (k = 0; k < NCLASSES; k++) {
			if ((n = SUM(requests[r][k])) == 0)
				continue;
			label(r, &method, path, sizeof(path));
			if (buf_printf(b, "tenantd_requests_total{method=\"%s\","
			    "route=\"%s\",status=\"%zuxx\"} %llu\n", method,
			    path, k + 1, (unsigned long long)n) == -1)
				return -1;
		}
	return 0;
}

static int
write_latency(struct buf *b)
{
	uint64_t	 n = 0;
	size_t		 i;

	if (buf_puts(b, "# HELP tenantd_request_duration_seconds Time from "
	    "a request's arrival to its answer\n# TYPE "
	    "tenantd_request_duration_seconds histogram\n") == -1)
		return -1;
	for (i = 0; i < NBUCKETS; i++) {
		n += SUM(latency[i]);
		if (buf_printf(b, "tenantd_request_duration_seconds_bucket"
		    "{le=\"%g\"} %llu\n", buckets_ms[i] / 1000,
		    (unsigned long long)n) == -1)
			return -1;
	}
	n += SUM(latency[NBUCKETS]);
	return buf_printf(b, "tenantd_request_duration_seconds_bucket"
	    "{le=\"+Inf\"} %llu\ntenantd_request_duration_seconds_sum %.6f\n"
	    "tenantd_request_duration_seconds_count %llu\n",
	    (unsigned long long)n, (double)SUM(latency_us) / 1e6,
	    (unsigned long long)n);
}

static int
write_counters(struct buf *b)
{
	size_t	 i;

	for (i = 0; i < MC__MAX; i++) {
		if (counters[i].help != NULL && buf_printf(b, "# HELP %s %s\n"
		    "# TYPE %s counter\n", counters[i].name, counters[i].help,
		    counters[i].name) == -1)
			return -1;
		if (buf_printf(b, "%s%s%s%s %llu\n", counters[i].name,
		    counters[i].labels ? "{" : "",
		    counters[i].labels ? counters[i].labels : "",
		    counters[i].labels ? "}" : "",
		    (unsigned long long)SUM(c[i])) == -1)
			return -1;
	}
	return 0;
}

int
metrics_write(struct buf *b, size_t nroutes,
    void (*label)(size_t, const char **, char *, size_t))
{
	if (write_requests(b, nroutes, label) == -1 ||
	    write_latency(b) == -1 || write_counters(b) == -1)
		return -1;
	return 0;
}

int
metrics_gauge(struct buf *b, const char *name, const char *labels,
    const char *help, long long value)
{
	if (help != NULL && buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n",
	    name, help, name) == -1)
		return -1;
	return buf_printf(b, "%s%s%s%s %lld\n", name, labels ? "{" : "",
	    labels ? labels : "", labels ? "}" : "", value);
}
