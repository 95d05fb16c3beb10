/*
 * Unit tests for the per-worker cache of common-word and common-pair
 * probes: what is put is got back for the same scope, word or pair only,
 * keys too long to keep are never answered, and slots that collide lose
 * the older answer rather than give it for another key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "probe_cache.h"

static void
test_put_then_get(void **state)
{
	(void)state;
	assert_int_equal(probe_cache_get(7, "cafe", NULL), -1);
	probe_cache_put(7, "cafe", NULL, true);
	probe_cache_put(7, "tea", NULL, false);
	assert_int_equal(probe_cache_get(7, "cafe", NULL), 1);
	assert_int_equal(probe_cache_get(7, "tea", NULL), 0);
	/* The later answer wins. */
	probe_cache_put(7, "cafe", NULL, false);
	assert_int_equal(probe_cache_get(7, "cafe", NULL), 0);
}

static void
test_scopes_words_and_pairs_apart(void **state)
{
	(void)state;
	probe_cache_put(11, "region", "eu", true);
	assert_int_equal(probe_cache_get(11, "region", "eu"), 1);
	assert_int_equal(probe_cache_get(12, "region", "eu"), -1);
	assert_int_equal(probe_cache_get(0, "region", "eu"), -1);
	assert_int_equal(probe_cache_get(11, "region", NULL), -1);
	assert_int_equal(probe_cache_get(11, "regioneu", NULL), -1);
	assert_int_equal(probe_cache_get(11, "region", "e"), -1);
	assert_int_equal(probe_cache_get(11, "region", ""), -1);
	probe_cache_put(11, "region", NULL, false);
	assert_int_equal(probe_cache_get(11, "region", NULL), 0);
	assert_int_equal(probe_cache_get(11, "region", "eu"), 1);
}

static void
test_too_long_is_not_kept(void **state)
{
	char	 w[256];

	(void)state;
	memset(w, 'a', sizeof(w) - 1);
	w[sizeof(w) - 1] = '\0';
	probe_cache_put(3, w, NULL, true);
	assert_int_equal(probe_cache_get(3, w, NULL), -1);
	/* 190 bytes and the terminators: the longest kept. */
	w[190] = '\0';
	probe_cache_put(3, w, NULL, true);
	assert_int_equal(probe_cache_get(3, w, NULL), 1);
	w[190] = 'a';	/* 191 */
	w[191] = '\0';
	probe_cache_put(3, w, NULL, true);
	assert_int_equal(probe_cache_get(3, w, NULL), -1);
	w[190] = '\0';
	probe_cache_put(3, w, w, true);
	assert_int_equal(probe_cache_get(3, w, w), -1);
}

/* Many keys in few slots: an answer is the key's own or none. */
static void
test_collisions_forget_never_confuse(void **state)
{
	char	 w[32];
	int	 i, got, kept = 0;

	(void)state;
	for (i = 0; i < 5000; i++) {
		snprintf(w, sizeof(w), "word%d", i);
		probe_cache_put(i % 3, w, NULL, i % 2 == 1);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(w, sizeof(w), "word%d", i);
		got = probe_cache_get(i % 3, w, NULL);
		if (got == -1)
			continue;
		assert_int_equal(got, i % 2);
		kept++;
	}
	/* The last puts fill most slots. */
	assert_true(kept >= 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_then_get),
		cmocka_unit_test(test_scopes_words_and_pairs_apart),
		cmocka_unit_test(test_too_long_is_not_kept),
		cmocka_unit_test(test_collisions_forget_never_confuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
