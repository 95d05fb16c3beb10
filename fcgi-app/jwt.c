#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "base64url.h"
#include "jwt.h"
#include "perm.h"

#define JWT_HS256_LEN		32	/* HMAC-SHA256 output */
#define JWT_ES256_HALF		32	/* each of R and S on P-256 */
#define JWT_ES256_LEN		(2 * JWT_ES256_HALF)
#define JWT_SIG_MAX		1024	/* an RSA-8192 signature */
#define JWT_RSA_MIN_BITS	2048
#define JWT_SUB_MAX		128

/*
 * Largest NumericDate taken at face value.  Past 2^53 a double no longer
 * holds every integer, and converting it to long long could overflow.
 */
#define JWT_TIME_MAX		9007199254740992.0

/* The three segments of a compact token, pointing into the caller's bytes. */
struct jwt_parts {
	const char	*hdr;
	size_t		 hdrlen;
	const char	*pay;
	size_t		 paylen;
	const char	*sig;
	size_t		 siglen;
};

/* What to say when a header or payload segment does not decode. */
struct jwt_segment {
	const char	*bad_base64;
	const char	*bad_json;
};

static const struct jwt_segment jwt_header_segment = {
	"token header is not base64url",
	"token header is not a valid JSON object",
};

static const struct jwt_segment jwt_payload_segment = {
	"token payload is not base64url",
	"token payload is not a valid JSON object",
};

static const char *const jwt_alg_names[JWT_ALG__MAX] = {
	[JWT_HS256] = "HS256",
	[JWT_RS256] = "RS256",
	[JWT_ES256] = "ES256",
};

int
jwt_alg_parse(const char *s, enum jwt_alg *alg)
{
	int	 i;

	for (i = 0; i < JWT_ALG__MAX; i++) {
		if (strcmp(s, jwt_alg_names[i]) == 0) {
			*alg = (enum jwt_alg)i;
			return 0;
		}
	}
	return -1;
}

const char *
jwt_alg_name(enum jwt_alg alg)
{
	if ((unsigned)alg >= JWT_ALG__MAX)
		return "unknown";
	return jwt_alg_names[alg];
}

/* Compares a JSON string with a C string, embedded NULs included. */
static int
jwt_string_eq(const json_t *v, const char *s, size_t len)
{
	return json_string_length(v) == len &&
	    memcmp(json_string_value(v), s, len) == 0;
}

static int
jwt_split(const char *token, size_t len, struct jwt_parts *p,
    const char **why)
{
	const char	*end, *dot1, *dot2;

	if (token == NULL || len == 0) {
		*why = "token is empty";
		return -1;
	}
	if (len > JWT_MAX_TOKEN) {
		*why = "token is too long";
		return -1;
	}
	end = token + len;
	if ((dot1 = memchr(token, '.', len)) == NULL ||
	    (dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1))) == NULL ||
	    memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL) {
		*why = "token is not three dot-separated segments";
		return -1;
	}

	p->hdr = token;
	p->hdrlen = (size_t)(dot1 - token);
	p->pay = dot1 + 1;
	p->paylen = (size_t)(dot2 - p->pay);
	p->sig = dot2 + 1;
	p->siglen = (size_t)(end - p->sig);
	if (p->hdrlen == 0 || p->paylen == 0) {
		*why = "token has an empty segment";
		return -1;
	}
	return 0;
}

static json_t *
jwt_segment_object(const char *seg, size_t len, const struct jwt_segment *msg,
    const char **why)
{
	unsigned char	 raw[JWT_MAX_TOKEN];
	size_t		 rawlen;
	json_error_t	 error;
	json_t		*obj;

	if (base64url_decode(raw, sizeof(raw), seg, len, &rawlen) == -1) {
		*why = msg->bad_base64;
		return NULL;
	}

	/*
	 * Duplicate names are refused: two parsers reading the same token
	 * must not disagree on which "iss" or "alg" it carries.
	 */
	obj = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES,
	    &error);
	if (obj == NULL || !json_is_object(obj)) {
		json_decref(obj);
		*why = msg->bad_json;
		return NULL;
	}
	return obj;
}

static int
jwt_typ_ok(const json_t *typ)
{
	const char	*s;

	if (!json_is_string(typ))
		return 0;
	s = json_string_value(typ);
	return strcasecmp(s, "JWT") == 0 || strcasecmp(s, "at+jwt") == 0;
}

/*
 * Checks what the header says about itself, before any issuer is known.
 * On success *kid is the header's kid (owned by hdr) or NULL.
 */
static int
jwt_check_header(const json_t *hdr, const char **kid, const char **why)
{
	const json_t	*alg, *typ, *k;

	alg = json_object_get(hdr, "alg");
	if (!json_is_string(alg)) {
		*why = "token header has no alg";
		return -1;
	}
	if (strcasecmp(json_string_value(alg), "none") == 0) {
		*why = "unsigned tokens are not accepted";
		return -1;
	}

	/* No extension is understood, so none may be critical. */
	if (json_object_get(hdr, "crit") != NULL) {
		*why = "token header has critical extensions";
		return -1;
	}

	typ = json_object_get(hdr, "typ");
	if (typ != NULL && !jwt_typ_ok(typ)) {
		*why = "token type is not JWT";
		return -1;
	}

	*kid = NULL;
	if ((k = json_object_get(hdr, "kid")) != NULL) {
		if (!json_is_string(k)) {
			*why = "token kid is not a string";
			return -1;
		}
		*kid = json_string_value(k);
	}
	return 0;
}

static const struct jwt_issuer *
jwt_find_issuer(const json_t *pay, const struct jwt_issuer *issuers,
    size_t nissuers, const char **why)
{
	const json_t	*iss;
	size_t		 i, len;

	iss = json_object_get(pay, "iss");
	if (!json_is_string(iss)) {
		*why = "token has no issuer";
		return NULL;
	}
	for (i = 0; i < nissuers; i++) {
		len = strnlen(issuers[i].iss, sizeof(issuers[i].iss));
		/* A nameless issuer must not match a token naming none. */
		if (len == 0)
			continue;
		if (jwt_string_eq(iss, issuers[i].iss, len))
			return &issuers[i];
	}
	*why = "unknown token issuer";
	return NULL;
}

/* The algorithm is the issuer's; the header may only agree with it. */
static int
jwt_check_alg(const json_t *hdr, const struct jwt_issuer *is, const char **why)
{
	const json_t	*alg;
	const char	*want;

	if ((unsigned)is->alg >= JWT_ALG__MAX) {
		*why = "token issuer has no valid algorithm";
		return -1;
	}
	want = jwt_alg_names[is->alg];
	alg = json_object_get(hdr, "alg");
	if (!jwt_string_eq(alg, want, strlen(want))) {
		*why = "token alg does not match its issuer";
		return -1;
	}
	return 0;
}

static int
jwt_hmac(const struct jwt_key *k, const void *data, size_t len,
    unsigned char mac[JWT_HS256_LEN])
{
	size_t	 maclen;

	if (k->secret == NULL || k->secret_len == 0)
		return -1;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->secret,
	    k->secret_len, data, len, mac, JWT_HS256_LEN, &maclen) == NULL ||
	    maclen != JWT_HS256_LEN) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/*
 * Whether pkey is a key alg may use.  Checked when a key is loaded and
 * again before each use, so a key put in a jwt_key by other means is
 * still never used with the wrong algorithm.
 */
static int
jwt_pkey_fits(EVP_PKEY *pkey, enum jwt_alg alg, const char **why)
{
	char	 group[64];
	size_t	 grouplen;

	switch (alg) {
	case JWT_HS256:
		*why = "HS256 takes a secret, not a key file";
		return -1;
	case JWT_RS256:
		if (!EVP_PKEY_is_a(pkey, "RSA")) {
			*why = "RS256 needs an RSA public key";
			return -1;
		}
		if (EVP_PKEY_get_bits(pkey) < JWT_RSA_MIN_BITS) {
			*why = "RSA key is shorter than 2048 bits";
			return -1;
		}
		return 0;
	case JWT_ES256:
		if (!EVP_PKEY_is_a(pkey, "EC") ||
		    EVP_PKEY_get_utf8_string_param(pkey,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
		    &grouplen) != 1 ||
		    (strcmp(group, "prime256v1") != 0 &&
		    strcmp(group, "P-256") != 0)) {
			ERR_clear_error();
			*why = "ES256 needs a P-256 EC public key";
			return -1;
		}
		return 0;
	default:
		*why = "unknown algorithm";
		return -1;
	}
}

static int
jwt_digest_verify(EVP_PKEY *pkey, enum jwt_alg alg, const unsigned char *sig,
    size_t siglen, const void *data, size_t len)
{
	EVP_MD_CTX	*ctx;
	EVP_PKEY_CTX	*pctx;
	int		 rc = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestVerifyInit_ex(ctx, &pctx, "SHA256", NULL, NULL, pkey,
	    NULL) != 1)
		goto fail;
	/* RS256 is PKCS#1 v1.5 only; do not rely on the default padding. */
	if (alg == JWT_RS256 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto fail;
	if (EVP_DigestVerify(ctx, sig, siglen, data, len) == 1)
		rc = 0;
fail:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* JOSE carries R || S; libcrypto verifies a DER ECDSA-Sig-Value. */
static int
jwt_es256_der(const unsigned char *sig, unsigned char **der, size_t *derlen)
{
	ECDSA_SIG	*es = NULL;
	BIGNUM		*r, *s;
	int		 n, rc = -1;

	*der = NULL;
	r = BN_bin2bn(sig, JWT_ES256_HALF, NULL);
	s = BN_bin2bn(sig + JWT_ES256_HALF, JWT_ES256_HALF, NULL);
	if (r == NULL || s == NULL || (es = ECDSA_SIG_new()) == NULL)
		goto fail;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto fail;
	r = s = NULL;		/* es owns them now */
	if ((n = i2d_ECDSA_SIG(es, der)) <= 0)
		goto fail;
	*derlen = (size_t)n;
	rc = 0;
fail:
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	ERR_clear_error();
	return rc;
}

static int
jwt_verify_key(enum jwt_alg alg, const struct jwt_key *k, const void *input,
    size_t inlen, const unsigned char *sig, size_t siglen)
{
	unsigned char	 mac[JWT_HS256_LEN], *der;
	size_t		 derlen;
	const char	*why;
	int		 rc;

	if (alg == JWT_HS256) {
		if (siglen != JWT_HS256_LEN ||
		    jwt_hmac(k, input, inlen, mac) == -1)
			return -1;
		rc = CRYPTO_memcmp(mac, sig, JWT_HS256_LEN) == 0 ? 0 : -1;
		OPENSSL_cleanse(mac, sizeof(mac));
		return rc;
	}

	if (k->pkey == NULL || jwt_pkey_fits(k->pkey, alg, &why) == -1)
		return -1;
	if (alg == JWT_RS256)
		return jwt_digest_verify(k->pkey, alg, sig, siglen, input,
		    inlen);

	if (siglen != JWT_ES256_LEN ||
	    jwt_es256_der(sig, &der, &derlen) == -1)
		return -1;
	rc = jwt_digest_verify(k->pkey, alg, der, derlen, input, inlen);
	OPENSSL_free(der);
	return rc;
}

/*
 * Keys a token may be checked against: those whose kid equals the
 * header's; failing that, those without a kid; failing that, for a token
 * without kid, an issuer's only key.
 */
static size_t
jwt_candidates(const struct jwt_issuer *is, const char *kid,
    const struct jwt_key **out)
{
	size_t	 i, n, c = 0;

	n = is->nkeys < JWT_KEYS_MAX ? is->nkeys : JWT_KEYS_MAX;
	if (kid != NULL) {
		for (i = 0; i < n; i++)
			if (strcmp(is->keys[i].kid, kid) == 0)
				out[c++] = &is->keys[i];
	}
	if (c == 0) {
		for (i = 0; i < n; i++)
			if (is->keys[i].kid[0] == '\0')
				out[c++] = &is->keys[i];
	}
	if (c == 0 && kid == NULL && n == 1)
		out[c++] = &is->keys[0];
	return c;
}

static int
jwt_check_signature(const struct jwt_issuer *is, const char *kid,
    const void *input, size_t inlen, const unsigned char *sig, size_t siglen,
    const char **why)
{
	const struct jwt_key	*keys[JWT_KEYS_MAX];
	size_t			 i, n;

	if (siglen == 0) {
		*why = "token has no signature";
		return -1;
	}
	if ((is->alg == JWT_HS256 && siglen != JWT_HS256_LEN) ||
	    (is->alg == JWT_ES256 && siglen != JWT_ES256_LEN)) {
		*why = "token signature has the wrong length";
		return -1;
	}
	if ((n = jwt_candidates(is, kid, keys)) == 0) {
		*why = kid != NULL ? "no key matches the token kid" :
		    "no key matches a token without kid";
		return -1;
	}
	for (i = 0; i < n; i++)
		if (jwt_verify_key(is->alg, keys[i], input, inlen, sig,
		    siglen) == 0)
			return 0;
	*why = "token signature is invalid";
	return -1;
}

/* 1 and the value in *out if present, 0 if absent, -1 if unusable. */
static int
jwt_numeric_date(const json_t *pay, const char *name, double *out)
{
	const json_t	*v;
	double		 d;

	if ((v = json_object_get(pay, name)) == NULL)
		return 0;
	if (!json_is_number(v))
		return -1;
	d = json_number_value(v);
	if (!(d >= -JWT_TIME_MAX && d <= JWT_TIME_MAX))
		return -1;
	*out = d;
	return 1;
}

/*
 * Dates are compared as doubles: a NumericDate may have a fraction, and
 * within JWT_TIME_MAX neither side can overflow.
 */
static int
jwt_check_times(const json_t *pay, long leeway, time_t now, long long *exp,
    const char **why)
{
	double	 t = (double)now, lw = leeway > 0 ? (double)leeway : 0;
	double	 e, nbf, iat;
	int	 rc;

	if ((rc = jwt_numeric_date(pay, "exp", &e)) == -1) {
		*why = "token exp is not a valid date";
		return -1;
	}
	if (rc == 0) {
		*why = "token has no exp";
		return -1;
	}
	if (t > e + lw) {
		*why = "token expired";
		return -1;
	}

	if ((rc = jwt_numeric_date(pay, "nbf", &nbf)) == -1) {
		*why = "token nbf is not a valid date";
		return -1;
	}
	if (rc == 1 && t + lw < nbf) {
		*why = "token not yet valid";
		return -1;
	}

	if ((rc = jwt_numeric_date(pay, "iat", &iat)) == -1) {
		*why = "token iat is not a valid date";
		return -1;
	}
	if (rc == 1 && iat > t + lw) {
		*why = "token issued in the future";
		return -1;
	}

	*exp = (long long)e;
	return 0;
}

static int
jwt_aud_matches(const json_t *aud, const char *want)
{
	const json_t	*v;
	size_t		 i, len;

	len = strlen(want);
	if (json_is_string(aud))
		return jwt_string_eq(aud, want, len);
	if (!json_is_array(aud))
		return 0;
	json_array_foreach(aud, i, v) {
		if (json_is_string(v) && jwt_string_eq(v, want, len))
			return 1;
	}
	return 0;
}

static int
jwt_copy_sub(const json_t *pay, char *sub, const char **why)
{
	const json_t	*v;
	const char	*s;
	size_t		 len;

	v = json_object_get(pay, "sub");
	if (!json_is_string(v) || json_string_length(v) == 0) {
		*why = "token has no subject";
		return -1;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	if (len > JWT_SUB_MAX || memchr(s, '\0', len) != NULL) {
		*why = "token subject is not acceptable";
		return -1;
	}
	memcpy(sub, s, len);
	sub[len] = '\0';
	return 0;
}

/* A claim value may hold several claims separated by spaces or commas. */
static uint32_t
jwt_perms_string(const char *s, size_t len)
{
	uint32_t	 mask = 0;
	size_t		 i = 0, start;
	enum perm	 p;

	while (i < len) {
		while (i < len && (s[i] == ' ' || s[i] == ','))
			i++;
		start = i;
		while (i < len && s[i] != ' ' && s[i] != ',')
			i++;
		/* Unknown claims belong to other services: not an error. */
		if (i > start && (p = perm_parse(s + start, i - start)) !=
		    PERM_NONE)
			mask |= PERM_BIT(p);
	}
	return mask;
}

static uint32_t
jwt_perms(const json_t *pay)
{
	const json_t	*v, *item;
	uint32_t	 mask = 0;
	size_t		 i;

	if ((v = json_object_get(pay, "permission")) == NULL)
		v = json_object_get(pay, "permissions");
	if (json_is_string(v))
		return jwt_perms_string(json_string_value(v),
		    json_string_length(v));
	if (!json_is_array(v))
		return 0;
	json_array_foreach(v, i, item) {
		if (json_is_string(item))
			mask |= jwt_perms_string(json_string_value(item),
			    json_string_length(item));
	}
	return mask;
}

/*
 * Cheap structural checks come first, then the header, the issuer named
 * by the payload and the algorithm pinned by that issuer; the claims are
 * believed only once the signature holds.
 */
int
jwt_verify(const char *token, size_t len, const struct jwt_issuer *issuers,
    size_t nissuers, time_t now, struct jwt_claims *claims, const char **why)
{
	struct jwt_parts	 p;
	struct jwt_claims	 c;
	const struct jwt_issuer	*is;
	json_t			*hdr = NULL, *pay = NULL;
	const char		*kid, *ignored;
	unsigned char		 sig[JWT_SIG_MAX];
	size_t			 siglen;
	int			 rc = -1;

	if (why == NULL)
		why = &ignored;
	memset(claims, 0, sizeof(*claims));
	memset(&c, 0, sizeof(c));

	if (jwt_split(token, len, &p, why) == -1)
		return -1;
	if ((hdr = jwt_segment_object(p.hdr, p.hdrlen, &jwt_header_segment,
	    why)) == NULL)
		goto fail;
	if (jwt_check_header(hdr, &kid, why) == -1)
		goto fail;

	/* The payload is read before the signature check to pick the issuer. */
	if ((pay = jwt_segment_object(p.pay, p.paylen, &jwt_payload_segment,
	    why)) == NULL)
		goto fail;
	if ((is = jwt_find_issuer(pay, issuers, nissuers, why)) == NULL)
		goto fail;
	if (jwt_check_alg(hdr, is, why) == -1)
		goto fail;

	if (base64url_decode(sig, sizeof(sig), p.sig, p.siglen, &siglen) ==
	    -1) {
		*why = "token signature is malformed";
		goto fail;
	}
	if (jwt_check_signature(is, kid, token, (size_t)(p.sig - 1 - token),
	    sig, siglen, why) == -1)
		goto fail;

	if (jwt_check_times(pay, is->leeway, now, &c.exp, why) == -1)
		goto fail;
	if (is->aud[0] != '\0' &&
	    !jwt_aud_matches(json_object_get(pay, "aud"), is->aud)) {
		*why = "token audience mismatch";
		goto fail;
	}
	if (jwt_copy_sub(pay, c.sub, why) == -1)
		goto fail;
	memcpy(c.iss, is->iss, strnlen(is->iss, sizeof(is->iss)));
	c.perms = jwt_perms(pay);
	c.issuer = is;

	*claims = c;
	rc = 0;
fail:
	json_decref(pay);
	json_decref(hdr);
	return rc;
}

int
jwt_key_load_pem(struct jwt_key *key, const char *path, enum jwt_alg alg,
    const char **why)
{
	BIO		*bio = NULL;
	EVP_PKEY	*pkey = NULL;
	int		 rc = -1;

	if (alg == JWT_HS256) {
		*why = "HS256 takes a secret, not a key file";
		return -1;
	}
	if ((bio = BIO_new_file(path, "r")) == NULL) {
		*why = "cannot open key file";
		goto fail;
	}
	if ((pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		*why = "key file holds no PEM public key";
		goto fail;
	}
	if (jwt_pkey_fits(pkey, alg, why) == -1)
		goto fail;

	EVP_PKEY_free(key->pkey);
	key->pkey = pkey;
	pkey = NULL;
	rc = 0;
fail:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

static void
jwt_key_clear_secret(struct jwt_key *key)
{
	if (key->secret != NULL) {
		OPENSSL_cleanse(key->secret, key->secret_len);
		free(key->secret);
	}
	key->secret = NULL;
	key->secret_len = 0;
}

int
jwt_key_set_secret(struct jwt_key *key, const char *secret, size_t len)
{
	unsigned char	*copy;

	if (secret == NULL || len == 0)
		return -1;
	if ((copy = malloc(len)) == NULL)
		return -1;
	memcpy(copy, secret, len);
	jwt_key_clear_secret(key);
	key->secret = copy;
	key->secret_len = len;
	return 0;
}

/* Every slot, not only the first nkeys: a half-configured key may hold one. */
void
jwt_issuer_free(struct jwt_issuer *is)
{
	size_t	 i;

	for (i = 0; i < JWT_KEYS_MAX; i++) {
		jwt_key_clear_secret(&is->keys[i]);
		EVP_PKEY_free(is->keys[i].pkey);
		is->keys[i].pkey = NULL;
	}
	is->nkeys = 0;
}

static int
jwt_append_b64(struct buf *out, const void *data, size_t len)
{
	if (buf_reserve(out, base64url_enclen(len)) == -1)
		return -1;
	out->len += base64url_encode(out->data + out->len, data, len);
	return 0;
}

static int
jwt_dump_cb(const char *s, size_t len, void *arg)
{
	return buf_append(arg, s, len);
}

/* Serialises through a buf so jansson's allocator never leaks out. */
static int
jwt_append_json_b64(struct buf *out, const json_t *obj, struct buf *tmp)
{
	buf_reset(tmp);
	if (json_dump_callback(obj, jwt_dump_cb, tmp, JSON_COMPACT) == -1 ||
	    tmp->len == 0)
		return -1;
	return jwt_append_b64(out, tmp->data, tmp->len);
}

static json_t *
jwt_sign_header(const struct jwt_key *k)
{
	json_t	*hdr;

	if ((hdr = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT")) ==
	    NULL)
		return NULL;
	if (k->kid[0] != '\0' && json_object_set_new(hdr, "kid",
	    json_stringn(k->kid, strnlen(k->kid, sizeof(k->kid)))) == -1) {
		json_decref(hdr);
		return NULL;
	}
	return hdr;
}

static json_t *
jwt_sign_payload(const struct jwt_issuer *is, const char *sub, uint32_t perms,
    long long now, long long exp)
{
	json_t	*pay, *list;
	int	 p;

	if ((pay = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(pay, "iss",
	    json_stringn(is->iss, strnlen(is->iss, sizeof(is->iss)))) == -1)
		goto fail;
	if (is->aud[0] != '\0' && json_object_set_new(pay, "aud",
	    json_stringn(is->aud, strnlen(is->aud, sizeof(is->aud)))) == -1)
		goto fail;
	if (json_object_set_new(pay, "sub", json_string(sub)) == -1 ||
	    json_object_set_new(pay, "iat", json_integer(now)) == -1 ||
	    json_object_set_new(pay, "nbf", json_integer(now)) == -1 ||
	    json_object_set_new(pay, "exp", json_integer(exp)) == -1)
		goto fail;

	if ((list = json_array()) == NULL ||
	    json_object_set_new(pay, "permission", list) == -1)
		goto fail;
	for (p = PERM_NONE + 1; p < PERM__MAX; p++) {
		if ((perms & PERM_BIT(p)) != 0 && json_array_append_new(list,
		    json_string(perm_claim((enum perm)p))) == -1)
			goto fail;
	}
	return pay;
fail:
	json_decref(pay);
	return NULL;
}

int
jwt_sign_hs256(const struct jwt_issuer *is, const char *sub, uint32_t perms,
    time_t now, long ttl, struct buf *out)
{
	struct buf	 tmp = { NULL, 0, 0 };
	json_t		*hdr = NULL, *pay = NULL;
	unsigned char	 mac[JWT_HS256_LEN];
	size_t		 start = out->len, sublen;
	int		 rc = -1;

	if (is->alg != JWT_HS256 || is->nkeys == 0 ||
	    is->keys[0].secret == NULL)
		return -1;
	/* Refuse to mint what jwt_verify would refuse. */
	sublen = sub != NULL ? strlen(sub) : 0;
	if (sublen == 0 || sublen > JWT_SUB_MAX)
		return -1;
	if (ttl <= 0 || now < 0 || (double)now + (double)ttl > JWT_TIME_MAX)
		return -1;

	if ((hdr = jwt_sign_header(&is->keys[0])) == NULL ||
	    (pay = jwt_sign_payload(is, sub, perms, (long long)now,
	    (long long)now + ttl)) == NULL)
		goto fail;
	if (jwt_append_json_b64(out, hdr, &tmp) == -1 ||
	    buf_putc(out, '.') == -1 ||
	    jwt_append_json_b64(out, pay, &tmp) == -1)
		goto fail;
	if (jwt_hmac(&is->keys[0], out->data + start, out->len - start,
	    mac) == -1)
		goto fail;
	if (buf_putc(out, '.') == -1 ||
	    jwt_append_b64(out, mac, sizeof(mac)) == -1)
		goto fail;
	rc = 0;
fail:
	/* Leave out as it was rather than holding half a token. */
	if (rc == -1 && out->data != NULL) {
		out->len = start;
		out->data[start] = '\0';
	}
	buf_free(&tmp);
	json_decref(pay);
	json_decref(hdr);
	return rc;
}
