/*
 * Unit tests for the metrics: slots of several processes (forked children
 * counting into the segment the parent mapped) summed by a scrape, the
 * latency buckets, the exposition's lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"

static void
label(size_t id, const char **method, char *path, size_t len)
{
	*method = id == 0 ? "" : "GET";
	snprintf(path, len, id == 0 ? "(none)" : "/r%zu", id);
}

static struct buf
scrape(void)
{
	struct buf	 b = { 0 };

	assert_int_equal(metrics_write(&b, 4, label), 0);
	return b;
}

static void
test_children_count_into_their_slots(void **state)
{
	struct metrics_shared	*m;
	struct buf		 b;
	pid_t			 pid;
	int			 i, st;

	(void)state;
	assert_non_null(m = metrics_open(4));
	for (i = 0; i < 3; i++) {
		if ((pid = fork()) == 0) {
			metrics_attach(m, (size_t)i);
			metrics_request(1, 200, 0.5);
			metrics_request(2, 404, 3);
			metrics_count(MC_DB_RECONNECTS);
			_exit(0);
		}
		assert_true(pid > 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
	}
	metrics_attach(m, 3);
	metrics_count(MC_WORKER_RESTARTS);
	b = scrape();
	assert_non_null(strstr(b.data, "tenantd_requests_total{method=\"GET\","
	    "route=\"/r1\",status=\"2xx\"} 3\n"));
	assert_non_null(strstr(b.data, "tenantd_requests_total{method=\"GET\","
	    "route=\"/r2\",status=\"4xx\"} 3\n"));
	assert_null(strstr(b.data, "route=\"/r3\""));
	assert_non_null(strstr(b.data, "tenantd_db_reconnects_total 3\n"));
	assert_non_null(strstr(b.data, "tenantd_worker_restarts_total 1\n"));
	/* 0.5 ms in the first bucket, 3 ms from the 5 ms one on. */
	assert_non_null(strstr(b.data,
	    "tenantd_request_duration_seconds_bucket{le=\"0.001\"} 3\n"));
	assert_non_null(strstr(b.data,
	    "tenantd_request_duration_seconds_bucket{le=\"0.0025\"} 3\n"));
	assert_non_null(strstr(b.data,
	    "tenantd_request_duration_seconds_bucket{le=\"0.005\"} 6\n"));
	assert_non_null(strstr(b.data,
	    "tenantd_request_duration_seconds_bucket{le=\"+Inf\"} 6\n"));
	assert_non_null(strstr(b.data, "tenantd_request_duration_seconds_sum "
	    "0.010500\n"));
	assert_non_null(strstr(b.data,
	    "tenantd_request_duration_seconds_count 6\n"));
	free(b.data);
	metrics_close(m);
}

static void
test_odd_input_stays_in_bounds(void **state)
{
	struct metrics_shared	*m;
	struct buf		 b;

	(void)state;
	assert_non_null(m = metrics_open(1));
	metrics_attach(m, 0);
	metrics_attach(m, 7);		/* no such slot: ignored */
	metrics_request(METRICS_ROUTES + 5, 999, 1e9);	/* counted as no route */
	metrics_request(0, 0, -1);
	b = scrape();
	assert_non_null(strstr(b.data, "route=\"(none)\",status=\"5xx\"} 2\n"));
	assert_non_null(strstr(b.data,
	    "tenantd_request_duration_seconds_bucket{le=\"10\"} 1\n"));
	assert_non_null(strstr(b.data,
	    "tenantd_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(b.data,
	    "tenantd_request_duration_seconds_sum 1000000.000000\n"));
	free(b.data);
	metrics_close(m);
}

static void
test_gauge_lines(void **state)
{
	struct buf	 b = { 0 };

	(void)state;
	assert_int_equal(metrics_gauge(&b, "g", NULL, "help", 4), 0);
	assert_int_equal(metrics_gauge(&b, "h", "s=\"x\"", NULL, -1), 0);
	assert_string_equal(b.data, "# HELP g help\n# TYPE g gauge\ng 4\n"
	    "h{s=\"x\"} -1\n");
	free(b.data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_children_count_into_their_slots),
		cmocka_unit_test(test_odd_input_stays_in_bounds),
		cmocka_unit_test(test_gauge_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
