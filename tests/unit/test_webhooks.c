/*
 * Where a webhook may be delivered (webhook_url.c): the URL's form when it
 * is subscribed, and the addresses refused at delivery (SSRF), on literal
 * addresses so that no name is looked up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "webhook_url.h"

static struct config cfg;

static const char *
check(const char *url)
{
	struct webhook_target t;

	return webhook_url_check(url, &cfg, &t);
}

static void
test_forms(void **state)
{
	struct webhook_target t;

	(void)state;
	assert_null(webhook_url_check("https://hooks.example.com/a?b=c", &cfg,
	    &t));
	assert_true(t.https);
	assert_string_equal(t.host, "hooks.example.com");
	assert_int_equal(t.port, 443);
	assert_null(webhook_url_check("HTTPS://Hooks.Example:8443", &cfg, &t));
	assert_int_equal(t.port, 8443);
	assert_null(webhook_url_check("https://[2001:db8::1]:9/x", &cfg, &t));
	assert_string_equal(t.host, "2001:db8::1");
	assert_int_equal(t.port, 9);
	assert_non_null(check("http://hooks.example.com/"));
	assert_non_null(check("ftp://hooks.example.com/"));
	assert_non_null(check("hooks.example.com"));
	assert_non_null(check("https://"));
	assert_non_null(check("https:///path"));
	assert_non_null(check("https://u:p@hooks.example.com/"));
	assert_non_null(check("https://hooks.example.com/#f"));
	assert_non_null(check("https://hooks.example.com/a b"));
	assert_non_null(check("https://hooks.example.com\r\n/"));
	assert_non_null(check("https://hooks.example.com:0/"));
	assert_non_null(check("https://hooks.example.com:65536/"));
	assert_non_null(check("https://hooks.example.com:8x/"));
	assert_non_null(check("https://hooks.example.com:/"));
	assert_non_null(check("https://[::1/"));
	assert_non_null(check("https://ho%6fks.example.com/"));
}

static void
test_http_only_to_listed_hosts(void **state)
{
	(void)state;
	snprintf(cfg.webhooks_allow_http_hosts,
	    sizeof(cfg.webhooks_allow_http_hosts), "receiver.test, 8.8.4.4");
	assert_null(check("http://receiver.test/x"));
	assert_null(check("http://RECEIVER.test:8080/x"));
	assert_null(check("http://8.8.4.4/x"));
	assert_non_null(check("http://receiver.test.evil/x"));
	assert_non_null(check("http://receiver/x"));
	cfg.webhooks_allow_http_hosts[0] = '\0';
	assert_non_null(check("http://receiver.test/x"));
}

/* Literal addresses are judged at once, and again at delivery. */
static void
test_internal_addresses(void **state)
{
	static const char *const internal[] = {
		"127.0.0.1", "127.1.2.3", "0.0.0.0", "10.0.0.1", "100.64.0.1",
		"100.127.255.255", "169.254.169.254", "172.16.0.1",
		"172.31.255.255", "192.168.1.1", "192.0.0.8", "198.18.0.1",
		"224.0.0.1", "255.255.255.255", "[::1]", "[::]", "[fc00::1]",
		"[fd12::1]", "[fe80::1]", "[ff02::1]", "[::ffff:10.0.0.1]",
		"[::ffff:127.0.0.1]",
	};
	static const char *const public[] = {
		"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1",
		"172.15.255.255", "172.32.0.1", "192.169.0.1", "198.20.0.1",
		"[2001:4860:4860::8888]", "[::ffff:8.8.8.8]",
	};
	struct webhook_target t;
	char		 url[128], addr[64], err[256];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(internal) / sizeof(internal[0]); i++) {
		snprintf(url, sizeof(url), "https://%s/hook", internal[i]);
		assert_non_null(check(url));
	}
	for (i = 0; i < sizeof(public) / sizeof(public[0]); i++) {
		snprintf(url, sizeof(url), "https://%s/hook", public[i]);
		assert_null(webhook_url_check(url, &cfg, &t));
		assert_int_equal(webhook_url_resolve(&t, &cfg, addr,
		    sizeof(addr), err, sizeof(err)), 0);
	}
	/* Allowed by name, a private host is reached at its address. */
	snprintf(cfg.webhooks_allow_private_hosts,
	    sizeof(cfg.webhooks_allow_private_hosts), "127.0.0.1");
	assert_null(webhook_url_check("https://127.0.0.1:8443/", &cfg, &t));
	assert_int_equal(webhook_url_resolve(&t, &cfg, addr, sizeof(addr), err,
	    sizeof(err)), 0);
	assert_string_equal(addr, "127.0.0.1");
	assert_non_null(check("https://10.0.0.1/"));
	cfg.webhooks_allow_private_hosts[0] = '\0';
	t.https = 1;
	snprintf(t.host, sizeof(t.host), "127.0.0.1");
	assert_int_equal(webhook_url_resolve(&t, &cfg, addr, sizeof(addr), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "loopback, private or internal"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_http_only_to_listed_hosts),
		cmocka_unit_test(test_internal_addresses),
	};

	config_defaults(&cfg);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
