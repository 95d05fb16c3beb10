/*
 * Connection strings of tenants with their own database: the parser on
 * hostile input, the policy (hosts, ports, database names), the request
 * validator, masking, and the secretbox that seals them at rest.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "connstr.h"
#include "secretbox.h"
#include "tenant_model.h"

#define KEY1	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY2	"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="	/* base64 */

static const struct conn_policy policy = {
	.hosts = "localhost, 127.0.0.1,db.internal", .ports = "3306,3307",
	.name_pattern = "tenant_%", .own_db = "tenantd",
};

static const char *
parse(const char *s, struct connstr *c)
{
	return connstr_parse(s, strlen(s), c);
}

static void
test_parse_forms(void **state)
{
	struct connstr	 c;

	(void)state;
	assert_null(parse("Server=db.internal;Port=3307;Database=tenant_a;"
	    "User Id=app;Password=p=w d;", &c));
	assert_string_equal(c.host, "db.internal");
	assert_int_equal(c.port, 3307);
	assert_string_equal(c.database, "tenant_a");
	assert_string_equal(c.user, "app");
	assert_string_equal(c.password, "p=w d");
	assert_null(parse(" host = localhost ; uid=root;PWD=x;initial catalog"
	    "=tenant_b", &c));
	assert_string_equal(c.host, "localhost");
	assert_int_equal(c.port, 3306);
	assert_string_equal(c.database, "tenant_b");
	assert_string_equal(c.user, "root");
	assert_null(parse("Data Source=127.0.0.1", &c));
	assert_string_equal(c.database, "");
	assert_false(c.has_user);
}

static void
test_parse_hostile(void **state)
{
	static const char *const bad[] = {
		"", ";;;", "Database=tenant_a", "Server", "Server=db;junk",
		"Server=db;Server=db2", "Server=db;Host=db2",
		"Server=db;Database=tenant_a;Initial Catalog=tenant_b",
		"Server=db;Pwd=a;Password=b", "Server=db;SslMode=none",
		"Server=db;Database=tenant_`x`", "Server=db;Database=a b",
		"Server=db;Database=tenant_a;DROP", "Server=db;Database=",
		"Server=db;Database=t\\x", "Server=db;Port=0",
		"Server=db;Port=65536", "Server=db;Port=33a6", "Server=db;Port=",
		"Server=db;Port=-1", "Server=db/x", "Server=db,3306",
		"Server=db;Password=a\nb", "Server=\tdb\x01",
		"Server=db;Database=tenant_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"mysql://root:pw@localhost/mysql",
		"enc:v1:default:AAAA",
	};
	struct connstr	 c;
	char		 big[CONNSTR_MAX + 2];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &c) == NULL)
			fail_msg("accepted %s", bad[i]);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "Server=db;Password=", 19);
	assert_non_null(parse(big, &c));
	/* A NUL inside the given length is a control character. */
	assert_non_null(connstr_parse("Server=db\0x", 11, &c));
}

static void
test_policy(void **state)
{
	static const struct {
		const char	*s, *why;
	} cases[] = {
		{ "Server=localhost;Database=mysql;User Id=root",
		    "database must not be a system schema" },
		{ "Server=localhost;Database=MySQL",
		    "database must not be a system schema" },
		{ "Server=localhost;Database=information_schema",
		    "database must not be a system schema" },
		{ "Server=localhost;Database=PERFORMANCE_SCHEMA",
		    "database must not be a system schema" },
		{ "Server=localhost;Database=sys",
		    "database must not be a system schema" },
		{ "Server=localhost;Database=tenantd",
		    "database must not be tenantd's own database" },
		{ "Server=localhost;Database=app",
		    "database must match tenant_%" },
		{ "Server=localhost;Database=tenantX",
		    "database must match tenant_%" },
		{ "Server=localhost;Database=Tenant_x",
		    "database must match tenant_%" },
		{ "Server=db.example;Database=tenant_x", "host is not allowed" },
		{ "Server=localhost;Port=3308;Database=tenant_x",
		    "port is not allowed" },
		{ "Server=LOCALHOST;Port=3307;Database=tenant_x", NULL },
		{ "Server=db.internal;Database=tenant_", NULL },
		{ "Server=127.0.0.1", NULL },
	};
	struct connstr	 c;
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_null(parse(cases[i].s, &c));
		why = connstr_check(&c, &policy);
		if (cases[i].why == NULL && why != NULL)
			fail_msg("%s: %s", cases[i].s, why);
		if (cases[i].why != NULL &&
		    (why == NULL || strcmp(why, cases[i].why) != 0))
			fail_msg("%s: got %s", cases[i].s, why ? why : "ok");
	}
}

static void
test_db_name(void **state)
{
	struct connstr	 c;
	char		 name[65];

	(void)state;
	assert_null(parse("Server=localhost", &c));
	assert_int_equal(connstr_db_name(&c, "acme-corp-1", name), 0);
	assert_string_equal(name, "tenant_acme_corp_1");
	assert_null(connstr_check_db(name, &policy));
	assert_int_equal(connstr_db_name(&c, "a23456789012345678901234567890"
	    "123456789012345678901234567890123", name), -1);
	assert_null(parse("Server=localhost;Database=tenant_given", &c));
	assert_int_equal(connstr_db_name(&c, "acme", name), 0);
	assert_string_equal(name, "tenant_given");
}

static void
test_seal_open(void **state)
{
	char	 sealed[SECRETBOX_SEALED_LEN(CONNSTR_MAX)], out[CONNSTR_MAX + 1];
	char	 err[256], other[sizeof(sealed)], kid[SECRETBOX_KID_MAX + 1];
	const char *plain = "Server=localhost;User Id=app;Password=s3cret";
	size_t	 n, i;

	(void)state;
	secretbox_reset();
	assert_false(secretbox_ready());
	assert_int_equal(secretbox_seal(plain, strlen(plain), "acme", sealed,
	    sizeof(sealed)), -1);
	assert_int_equal(secretbox_add_key("K1", "tooshort", err, sizeof(err)),
	    -1);
	assert_int_equal(secretbox_add_key("bad kid", KEY1, err, sizeof(err)),
	    -1);
	assert_int_equal(secretbox_add_key("K1", KEY1, err, sizeof(err)), 0);
	assert_true(secretbox_ready());
	assert_int_equal(secretbox_seal(plain, strlen(plain), "acme", sealed,
	    sizeof(sealed)), 0);
	assert_true(secretbox_is_sealed(sealed, strlen(sealed)));
	assert_int_equal(strncmp(sealed, "enc:v1:K1:", 10), 0);
	assert_null(strstr(sealed, "s3cret"));
	assert_int_equal(secretbox_open(sealed, strlen(sealed), "acme", out,
	    sizeof(out), &n), 0);
	assert_string_equal(out, plain);
	assert_int_equal(n, strlen(plain));
	/* A fresh nonce each time. */
	assert_int_equal(secretbox_seal(plain, strlen(plain), "acme", other,
	    sizeof(other)), 0);
	assert_string_not_equal(sealed, other);
	/* Another row's slug, any flipped character, truncation: refused. */
	assert_int_equal(secretbox_open(sealed, strlen(sealed), "other", out,
	    sizeof(out), &n), -1);
	for (i = 10; i < strlen(sealed); i++) {
		memcpy(other, sealed, strlen(sealed) + 1);
		other[i] = other[i] == 'A' ? 'B' : 'A';
		if (secretbox_open(other, strlen(other), "acme", out,
		    sizeof(out), &n) == 0)
			fail_msg("tampered byte %zu opened", i);
	}
	assert_int_equal(secretbox_open(sealed, strlen(sealed) - 4, "acme", out,
	    sizeof(out), &n), -1);
	assert_int_equal(secretbox_open(sealed, strlen(sealed), "acme", out,
	    10, &n), -1);
	/* Rotation: K2 seals, K1 still opens its own. */
	assert_int_equal(secretbox_add_key("K2", KEY2, err, sizeof(err)), 0);
	assert_int_equal(secretbox_set_active("K2", err, sizeof(err)), 0);
	assert_int_equal(secretbox_set_active("K3", err, sizeof(err)), -1);
	assert_int_equal(secretbox_seal(plain, strlen(plain), "acme", other,
	    sizeof(other)), 0);
	assert_int_equal(secretbox_kid(other, strlen(other), kid), 0);
	assert_string_equal(kid, "K2");
	assert_int_equal(secretbox_open(sealed, strlen(sealed), "acme", out,
	    sizeof(out), &n), 0);
	/* Same ciphertext under another key id: refused. */
	memcpy(other, "enc:v1:K2:", 10);
	memcpy(other + 10, sealed + 10, strlen(sealed) - 9);
	assert_int_equal(secretbox_open(other, strlen(other), "acme", out,
	    sizeof(out), &n), -1);
	secretbox_reset();
	assert_int_equal(secretbox_open(sealed, strlen(sealed), "acme", out,
	    sizeof(out), &n), -1);
}

static void
test_key_file_and_config(void **state)
{
	struct config	 cfg;
	char		 path[] = "/tmp/tenantd-keyXXXXXX", err[256], line[200];
	int		 fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, KEY1 "\n", 65), 65);
	close(fd);
	chmod(path, 0644);
	secretbox_reset();
	assert_int_equal(secretbox_add_key_file("K1", path, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "chmod 600"));
	chmod(path, 0600);
	config_defaults(&cfg);
	snprintf(line, sizeof(line), "%s", path);
	assert_int_equal(config_set(&cfg, "secrets.key_file", line, err,
	    sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "secrets.key.K2", KEY2, err,
	    sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "secrets.keyX", KEY2, err,
	    sizeof(err)), -1);
	/* Two keys and none named active: refused. */
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), -1);
	config_free(&cfg);
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "secrets.key_file", line, err,
	    sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "secrets.key.K2", KEY2, err,
	    sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "secrets.active", "K2", err,
	    sizeof(err)), 0);
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), 0);
	assert_string_equal(secretbox_active(), "K2");
	assert_string_equal(cfg.provision_db_ports, "3306");
	assert_string_equal(cfg.provision_db_name_pattern, "tenant_%");
	assert_int_equal(cfg.provision_connect_timeout, 3);
	config_free(&cfg);
	unlink(path);
	secretbox_reset();
}

static const struct field_map map[] = {
	{ "id", TC_SLUG },
	{ "connectionString", TC_CONNECTION_STRING },
};

static json_t *
validate_slug(const char *slug, const char *conn)
{
	json_t			*body, *errors = json_object(), *e;
	struct tenant_input	 in;

	body = json_pack("{s:s, s:s}", "id", slug, "connectionString", conn);
	tenant_input_from_json(map, 2, body, false, &in, errors);
	e = json_incref(json_object_get(errors, "connectionString"));
	json_decref(errors);
	json_decref(body);
	return e;
}

static json_t *
validate(const char *conn)
{
	return validate_slug("acme", conn);
}

static void
test_validator(void **state)
{
	char	 err[256];
	json_t	*e;

	(void)state;
	tenant_model_set_conn_policy(&policy);
	secretbox_reset();
	/* No key: nothing with credentials can be stored. */
	e = validate("Server=localhost;Database=tenant_a;User Id=u;"
	    "Password=p");
	assert_non_null(e);
	json_decref(e);
	assert_int_equal(secretbox_add_key("K1", KEY1, err, sizeof(err)), 0);
	assert_null(validate("Server=localhost;Database=tenant_a;User Id=u;"
	    "Password=p"));
	/* No Database: the name derived from the id must fit and pass. */
	assert_null(validate("Server=localhost;User Id=u"));
	e = validate_slug("a23456789012345678901234567890123456789012345678"
	    "901234567890", "Server=localhost");
	assert_non_null(e);
	json_decref(e);
	e = validate("Server=localhost;Database=mysql;User Id=root");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_array_get(e, 0)),
	    "database must not be a system schema");
	json_decref(e);
	secretbox_reset();
}

static void
test_masked_sealed_row(void **state)
{
	const char	*cols[TC__MAX] = { NULL };
	char		 sealed[SECRETBOX_SEALED_LEN(CONNSTR_MAX)], err[256];
	const char	*plain = "Host=localhost; Uid = app ;pwd= s3cret;"
	    "Database=tenant_a";
	struct db_row	 row;
	json_t		*j;
	size_t		 i;

	(void)state;
	secretbox_reset();
	assert_int_equal(secretbox_add_key("K1", KEY1, err, sizeof(err)), 0);
	assert_int_equal(secretbox_seal(plain, strlen(plain), "acme", sealed,
	    sizeof(sealed)), 0);
	cols[TC_SLUG] = "acme";
	cols[TC_CONNECTION_STRING] = sealed;
	memset(&row, 0, sizeof(row));
	row.n = TC__MAX;
	for (i = 0; i < TC__MAX; i++) {
		row.v[i] = cols[i];
		row.len[i] = cols[i] ? strlen(cols[i]) : 0;
	}
	j = tenant_row_json(map, 2, &row);
	assert_string_equal(json_string_value(json_object_get(j,
	    "connectionString")), "Host=localhost; Uid =***;pwd=***;"
	    "Database=tenant_a");
	json_decref(j);
	/* Under another slug it does not open, and shows only "***". */
	cols[TC_SLUG] = "other";
	row.v[TC_SLUG] = "other";
	j = tenant_row_json(map, 2, &row);
	assert_string_equal(json_string_value(json_object_get(j,
	    "connectionString")), "***");
	json_decref(j);
	secretbox_reset();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_db_name),
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_key_file_and_config),
		cmocka_unit_test(test_validator),
		cmocka_unit_test(test_masked_sealed_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
