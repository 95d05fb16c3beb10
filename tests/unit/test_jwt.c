/*
 * Unit tests for jwt.c and base64url.c.  Every token verified here was
 * minted by PyJWT (see fixtures/jwt/make_fixtures.py), not by jwt.c, except
 * in the jwt_sign_hs256 round-trip tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "base64url.h"
#include "buf.h"
#include "config.h"
#include "jwt.h"
#include "perm.h"

#include "fixtures/jwt/tokens.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

enum {
	IS_HS,		/* HS256, aud FX_AUD, one key without kid */
	IS_RS,		/* RS256, aud FX_AUD, rsa1 */
	IS_ES,		/* ES256, no aud, ec1 */
	IS_ROT,		/* HS256, no aud, keys "k1" and "k2" */
	NISSUERS
};

static struct jwt_issuer issuers[NISSUERS];

/* Writes pem to a temporary file and loads it, as a config file would. */
static int
load_pem(struct jwt_key *key, const char *pem, enum jwt_alg alg,
    const char **why)
{
	char	 path[] = "/tmp/test_jwt.XXXXXX";
	size_t	 len = strlen(pem);
	int	 fd, rc;

	if ((fd = mkstemp(path)) == -1)
		return -2;
	if (write(fd, pem, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return -2;
	}
	close(fd);
	rc = jwt_key_load_pem(key, path, alg, why);
	unlink(path);
	return rc;
}

static void
issuer_init(struct jwt_issuer *is, const char *iss, const char *aud,
    enum jwt_alg alg)
{
	memset(is, 0, sizeof(*is));
	snprintf(is->name, sizeof(is->name), "test");
	snprintf(is->iss, sizeof(is->iss), "%s", iss);
	snprintf(is->aud, sizeof(is->aud), "%s", aud);
	is->alg = alg;
	is->leeway = FX_LEEWAY;
}

static int
setup(void **state)
{
	const char	*why;

	(void)state;
	issuer_init(&issuers[IS_HS], FX_ISS_HS, FX_AUD, JWT_HS256);
	if (jwt_key_set_secret(&issuers[IS_HS].keys[0], FX_HS_SECRET,
	    strlen(FX_HS_SECRET)) == -1)
		return -1;
	issuers[IS_HS].nkeys = 1;

	issuer_init(&issuers[IS_RS], FX_ISS_RS, FX_AUD, JWT_RS256);
	if (load_pem(&issuers[IS_RS].keys[0], FX_RSA1_PUB, JWT_RS256,
	    &why) != 0)
		return -1;
	issuers[IS_RS].nkeys = 1;

	issuer_init(&issuers[IS_ES], FX_ISS_ES, "", JWT_ES256);
	if (load_pem(&issuers[IS_ES].keys[0], FX_EC1_PUB, JWT_ES256,
	    &why) != 0)
		return -1;
	issuers[IS_ES].nkeys = 1;

	issuer_init(&issuers[IS_ROT], FX_ISS_ROT, "", JWT_HS256);
	snprintf(issuers[IS_ROT].keys[0].kid, sizeof(issuers[0].keys[0].kid),
	    "k1");
	snprintf(issuers[IS_ROT].keys[1].kid, sizeof(issuers[0].keys[1].kid),
	    "k2");
	if (jwt_key_set_secret(&issuers[IS_ROT].keys[0], FX_HS_SECRET,
	    strlen(FX_HS_SECRET)) == -1 ||
	    jwt_key_set_secret(&issuers[IS_ROT].keys[1], FX_HS_SECRET2,
	    strlen(FX_HS_SECRET2)) == -1)
		return -1;
	issuers[IS_ROT].nkeys = 2;
	return 0;
}

static int
teardown(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NISSUERS; i++)
		jwt_issuer_free(&issuers[i]);
	return 0;
}

static int
verify_len(const char *tok, size_t len, long long now, struct jwt_claims *c,
    const char **why)
{
	*why = NULL;
	return jwt_verify(tok, len, issuers, NISSUERS, (time_t)now, c, why);
}

static void
accept_at(const char *tok, long long now, struct jwt_claims *c)
{
	const char	*why;

	if (verify_len(tok, strlen(tok), now, c, &why) != 0)
		fail_msg("token refused: %s", why);
	assert_non_null(c->issuer);
	assert_true(c->sub[0] != '\0');
}

static void
accept(const char *tok, struct jwt_claims *c)
{
	accept_at(tok, FX_NOW, c);
}

/* Refused, with want as the reason unless want is NULL. */
static void
refuse_len_at(const char *tok, size_t len, long long now, const char *want)
{
	struct jwt_claims	 c;
	const char		*why;

	memset(&c, 0x5a, sizeof(c));
	if (verify_len(tok, len, now, &c, &why) != -1)
		fail_msg("token accepted (sub %s)", c.sub);
	assert_non_null(why);
	assert_true(why[0] != '\0');
	if (want != NULL)
		assert_string_equal(why, want);
	/* A refusal leaves nothing behind that could be mistaken for claims. */
	assert_null(c.issuer);
	assert_int_equal(c.sub[0], '\0');
	assert_int_equal(c.perms, 0);
}

static void
refuse_at(const char *tok, long long now, const char *want)
{
	refuse_len_at(tok, strlen(tok), now, want);
}

static void
refuse(const char *tok, const char *want)
{
	refuse_at(tok, FX_NOW, want);
}

/* base64url */

static void
test_b64_vectors(void **state)
{
	static const struct {
		const char	*raw;
		const char	*enc;
	} v[] = {
		{ "", "" },
		{ "f", "Zg" },
		{ "fo", "Zm8" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg" },
		{ "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" },
		{ "\xfb\xff", "-_8" },
		{ "\xfb\xef\xbe", "----" },
		{ "\xff\xff\xff", "____" },
	};
	char		 enc[32];
	unsigned char	 dec[32];
	size_t		 i, n;

	(void)state;
	for (i = 0; i < nitems(v); i++) {
		n = base64url_encode(enc, v[i].raw, strlen(v[i].raw));
		assert_int_equal(n, strlen(v[i].enc));
		assert_int_equal(n, base64url_enclen(strlen(v[i].raw)));
		assert_string_equal(enc, v[i].enc);
		assert_int_equal(base64url_decode(dec, sizeof(dec), v[i].enc,
		    strlen(v[i].enc), &n), 0);
		assert_int_equal(n, strlen(v[i].raw));
		assert_memory_equal(dec, v[i].raw, n);
	}
}

static void
test_b64_roundtrip(void **state)
{
	unsigned char	 raw[300], dec[300];
	char		 enc[401];
	size_t		 len, i, n, declen;

	(void)state;
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 37 + 11);
	for (len = 0; len <= sizeof(raw); len++) {
		n = base64url_encode(enc, raw, len);
		assert_int_equal(n, base64url_enclen(len));
		assert_int_equal(strlen(enc), n);
		assert_null(strpbrk(enc, "+/="));
		assert_int_equal(base64url_declen(n), len);
		assert_int_equal(base64url_decode(dec, sizeof(dec), enc, n,
		    &declen), 0);
		assert_int_equal(declen, len);
		assert_memory_equal(dec, raw, len);
	}
}

static void
test_b64_rejects(void **state)
{
	static const char *const bad[] = {
		"Zg==",		/* padding */
		"Zg=",
		"Z",		/* 6 bits: not a byte */
		"Zm9vY",
		"Zh",		/* non-zero trailing bits */
		"Zm9",
		"Zm+v",		/* standard base64, not url-safe */
		"Zm/v",
		"Zm9v\n",
		" Zm9v",
		"Zm 9v",
		"Zm.v",
		"Zm\xc3\xa9v",
	};
	unsigned char	 dec[16];
	size_t		 i, n;

	(void)state;
	for (i = 0; i < nitems(bad); i++)
		assert_int_equal(base64url_decode(dec, sizeof(dec), bad[i],
		    strlen(bad[i]), &n), -1);

	/* A NUL inside the length is just another bad character. */
	assert_int_equal(base64url_decode(dec, sizeof(dec), "Zm\0v", 4, &n),
	    -1);
	/* Refuses rather than overflowing a small destination. */
	assert_int_equal(base64url_decode(dec, 5, "Zm9vYmFy", 8, &n), -1);
	assert_int_equal(base64url_decode(dec, 6, "Zm9vYmFy", 8, &n), 0);
	assert_int_equal(n, 6);
}

/* Algorithms and keys */

static void
test_alg_parse_name(void **state)
{
	enum jwt_alg	 alg;
	int		 i;

	(void)state;
	for (i = 0; i < JWT_ALG__MAX; i++) {
		assert_int_equal(jwt_alg_parse(jwt_alg_name((enum jwt_alg)i),
		    &alg), 0);
		assert_int_equal(alg, i);
	}
	assert_string_equal(jwt_alg_name(JWT_HS256), "HS256");
	assert_string_equal(jwt_alg_name(JWT_RS256), "RS256");
	assert_string_equal(jwt_alg_name(JWT_ES256), "ES256");
	assert_int_equal(jwt_alg_parse("hs256", &alg), -1);
	assert_int_equal(jwt_alg_parse("none", &alg), -1);
	assert_int_equal(jwt_alg_parse("HS512", &alg), -1);
	assert_int_equal(jwt_alg_parse("RS256 ", &alg), -1);
	assert_int_equal(jwt_alg_parse("", &alg), -1);
	assert_string_not_equal(jwt_alg_name(JWT_ALG__MAX), "HS256");
}

static void
test_key_load(void **state)
{
	struct jwt_key	 k;
	const char	*why;

	(void)state;
	memset(&k, 0, sizeof(k));
	assert_int_equal(load_pem(&k, FX_RSA1_PUB, JWT_RS256, &why), 0);
	assert_non_null(k.pkey);
	/* Loading again replaces the key without leaking the first. */
	assert_int_equal(load_pem(&k, FX_RSA2_PUB, JWT_RS256, &why), 0);
	assert_int_equal(load_pem(&k, FX_EC1_PUB, JWT_ES256, &why), 0);

	assert_int_equal(load_pem(&k, FX_EC1_PUB, JWT_RS256, &why), -1);
	assert_string_equal(why, "RS256 needs an RSA public key");
	assert_int_equal(load_pem(&k, FX_RSA1_PUB, JWT_ES256, &why), -1);
	assert_string_equal(why, "ES256 needs a P-256 EC public key");
	assert_int_equal(load_pem(&k, FX_EC384_PUB, JWT_ES256, &why), -1);
	assert_string_equal(why, "ES256 needs a P-256 EC public key");
	assert_int_equal(load_pem(&k, FX_RSA1024_PUB, JWT_RS256, &why), -1);
	assert_string_equal(why, "RSA key is shorter than 2048 bits");
	assert_int_equal(load_pem(&k, FX_RSA1_PUB, JWT_HS256, &why), -1);
	assert_string_equal(why, "HS256 takes a secret, not a key file");
	assert_int_equal(load_pem(&k, "not a key\n", JWT_RS256, &why), -1);
	assert_string_equal(why, "key file holds no PEM public key");
	assert_int_equal(load_pem(&k, "", JWT_ES256, &why), -1);
	assert_int_equal(load_pem(&k, "-----BEGIN PUBLIC KEY-----\nAAAA\n"
	    "-----END PUBLIC KEY-----\n", JWT_RS256, &why), -1);
	assert_int_equal(jwt_key_load_pem(&k, "/nonexistent/key.pem",
	    JWT_RS256, &why), -1);
	assert_string_equal(why, "cannot open key file");

	/* Failures left the last good key in place. */
	assert_non_null(k.pkey);
	EVP_PKEY_free(k.pkey);
}

static void
test_key_secret(void **state)
{
	struct jwt_issuer	 is;

	(void)state;
	memset(&is, 0, sizeof(is));
	assert_int_equal(jwt_key_set_secret(&is.keys[0], "", 0), -1);
	assert_int_equal(jwt_key_set_secret(&is.keys[0], NULL, 4), -1);
	assert_null(is.keys[0].secret);
	assert_int_equal(jwt_key_set_secret(&is.keys[0], "abc", 3), 0);
	assert_int_equal(is.keys[0].secret_len, 3);
	assert_memory_equal(is.keys[0].secret, "abc", 3);
	/* Replacing a secret frees the old copy; binary secrets are fine. */
	assert_int_equal(jwt_key_set_secret(&is.keys[0], "a\0b\0", 4), 0);
	assert_int_equal(is.keys[0].secret_len, 4);
	assert_memory_equal(is.keys[0].secret, "a\0b\0", 4);
	/* Slots past nkeys are freed too. */
	assert_int_equal(jwt_key_set_secret(&is.keys[3], "xyz", 3), 0);
	is.nkeys = 1;
	jwt_issuer_free(&is);
	assert_null(is.keys[0].secret);
	assert_null(is.keys[3].secret);
	assert_int_equal(is.nkeys, 0);
	jwt_issuer_free(&is);
}

/* Accepted tokens */

static void
test_hs256_ok(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	accept(FX_HS_OK, &c);
	assert_ptr_equal(c.issuer, &issuers[IS_HS]);
	assert_string_equal(c.sub, "alice");
	assert_string_equal(c.iss, FX_ISS_HS);
	assert_int_equal(c.exp, FX_EXP);
	assert_int_equal(c.perms, PERM_BIT(PERM_VIEW) | PERM_BIT(PERM_CREATE));
}

static void
test_rs256_ok(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	accept(FX_RS_OK, &c);
	assert_ptr_equal(c.issuer, &issuers[IS_RS]);
	assert_string_equal(c.iss, FX_ISS_RS);
	assert_string_equal(c.sub, "alice");
	assert_int_equal(c.perms, PERM_BIT(PERM_VIEW) | PERM_BIT(PERM_CREATE));
}

static void
test_es256_ok(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	accept(FX_ES_OK, &c);
	assert_ptr_equal(c.issuer, &issuers[IS_ES]);
	assert_string_equal(c.iss, FX_ISS_ES);
	accept(FX_ES_OK_RESIGNED, &c);
	assert_ptr_equal(c.issuer, &issuers[IS_ES]);
}

/* Signatures */

static void
test_wrong_key(void **state)
{
	(void)state;
	refuse(FX_HS_WRONG_KEY, "token signature is invalid");
	refuse(FX_RS_WRONG_KEY, "token signature is invalid");
	refuse(FX_ES_WRONG_KEY, "token signature is invalid");
	refuse(FX_RS_1024, "token signature is invalid");
}

static void
test_signature_shapes(void **state)
{
	(void)state;
	refuse(FX_ES_SIG_63, "token signature has the wrong length");
	refuse(FX_ES_SIG_65, "token signature has the wrong length");
	refuse(FX_ES_SIG_DER, "token signature has the wrong length");
	refuse(FX_ES_SIG_ZERO, "token signature is invalid");
	refuse(FX_ES_SIG_FF, "token signature is invalid");
	refuse(FX_RS_SIG_SHORT, "token signature is invalid");
}

/*
 * Changing any one character must be refused: base64url decoding is
 * canonical, so every change alters the signed bytes or the signature.
 */
static void
mutate_all(const char *tok)
{
	static const char	 repl[] = { 'A', 'B', 'z', '0', '-', '_', '.',
				    '=', ' ', '\0', '\x80' };
	char			*m;
	size_t			 len, i, j;

	len = strlen(tok);
	m = malloc(len);
	assert_non_null(m);
	for (i = 0; i < len; i++) {
		for (j = 0; j < sizeof(repl); j++) {
			if (tok[i] == repl[j])
				continue;
			memcpy(m, tok, len);
			m[i] = repl[j];
			refuse_len_at(m, len, FX_NOW, NULL);
		}
	}
	free(m);
}

static void
test_mutations(void **state)
{
	(void)state;
	mutate_all(FX_HS_OK);
	mutate_all(FX_RS_OK);
	mutate_all(FX_ES_OK);
}

static void
test_truncations(void **state)
{
	static const char *const toks[] = { FX_HS_OK, FX_RS_OK, FX_ES_OK };
	size_t			 i, len;

	(void)state;
	for (i = 0; i < nitems(toks); i++)
		for (len = 0; len < strlen(toks[i]); len++)
			refuse_len_at(toks[i], len, FX_NOW, NULL);
}

/* Issuer and audience */

static void
test_issuer(void **state)
{
	struct jwt_claims	 c;
	const char		*why;

	(void)state;
	refuse(FX_UNKNOWN_ISS, "unknown token issuer");
	refuse(FX_NO_ISS, "token has no issuer");
	refuse(FX_ISS_NUMBER, "token has no issuer");
	assert_int_equal(jwt_verify(FX_HS_OK, strlen(FX_HS_OK), issuers, 0,
	    (time_t)FX_NOW, &c, &why), -1);
	assert_string_equal(why, "unknown token issuer");
	/* Only the matching issuer is consulted, whatever its position. */
	assert_int_equal(jwt_verify(FX_ES_OK, strlen(FX_ES_OK),
	    &issuers[IS_ES], 1, (time_t)FX_NOW, &c, &why), 0);
	assert_int_equal(jwt_verify(FX_ES_OK, strlen(FX_ES_OK),
	    issuers, IS_ES, (time_t)FX_NOW, &c, &why), -1);
	assert_string_equal(why, "unknown token issuer");
}

static void
test_audience(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	refuse(FX_AUD_WRONG, "token audience mismatch");
	refuse(FX_AUD_ARRAY_WRONG, "token audience mismatch");
	refuse(FX_AUD_MISSING, "token audience mismatch");
	accept(FX_AUD_ARRAY_OK, &c);
	assert_ptr_equal(c.issuer, &issuers[IS_HS]);
}

/* Dates */

static void
test_expired(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	refuse(FX_EXPIRED, "token expired");
	accept_at(FX_EXPIRED, FX_IAT + 3600 + FX_LEEWAY, &c);
	refuse_at(FX_HS_OK, FX_EXP + FX_LEEWAY + 1, "token expired");
}

static void
test_leeway_boundary(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	/* exp == now - leeway is still accepted; a second later it is not. */
	accept_at(FX_LEEWAY_EDGE, FX_LEEWAY_EXP + FX_LEEWAY, &c);
	assert_int_equal(c.exp, FX_LEEWAY_EXP);
	refuse_at(FX_LEEWAY_EDGE, FX_LEEWAY_EXP + FX_LEEWAY + 1,
	    "token expired");
}

static void
test_not_yet_valid(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	refuse(FX_NBF_LATER, "token not yet valid");
	refuse_at(FX_NBF_LATER, FX_LATER - FX_LEEWAY - 1,
	    "token not yet valid");
	accept_at(FX_NBF_LATER, FX_LATER - FX_LEEWAY, &c);
	accept_at(FX_NBF_LATER, FX_LATER, &c);
}

static void
test_issued_in_future(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	refuse(FX_IAT_LATER, "token issued in the future");
	refuse_at(FX_IAT_LATER, FX_LATER - FX_LEEWAY - 1,
	    "token issued in the future");
	accept_at(FX_IAT_LATER, FX_LATER - FX_LEEWAY, &c);
}

static void
test_exp_forms(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	refuse(FX_NO_EXP, "token has no exp");
	refuse(FX_EXP_STRING, "token exp is not a valid date");
	refuse(FX_EXP_HUGE_REAL, "token exp is not a valid date");
	/* Numbers jansson cannot hold make the payload unparseable. */
	refuse(FX_EXP_OVERFLOW_REAL,
	    "token payload is not a valid JSON object");
	refuse(FX_EXP_OVERFLOW_INT,
	    "token payload is not a valid JSON object");
	accept(FX_EXP_REAL, &c);
	assert_int_equal(c.exp, FX_EXP);
	/* 2100-01-01T00:00:00.5: valid up to and including the half second. */
	accept_at(FX_EXP_REAL, FX_EXP + FX_LEEWAY, &c);
	refuse_at(FX_EXP_REAL, FX_EXP + FX_LEEWAY + 1, "token expired");
}

/* Header */

static void
test_alg_none(void **state)
{
	(void)state;
	refuse(FX_ALG_NONE, "unsigned tokens are not accepted");
	refuse(FX_ALG_NONE_CASE, "unsigned tokens are not accepted");
	refuse(FX_ALG_NONE_SIGNED, "unsigned tokens are not accepted");
}

static void
test_alg_mismatch(void **state)
{
	(void)state;
	refuse(FX_ALG_RS_FOR_HS_ISSUER, "token alg does not match its issuer");
	refuse(FX_ALG_HS_FOR_RS_ISSUER, "token alg does not match its issuer");
	refuse(FX_ALG_HS512, "token alg does not match its issuer");
	refuse(FX_ALG_MISSING, "token header has no alg");
	refuse(FX_ALG_NUMBER, "token header has no alg");
}

static void
test_alg_confusion(void **state)
{
	struct jwt_issuer	 is;
	struct jwt_claims	 c;
	const char		*why;

	(void)state;
	/* HMAC keyed with the RS256 issuer's public PEM. */
	refuse(FX_ALG_CONFUSION, "token alg does not match its issuer");

	/*
	 * Even an issuer wrongly given a secret beside its public key uses
	 * RS256 and so never the secret.
	 */
	issuer_init(&is, FX_ISS_RS, FX_AUD, JWT_RS256);
	is.keys[0].pkey = issuers[IS_RS].keys[0].pkey;
	is.keys[0].secret = (unsigned char *)FX_RSA1_PUB;
	is.keys[0].secret_len = strlen(FX_RSA1_PUB);
	is.nkeys = 1;
	assert_int_equal(jwt_verify(FX_ALG_CONFUSION,
	    strlen(FX_ALG_CONFUSION), &is, 1, (time_t)FX_NOW, &c, &why), -1);
	assert_int_equal(jwt_verify(FX_RS_OK, strlen(FX_RS_OK), &is, 1,
	    (time_t)FX_NOW, &c, &why), 0);
}

static void
test_misplaced_key(void **state)
{
	struct jwt_issuer	 is;
	struct jwt_claims	 c;
	const char		*why;
	BIO			*bio;
	EVP_PKEY		*short_rsa;

	(void)state;
	/* An EC key slipped into an RS256 issuer is never used. */
	issuer_init(&is, FX_ISS_RS, FX_AUD, JWT_RS256);
	is.keys[0].pkey = issuers[IS_ES].keys[0].pkey;
	is.nkeys = 1;
	assert_int_equal(jwt_verify(FX_RS_OK, strlen(FX_RS_OK), &is, 1,
	    (time_t)FX_NOW, &c, &why), -1);
	assert_string_equal(why, "token signature is invalid");

	/* Nor is an RSA key too short to have been loaded. */
	bio = BIO_new_mem_buf(FX_RSA1024_PUB, -1);
	assert_non_null(bio);
	short_rsa = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(short_rsa);
	is.keys[0].pkey = short_rsa;
	assert_int_equal(jwt_verify(FX_RS_1024, strlen(FX_RS_1024), &is, 1,
	    (time_t)FX_NOW, &c, &why), -1);
	assert_string_equal(why, "token signature is invalid");
	EVP_PKEY_free(short_rsa);

	/* An HS256 issuer without a secret accepts nothing. */
	issuer_init(&is, FX_ISS_HS, FX_AUD, JWT_HS256);
	is.nkeys = 1;
	assert_int_equal(jwt_verify(FX_HS_OK, strlen(FX_HS_OK), &is, 1,
	    (time_t)FX_NOW, &c, &why), -1);

	/* Nor does an issuer with no keys or a bogus algorithm. */
	is.nkeys = 0;
	assert_int_equal(jwt_verify(FX_HS_OK, strlen(FX_HS_OK), &is, 1,
	    (time_t)FX_NOW, &c, &why), -1);
	is = issuers[IS_HS];
	is.alg = JWT_ALG__MAX;
	assert_int_equal(jwt_verify(FX_HS_OK, strlen(FX_HS_OK), &is, 1,
	    (time_t)FX_NOW, &c, &why), -1);
}

static void
test_typ_crit(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	accept(FX_TYP_ABSENT, &c);
	accept(FX_TYP_AT_JWT, &c);
	accept(FX_TYP_LOWER, &c);
	refuse(FX_TYP_JOSE, "token type is not JWT");
	refuse(FX_CRIT, "token header has critical extensions");
}

static void
test_kid(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	accept(FX_KID_K1, &c);
	assert_ptr_equal(c.issuer, &issuers[IS_ROT]);
	accept(FX_KID_K2, &c);
	assert_ptr_equal(c.issuer, &issuers[IS_ROT]);
	assert_string_equal(c.iss, FX_ISS_ROT);
	/* A kid pins its key: the other key's secret does not help. */
	refuse(FX_KID_K2_WRONG_KEY, "token signature is invalid");
	refuse(FX_KID_UNKNOWN, "no key matches the token kid");
	refuse(FX_KID_NONE_ROT, "no key matches a token without kid");
	refuse(FX_KID_NUMBER, "token kid is not a string");
	/* Keys without kid take any kid. */
	accept(FX_KID_ANY_HS, &c);
	accept(FX_KID_ANY_RS, &c);
}

static void
test_kid_fallback(void **state)
{
	struct jwt_issuer	 is;
	struct jwt_claims	 c;
	const char		*why;

	(void)state;
	/* "k2" holds the second secret; a key without kid holds the first. */
	issuer_init(&is, FX_ISS_ROT, "", JWT_HS256);
	snprintf(is.keys[0].kid, sizeof(is.keys[0].kid), "k2");
	assert_int_equal(jwt_key_set_secret(&is.keys[0], FX_HS_SECRET2,
	    strlen(FX_HS_SECRET2)), 0);
	assert_int_equal(jwt_key_set_secret(&is.keys[1], FX_HS_SECRET,
	    strlen(FX_HS_SECRET)), 0);
	is.nkeys = 2;

	assert_int_equal(jwt_verify(FX_KID_K2, strlen(FX_KID_K2), &is, 1,
	    (time_t)FX_NOW, &c, &why), 0);
	/* A kid that names a key is pinned to it, with no fallback. */
	assert_int_equal(jwt_verify(FX_KID_K2_WRONG_KEY,
	    strlen(FX_KID_K2_WRONG_KEY), &is, 1, (time_t)FX_NOW, &c, &why), -1);
	assert_string_equal(why, "token signature is invalid");
	/* An unknown kid, or none, falls back to the key without kid. */
	assert_int_equal(jwt_verify(FX_KID_UNKNOWN, strlen(FX_KID_UNKNOWN),
	    &is, 1, (time_t)FX_NOW, &c, &why), 0);
	assert_int_equal(jwt_verify(FX_KID_NONE_ROT, strlen(FX_KID_NONE_ROT),
	    &is, 1, (time_t)FX_NOW, &c, &why), 0);
	assert_int_equal(jwt_verify(FX_KID_K1, strlen(FX_KID_K1), &is, 1,
	    (time_t)FX_NOW, &c, &why), 0);
	jwt_issuer_free(&is);
}

/* An issuer without kid rotates its secret through previous_secret. */
static void
test_previous_secret(void **state)
{
	struct config		 c;
	struct jwt_claims	 cl;
	const char		*why, *keys[][2] = {
		{ "jwt.rot.iss", FX_ISS_ROT }, { "jwt.rot.alg", "HS256" },
		/* before secret: the order of the lines does not matter */
		{ "jwt.rot.previous_secret", FX_HS_SECRET },
		{ "jwt.rot.secret", FX_HS_SECRET2 },
	};
	char			 err[256];
	size_t			 i;

	(void)state;
	config_defaults(&c);
	for (i = 0; i < 4; i++)
		assert_int_equal(config_set(&c, keys[i][0], keys[i][1], err,
		    sizeof(err)), 0);
	assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
	/* Tokens without kid (or an unknown one) open with either secret. */
	assert_int_equal(jwt_verify(FX_KID_NONE_ROT, strlen(FX_KID_NONE_ROT),
	    c.issuers, c.nissuers, (time_t)FX_NOW, &cl, &why), 0);
	assert_int_equal(jwt_verify(FX_KID_K2, strlen(FX_KID_K2), c.issuers,
	    c.nissuers, (time_t)FX_NOW, &cl, &why), 0);
	/* The current secret comes first: tenantctl signs with keys[0]. */
	assert_int_equal(c.issuers[0].keys[0].secret_len, strlen(FX_HS_SECRET2));
	assert_memory_equal(c.issuers[0].keys[0].secret, FX_HS_SECRET2,
	    strlen(FX_HS_SECRET2));
	config_free(&c);

	/* Without it, the old secret's tokens are refused. */
	config_defaults(&c);
	for (i = 0; i < 4; i++)
		if (i != 2)
			assert_int_equal(config_set(&c, keys[i][0], keys[i][1],
			    err, sizeof(err)), 0);
	assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
	assert_int_equal(jwt_verify(FX_KID_NONE_ROT, strlen(FX_KID_NONE_ROT),
	    c.issuers, c.nissuers, (time_t)FX_NOW, &cl, &why), -1);
	assert_string_equal(why, "token signature is invalid");
	config_free(&c);

	/* A previous secret alone is no issuer. */
	config_defaults(&c);
	for (i = 0; i < 3; i++)
		assert_int_equal(config_set(&c, keys[i][0], keys[i][1], err,
		    sizeof(err)), 0);
	assert_int_equal(config_finish(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "previous_secret needs secret"));
	config_free(&c);
}

/* Subject and permissions */

static void
test_subject(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	refuse(FX_NO_SUB, "token has no subject");
	refuse(FX_SUB_EMPTY, "token has no subject");
	refuse(FX_SUB_NUMBER, "token has no subject");
	refuse(FX_SUB_129, "token subject is not acceptable");
	accept(FX_SUB_128, &c);
	assert_int_equal(strlen(c.sub), 128);
}

static void
test_permissions(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	accept(FX_PERM_STRING, &c);
	assert_int_equal(c.perms, PERM_BIT(PERM_VIEW));

	accept(FX_PERM_STRING_LIST, &c);
	assert_int_equal(c.perms, PERM_BIT(PERM_VIEW) | PERM_BIT(PERM_CREATE) |
	    PERM_BIT(PERM_DELETE));

	/* Unknown claims and non-strings are skipped, not fatal. */
	accept(FX_PERM_ARRAY, &c);
	assert_int_equal(c.perms, PERM_BIT(PERM_CREATE) |
	    PERM_BIT(PERM_UPGRADE));

	accept(FX_PERMISSIONS_CLAIM, &c);
	assert_int_equal(c.perms, PERM_BIT(PERM_UPDATE) |
	    PERM_BIT(PERM_MANAGE_KEYS));

	accept(FX_PERMISSIONS_STRING, &c);
	assert_int_equal(c.perms, PERM_BIT(PERM_VIEW));

	accept(FX_PERM_NONE, &c);
	assert_int_equal(c.perms, 0);

	accept(FX_PERM_UNKNOWN_ONLY, &c);
	assert_int_equal(c.perms, 0);
}

/* Hostile input */

static void
test_hostile_shapes(void **state)
{
	static const char *const bad[] = {
		"",
		".",
		"..",
		"...",
		"a.b",
		"a.b.c.d",
		"a..c",
		".b.c",
		"a.b.c",
		"e30.e30.",
		"e30.e30.e30",
		"eyJ!.eyJ.abc",
		"eyJhbGciOiJIUzI1NiJ9+.e30.e30",
		"eyJhbGciOiJIUzI1NiJ9/.e30.e30",
		"eyJhbGciOiJIUzI1NiJ9==.e30.e30",
		"\xff\xfe\xfd.\x01\x02.\x7f",
		" " FX_HS_OK,
		FX_HS_OK " ",
		FX_HS_OK "\n",
		FX_HS_OK ".",
		"Bearer " FX_HS_OK,
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < nitems(bad); i++)
		refuse(bad[i], NULL);
	refuse("", "token is empty");
	refuse("a.b.c.d", "token is not three dot-separated segments");
	refuse_len_at(NULL, 0, FX_NOW, "token is empty");
}

static void
test_hostile_json(void **state)
{
	static const char *const bad[] = {
		FX_DUP_HEADER,
		FX_HEADER_NOT_JSON,
		FX_HEADER_ARRAY,
	};
	static const char *const badpay[] = {
		FX_DUP_PAYLOAD,
		FX_PAYLOAD_NULL,
		FX_PAYLOAD_ARRAY,
		FX_PAYLOAD_STRING,
		FX_PAYLOAD_TRAILING,
		FX_PAYLOAD_BAD_UTF8,
		FX_PAYLOAD_NUL_ESCAPE,
		FX_DEEP_REFUSED,
	};
	struct jwt_claims	 c;
	size_t			 i;

	(void)state;
	for (i = 0; i < nitems(bad); i++)
		refuse(bad[i], "token header is not a valid JSON object");
	for (i = 0; i < nitems(badpay); i++)
		refuse(badpay[i], "token payload is not a valid JSON object");
	accept(FX_DEEP_ACCEPTED, &c);
}

static void
test_too_long(void **state)
{
	char	*tok;
	size_t	 len = JWT_MAX_TOKEN + 1;

	(void)state;
	tok = malloc(len + 1);
	assert_non_null(tok);
	memset(tok, 'A', len);
	tok[100] = tok[200] = '.';
	tok[len] = '\0';
	refuse(tok, "token is too long");

	/* At the limit: refused for what it holds, not for its length. */
	refuse_len_at(tok, JWT_MAX_TOKEN, FX_NOW,
	    "token header is not a valid JSON object");

	/* A real token followed by padding to past the limit. */
	memcpy(tok, FX_HS_OK, strlen(FX_HS_OK));
	refuse(tok, "token is too long");
	free(tok);
}

static void
test_nul_inside(void **state)
{
	char	 tok[sizeof(FX_HS_OK) + 1];
	size_t	 len = strlen(FX_HS_OK);

	(void)state;
	memcpy(tok, FX_HS_OK, len + 1);
	tok[len + 1] = '\0';
	/* The trailing NUL counted in the length. */
	refuse_len_at(tok, len + 1, FX_NOW, NULL);
	tok[10] = '\0';
	refuse_len_at(tok, len, FX_NOW, "token header is not base64url");
	memcpy(tok, FX_HS_OK, len);
	tok[strchr(FX_HS_OK, '.') - FX_HS_OK + 5] = '\0';
	refuse_len_at(tok, len, FX_NOW, "token payload is not base64url");
	memcpy(tok, FX_HS_OK, len);
	tok[len - 3] = '\0';
	refuse_len_at(tok, len, FX_NOW, "token signature is malformed");
}

/* A small deterministic generator, so failures reproduce. */
static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_garbage(void **state)
{
	static const char	 alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
	char			*tok;
	uint32_t		 seed = 0x7e7a47d;
	size_t			 round, i, len;

	(void)state;
	tok = malloc(JWT_MAX_TOKEN + 64);
	assert_non_null(tok);
	for (round = 0; round < 3000; round++) {
		len = xorshift(&seed) % (JWT_MAX_TOKEN + 64);
		if (round % 2 == 0)
			len %= 256;
		for (i = 0; i < len; i++) {
			if (round % 3 == 0)
				tok[i] = (char)xorshift(&seed);
			else
				tok[i] = alpha[xorshift(&seed) %
				    (sizeof(alpha) - 1)];
		}
		refuse_len_at(tok, len, FX_NOW, NULL);
	}

	/* Valid header and payload of a real token with random signatures. */
	len = strrchr(FX_HS_OK, '.') - FX_HS_OK + 1;
	memcpy(tok, FX_HS_OK, len);
	for (round = 0; round < 500; round++) {
		for (i = 0; i < 43; i++)
			tok[len + i] = alpha[xorshift(&seed) % 64];
		/* The last character carries 2 unused bits; keep them zero. */
		tok[len + 42] = "AEIMQUYcgkosw048"[xorshift(&seed) % 16];
		refuse_len_at(tok, len + 43, FX_NOW,
		    "token signature is invalid");
	}
	free(tok);
}

static void
test_why_optional(void **state)
{
	struct jwt_claims	 c;

	(void)state;
	assert_int_equal(jwt_verify("x", 1, issuers, NISSUERS,
	    (time_t)FX_NOW, &c, NULL), -1);
	assert_int_equal(jwt_verify(FX_HS_OK, strlen(FX_HS_OK), issuers,
	    NISSUERS, (time_t)FX_NOW, &c, NULL), 0);
}

/* Signing */

/* Decodes one segment of a token into a JSON object. */
static json_t *
segment_json(const char *tok, int which)
{
	unsigned char	 raw[JWT_MAX_TOKEN];
	const char	*s = tok, *e;
	size_t		 n;

	while (which-- > 0)
		s = strchr(s, '.') + 1;
	e = strchr(s, '.');
	if (base64url_decode(raw, sizeof(raw), s, (size_t)(e - s), &n) == -1)
		return NULL;
	return json_loadb((const char *)raw, n, 0, NULL);
}

static void
test_sign_roundtrip(void **state)
{
	struct buf		 b = { NULL, 0, 0 };
	struct jwt_claims	 c;
	const char		*why, *tok;
	json_t			*hdr, *pay, *perm;
	uint32_t		 perms;

	(void)state;
	perms = PERM_BIT(PERM_VIEW) | PERM_BIT(PERM_DELETE);
	assert_int_equal(buf_puts(&b, "Bearer "), 0);
	assert_int_equal(jwt_sign_hs256(&issuers[IS_HS], "dev-user", perms,
	    (time_t)FX_NOW, 3600, &b), 0);
	assert_memory_equal(b.data, "Bearer ", 7);
	tok = b.data + 7;
	assert_int_equal(strlen(tok), b.len - 7);

	assert_int_equal(jwt_verify(tok, strlen(tok), issuers, NISSUERS,
	    (time_t)FX_NOW, &c, &why), 0);
	assert_ptr_equal(c.issuer, &issuers[IS_HS]);
	assert_string_equal(c.sub, "dev-user");
	assert_string_equal(c.iss, FX_ISS_HS);
	assert_int_equal(c.perms, perms);
	assert_int_equal(c.exp, FX_NOW + 3600);
	refuse_at(tok, FX_NOW + 3600 + FX_LEEWAY + 1, "token expired");
	refuse_at(tok, FX_NOW - FX_LEEWAY - 1, "token not yet valid");

	hdr = segment_json(tok, 0);
	assert_non_null(hdr);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")),
	    "HS256");
	assert_string_equal(json_string_value(json_object_get(hdr, "typ")),
	    "JWT");
	assert_null(json_object_get(hdr, "kid"));
	json_decref(hdr);

	pay = segment_json(tok, 1);
	assert_non_null(pay);
	assert_string_equal(json_string_value(json_object_get(pay, "aud")),
	    FX_AUD);
	assert_int_equal(json_integer_value(json_object_get(pay, "iat")),
	    FX_NOW);
	assert_int_equal(json_integer_value(json_object_get(pay, "nbf")),
	    FX_NOW);
	perm = json_object_get(pay, "permission");
	assert_int_equal(json_array_size(perm), 2);
	assert_string_equal(json_string_value(json_array_get(perm, 0)),
	    "Permissions.Multitenancy.View");
	assert_string_equal(json_string_value(json_array_get(perm, 1)),
	    "Permissions.Multitenancy.Delete");
	json_decref(pay);
	buf_free(&b);
}

static void
test_sign_kid_no_aud(void **state)
{
	struct buf		 b = { NULL, 0, 0 };
	struct jwt_claims	 c;
	const char		*why;
	json_t			*hdr, *pay;

	(void)state;
	assert_int_equal(jwt_sign_hs256(&issuers[IS_ROT], "svc", PERM_ALL,
	    (time_t)FX_NOW, 60, &b), 0);
	assert_int_equal(jwt_verify(b.data, b.len, issuers, NISSUERS,
	    (time_t)FX_NOW, &c, &why), 0);
	assert_ptr_equal(c.issuer, &issuers[IS_ROT]);
	assert_int_equal(c.perms, PERM_ALL);

	hdr = segment_json(b.data, 0);
	assert_non_null(hdr);
	assert_string_equal(json_string_value(json_object_get(hdr, "kid")),
	    "k1");
	json_decref(hdr);
	pay = segment_json(b.data, 1);
	assert_non_null(pay);
	assert_null(json_object_get(pay, "aud"));
	json_decref(pay);
	buf_free(&b);
}

static void
test_sign_refuses(void **state)
{
	struct jwt_issuer	 is;
	struct buf		 b = { NULL, 0, 0 };
	char			 sub[130];

	(void)state;
	assert_int_equal(buf_puts(&b, "keep"), 0);
	assert_int_equal(jwt_sign_hs256(&issuers[IS_RS], "u", 0,
	    (time_t)FX_NOW, 60, &b), -1);
	assert_int_equal(jwt_sign_hs256(&issuers[IS_ES], "u", 0,
	    (time_t)FX_NOW, 60, &b), -1);
	assert_int_equal(jwt_sign_hs256(&issuers[IS_HS], "", 0,
	    (time_t)FX_NOW, 60, &b), -1);
	memset(sub, 's', 129);
	sub[129] = '\0';
	assert_int_equal(jwt_sign_hs256(&issuers[IS_HS], sub, 0,
	    (time_t)FX_NOW, 60, &b), -1);
	assert_int_equal(jwt_sign_hs256(&issuers[IS_HS], "u", 0,
	    (time_t)FX_NOW, 0, &b), -1);
	issuer_init(&is, FX_ISS_HS, "", JWT_HS256);
	is.nkeys = 1;
	assert_int_equal(jwt_sign_hs256(&is, "u", 0, (time_t)FX_NOW, 60, &b),
	    -1);
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "keep");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_roundtrip),
		cmocka_unit_test(test_b64_rejects),
		cmocka_unit_test(test_alg_parse_name),
		cmocka_unit_test(test_key_load),
		cmocka_unit_test(test_key_secret),
		cmocka_unit_test(test_hs256_ok),
		cmocka_unit_test(test_rs256_ok),
		cmocka_unit_test(test_es256_ok),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_signature_shapes),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_issuer),
		cmocka_unit_test(test_audience),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_leeway_boundary),
		cmocka_unit_test(test_not_yet_valid),
		cmocka_unit_test(test_issued_in_future),
		cmocka_unit_test(test_exp_forms),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_alg_mismatch),
		cmocka_unit_test(test_alg_confusion),
		cmocka_unit_test(test_misplaced_key),
		cmocka_unit_test(test_typ_crit),
		cmocka_unit_test(test_kid),
		cmocka_unit_test(test_kid_fallback),
		cmocka_unit_test(test_previous_secret),
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_hostile_shapes),
		cmocka_unit_test(test_hostile_json),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_nul_inside),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_why_optional),
		cmocka_unit_test(test_sign_roundtrip),
		cmocka_unit_test(test_sign_kid_no_aud),
		cmocka_unit_test(test_sign_refuses),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
