#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "apikey.h"

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/*
 * Base62 of 32 random bytes by repeated division of the big-endian
 * number, so every key has exactly the entropy of its bytes.
 */
int
apikey_generate(char out[APIKEY_LEN + 1])
{
	unsigned char	 n[32];
	unsigned int	 rem, cur;
	size_t		 i, k;

	if (RAND_bytes(n, sizeof(n)) != 1)
		return -1;
	memcpy(out, APIKEY_TAG, APIKEY_TAG_LEN);
	for (k = 0; k < APIKEY_RANDOM_LEN; k++) {
		rem = 0;
		for (i = 0; i < sizeof(n); i++) {
			cur = rem * 256 + n[i];
			n[i] = (unsigned char)(cur / 62);
			rem = cur % 62;
		}
		out[APIKEY_LEN - 1 - k] = b62[rem];
	}
	out[APIKEY_LEN] = '\0';
	OPENSSL_cleanse(n, sizeof(n));
	return 0;
}

int
apikey_wellformed(const char *s)
{
	size_t	 i;

	if (strncmp(s, APIKEY_TAG, APIKEY_TAG_LEN) != 0 ||
	    strlen(s) != APIKEY_LEN)
		return 0;
	for (i = APIKEY_TAG_LEN; i < APIKEY_LEN; i++)
		if (strchr(b62, s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

/* Tags of the same length as APIKEY_TAG that name the same keys. */
static const char *const tags[] = { APIKEY_TAG, "tc_live_" };

int
apikey_tagged(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (strncmp(s, tags[i], APIKEY_TAG_LEN) == 0)
			return 1;
	return 0;
}

int
apikey_canonical(const char *s, char out[APIKEY_LEN + 1])
{
	if (!apikey_tagged(s) || strlen(s) != APIKEY_LEN)
		return -1;
	memcpy(out, APIKEY_TAG, APIKEY_TAG_LEN);
	memcpy(out + APIKEY_TAG_LEN, s + APIKEY_TAG_LEN,
	    APIKEY_LEN - APIKEY_TAG_LEN + 1);
	return apikey_wellformed(out) ? 0 : -1;
}

/*
 * The digest is fetched once per process: OpenSSL 3 otherwise looks the
 * algorithm up on every call.
 */
void
apikey_hash(const char *key, unsigned char out[APIKEY_HASH_LEN])
{
	static EVP_MD	*md;
	unsigned int	 len = APIKEY_HASH_LEN;

	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	EVP_Digest(key, strlen(key), out, &len, md ? md : EVP_sha256(), NULL);
}
