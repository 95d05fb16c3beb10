#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base64url.h"
#include "query.h"
#include "secretbox.h"

#define NONCE_LEN	12
#define TAG_LEN		16
#define KEY_LEN		32

struct sb_key {
	char		 kid[SECRETBOX_KID_MAX + 1];
	unsigned char	 k[KEY_LEN];
};

static struct sb_key	 ring[SECRETBOX_KEYS_MAX];
static size_t		 nring;
static int		 active = -1;

static int
kid_ok(const char *kid)
{
	size_t	 i, n = strlen(kid);

	if (n < 1 || n > SECRETBOX_KID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((kid[i] >= 'a' && kid[i] <= 'z') ||
		    (kid[i] >= 'A' && kid[i] <= 'Z') ||
		    (kid[i] >= '0' && kid[i] <= '9') || kid[i] == '-' ||
		    kid[i] == '_'))
			return 0;
	return 1;
}

/* 64 hex digits, or base64 / base64url (padding optional) of 32 bytes. */
static int
decode_key(const char *s, size_t n, unsigned char k[KEY_LEN])
{
	char	 b[64];
	size_t	 i, out;

	if (n == 64) {
		for (i = 0; i < KEY_LEN; i++) {
			int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);

			if (hi < 0 || lo < 0)
				goto b64;
			k[i] = (unsigned char)(hi << 4 | lo);
		}
		return 0;
	}
b64:
	if (n == 44 && s[43] == '=')
		n = 43;
	if (n != 43)
		return -1;
	for (i = 0; i < n; i++)
		b[i] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	if (base64url_decode(k, KEY_LEN, b, n, &out) == -1 || out != KEY_LEN)
		return -1;
	return 0;
}

int
secretbox_add_key(const char *kid, const char *encoded, char *err,
    size_t errlen)
{
	struct sb_key	*key;
	size_t		 i, n = strlen(encoded);

	if (!kid_ok(kid)) {
		snprintf(err, errlen, "secrets key id must be 1 to 16 letters, "
		    "digits, '-' or '_'");
		return -1;
	}
	for (i = 0; i < nring; i++)
		if (strcmp(ring[i].kid, kid) == 0)
			break;
	if (i == SECRETBOX_KEYS_MAX) {
		snprintf(err, errlen, "too many secrets keys");
		return -1;
	}
	key = &ring[i];
	while (n > 0 && (encoded[n - 1] == '\n' || encoded[n - 1] == '\r' ||
	    encoded[n - 1] == ' '))
		n--;
	if (decode_key(encoded, n, key->k) == -1) {
		OPENSSL_cleanse(key->k, sizeof(key->k));
		snprintf(err, errlen, "secrets key %s: expected 32 bytes as 64 "
		    "hex digits or base64", kid);
		return -1;
	}
	snprintf(key->kid, sizeof(key->kid), "%s", kid);
	if (i == nring)
		nring++;
	if (active == -1)
		active = (int)i;
	return 0;
}

int
secretbox_add_key_file(const char *kid, const char *path, char *err,
    size_t errlen)
{
	struct stat	 st;
	FILE		*f;
	char		 buf[256];
	size_t		 n;
	int		 rc;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* A key others can read is a key others have. */
	if (fstat(fileno(f), &st) == -1 || (st.st_mode & 077) != 0) {
		fclose(f);
		snprintf(err, errlen, "%s: must not be readable by group or "
		    "others (chmod 600)", path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rc = secretbox_add_key(kid, buf, err, errlen);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static int
find_key(const char *kid, size_t n)
{
	size_t	 i;

	for (i = 0; i < nring; i++)
		if (strlen(ring[i].kid) == n && memcmp(ring[i].kid, kid, n) == 0)
			return (int)i;
	return -1;
}

int
secretbox_set_active(const char *kid, char *err, size_t errlen)
{
	int	 i;

	if ((i = find_key(kid, strlen(kid))) == -1) {
		snprintf(err, errlen, "secrets.active: no key %s is configured",
		    kid);
		return -1;
	}
	active = i;
	return 0;
}

bool
secretbox_ready(void)
{
	return active >= 0;
}

const char *
secretbox_active(void)
{
	return active >= 0 ? ring[active].kid : NULL;
}

void
secretbox_reset(void)
{
	OPENSSL_cleanse(ring, sizeof(ring));
	nring = 0;
	active = -1;
}

bool
secretbox_is_sealed(const char *s, size_t n)
{
	return n > sizeof(SECRETBOX_PREFIX) - 1 &&
	    memcmp(s, SECRETBOX_PREFIX, sizeof(SECRETBOX_PREFIX) - 1) == 0;
}

int
secretbox_kid(const char *s, size_t n, char kid[SECRETBOX_KID_MAX + 1])
{
	const char	*k, *colon;
	size_t		 kl;

	if (!secretbox_is_sealed(s, n))
		return -1;
	k = s + sizeof(SECRETBOX_PREFIX) - 1;
	if ((colon = memchr(k, ':', n - (size_t)(k - s))) == NULL)
		return -1;
	kl = (size_t)(colon - k);
	if (kl < 1 || kl > SECRETBOX_KID_MAX)
		return -1;
	memcpy(kid, k, kl);
	kid[kl] = '\0';
	return 0;
}

int
secretbox_seal(const char *plain, size_t len, const char *aad, char *out,
    size_t outlen)
{
	EVP_CIPHER_CTX	*ctx = NULL;
	unsigned char	*raw = NULL;
	const struct sb_key *key;
	size_t		 rawlen = NONCE_LEN + len + TAG_LEN, hl;
	int		 n, rc = -1;

	if (active < 0 || len > 65536 || outlen < SECRETBOX_SEALED_LEN(len))
		return -1;
	key = &ring[active];
	if ((raw = malloc(rawlen)) == NULL ||
	    RAND_bytes(raw, NONCE_LEN) != 1 ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->k, raw) != 1)
		goto fail;
	if (aad != NULL && (EVP_EncryptUpdate(ctx, NULL, &n,
	    (const unsigned char *)aad, (int)strlen(aad)) != 1))
		goto fail;
	if (EVP_EncryptUpdate(ctx, raw + NONCE_LEN, &n,
	    (const unsigned char *)plain, (int)len) != 1 || (size_t)n != len ||
	    EVP_EncryptFinal_ex(ctx, raw + NONCE_LEN + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
	    raw + NONCE_LEN + len) != 1)
		goto fail;
	hl = (size_t)snprintf(out, outlen, "%s%s:", SECRETBOX_PREFIX, key->kid);
	base64url_encode(out + hl, raw, rawlen);
	rc = 0;
fail:
	EVP_CIPHER_CTX_free(ctx);
	if (raw != NULL)
		OPENSSL_cleanse(raw, rawlen);
	free(raw);
	return rc;
}

int
secretbox_open(const char *s, size_t len, const char *aad, char *out,
    size_t outlen, size_t *outn)
{
	EVP_CIPHER_CTX	*ctx = NULL;
	unsigned char	*raw = NULL;
	char		 kid[SECRETBOX_KID_MAX + 1];
	const char	*b;
	size_t		 rawlen, ctlen;
	int		 k, n, rc = -1;

	if (secretbox_kid(s, len, kid) == -1 ||
	    (k = find_key(kid, strlen(kid))) == -1)
		return -1;
	b = s + sizeof(SECRETBOX_PREFIX) - 1 + strlen(kid) + 1;
	rawlen = base64url_declen(len - (size_t)(b - s));
	if ((raw = malloc(rawlen + 1)) == NULL ||
	    base64url_decode(raw, rawlen, b, len - (size_t)(b - s),
	    &rawlen) == -1 || rawlen < NONCE_LEN + TAG_LEN)
		goto fail;
	ctlen = rawlen - NONCE_LEN - TAG_LEN;
	if (ctlen + 1 > outlen ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, ring[k].k,
	    raw) != 1)
		goto fail;
	if (aad != NULL && EVP_DecryptUpdate(ctx, NULL, &n,
	    (const unsigned char *)aad, (int)strlen(aad)) != 1)
		goto fail;
	if (EVP_DecryptUpdate(ctx, (unsigned char *)out, &n,
	    raw + NONCE_LEN, (int)ctlen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	    raw + NONCE_LEN + ctlen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &n) != 1) {
		OPENSSL_cleanse(out, outlen);
		goto fail;
	}
	out[ctlen] = '\0';
	*outn = ctlen;
	rc = 0;
fail:
	EVP_CIPHER_CTX_free(ctx);
	if (raw != NULL)
		OPENSSL_cleanse(raw, rawlen);
	free(raw);
	return rc;
}
