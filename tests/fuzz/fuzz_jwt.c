/*
 * The JWT parser and verifier, with one HS256 issuer and a fixed clock.
 * Two kinds of input:
 *   - a compact token, verified as it is: whatever is accepted must carry
 *     exactly the signature the issuer's key gives its first two segments
 *     (base64url is canonical, so the token is one this harness can mint);
 *   - "{header JSON}\n{payload JSON}" (input starting with '{'), signed
 *     here with the issuer's key so the claims checks are reached, and
 *     verified against the issuer and against one with another key.
 * Accepted claims must agree with the payload as jansson reads it.
 */
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "base64url.h"
#include "fuzz.h"
#include "jwt.h"

#define ISS	"https://issuer.example"
#define AUD	"tenantd"
#define NOW	1767225600		/* 2026-01-01T00:00:00Z */

static struct jwt_issuer	 issuer, impostor;

static void
issuer_init(struct jwt_issuer *is, const char *secret)
{
	memset(is, 0, sizeof(*is));
	snprintf(is->name, sizeof(is->name), "fuzz");
	snprintf(is->iss, sizeof(is->iss), ISS);
	snprintf(is->aud, sizeof(is->aud), AUD);
	is->alg = JWT_HS256;
	is->leeway = 60;
	FUZZ_CHECK(jwt_key_set_secret(&is->keys[0], secret,
	    strlen(secret)) == 0);
	is->nkeys = 1;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	issuer_init(&issuer, "fuzz-secret-0123456789abcdef0123");
	issuer_init(&impostor, "another-secret-0123456789abcdef0");
	return 0;
}

static void
mac(const char *p, size_t n, unsigned char out[32])
{
	size_t	 len = 0;

	FUZZ_CHECK(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL,
	    issuer.keys[0].secret, issuer.keys[0].secret_len,
	    (const unsigned char *)p, n, out, 32,
	    &len) != NULL && len == 32);
}

static void
append_b64(struct buf *b, const void *p, size_t n)
{
	FUZZ_CHECK(buf_reserve(b, base64url_enclen(n)) == 0);
	b->len += base64url_encode(b->data + b->len, p, n);
}

/* An accepted token is signed by the issuer's key, byte for byte. */
static void
check_signed(const char *tok, size_t len)
{
	const char	*dot;
	unsigned char	 m[32];
	char		 want[64];
	size_t		 n;

	FUZZ_CHECK((dot = memrchr(tok, '.', len)) != NULL);
	mac(tok, (size_t)(dot - tok), m);
	n = base64url_encode(want, m, sizeof(m));
	FUZZ_CHECK(len - (size_t)(dot + 1 - tok) == n &&
	    memcmp(dot + 1, want, n) == 0);
}

/* The claims say what the payload says. */
static void
check_claims(const struct jwt_claims *c, const char *pay, size_t paylen)
{
	json_error_t	 e;
	json_t		*p, *sub, *exp;

	FUZZ_CHECK(c->issuer == &issuer && strcmp(c->iss, ISS) == 0);
	FUZZ_CHECK(c->sub[0] != '\0' && strlen(c->sub) <= 128);
	if (pay == NULL)
		return;
	FUZZ_CHECK((p = json_loadb(pay, paylen, JSON_REJECT_DUPLICATES,
	    &e)) != NULL);
	sub = json_object_get(p, "sub");
	exp = json_object_get(p, "exp");
	FUZZ_CHECK(json_is_string(sub) && strcmp(json_string_value(sub),
	    c->sub) == 0);
	FUZZ_CHECK(json_is_number(exp) && json_number_value(exp) + 60 >=
	    (double)NOW);
	json_decref(p);
}

static void
verify_raw(const uint8_t *data, size_t size)
{
	struct jwt_claims c;
	const char	*why = NULL;

	if (jwt_verify((const char *)data, size, &issuer, 1, NOW, &c,
	    &why) == 0) {
		check_signed((const char *)data, size);
		check_claims(&c, NULL, 0);
	} else
		FUZZ_CHECK(why != NULL && *why != '\0');
}

static void
verify_minted(const uint8_t *data, size_t size)
{
	struct jwt_claims c;
	struct buf	 tok = { NULL, 0, 0 };
	const uint8_t	*nl;
	const char	*why = NULL;
	unsigned char	 m[32];
	size_t		 hlen;

	if ((nl = memchr(data, '\n', size)) == NULL)
		return;
	hlen = (size_t)(nl - data);
	if (base64url_enclen(hlen) + base64url_enclen(size - hlen - 1) + 45 >
	    JWT_MAX_TOKEN)
		return;
	append_b64(&tok, data, hlen);
	FUZZ_CHECK(buf_putc(&tok, '.') == 0);
	append_b64(&tok, nl + 1, size - hlen - 1);
	mac(tok.data, tok.len, m);
	FUZZ_CHECK(buf_putc(&tok, '.') == 0);
	append_b64(&tok, m, sizeof(m));

	if (jwt_verify(tok.data, tok.len, &issuer, 1, NOW, &c, &why) == 0)
		check_claims(&c, (const char *)nl + 1, size - hlen - 1);
	else
		FUZZ_CHECK(why != NULL && *why != '\0');
	/* Signed by the issuer's key, it fails under any other. */
	FUZZ_CHECK(jwt_verify(tok.data, tok.len, &impostor, 1, NOW, &c,
	    &why) == -1);
	buf_free(&tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == '{')
		verify_minted(data, size);
	else
		verify_raw(data, size);
	return 0;
}
