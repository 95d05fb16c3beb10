/*
 * Secrets at rest: AES-256-GCM under keys from the configuration.  A
 * sealed value reads "enc:v1:KID:" + base64url(nonce | ciphertext | tag);
 * KID names the key that sealed it, so after a rotation old values still
 * open while new ones are sealed with the active key.  The caller's
 * context (the tenant's slug) is bound as additional data, so a sealed
 * value copied onto another row does not open there.
 *
 * The key ring is per process and filled once at start-up, before the
 * workers fork.
 */
#ifndef SECRETBOX_H
#define SECRETBOX_H

#include <stdbool.h>
#include <stddef.h>

#define SECRETBOX_KEYS_MAX	8
#define SECRETBOX_KID_MAX	16
#define SECRETBOX_PREFIX	"enc:v1:"

/* Room for the sealed form of len bytes, NUL included. */
#define SECRETBOX_SEALED_LEN(len) \
	(sizeof(SECRETBOX_PREFIX) + SECRETBOX_KID_MAX + 1 + \
	    ((12 + (len) + 16) * 4 + 2) / 3 + 1)

/*
 * Adds a key: 32 bytes as 64 hex digits or as base64 (either alphabet).
 * kid is 1 to 16 letters, digits, '-' or '_'.  -1 with err filled.
 */
int	 secretbox_add_key(const char *kid, const char *encoded, char *err,
	    size_t errlen);
/* As secretbox_add_key from a file that only its owner may read. */
int	 secretbox_add_key_file(const char *kid, const char *path, char *err,
	    size_t errlen);
/* Chooses the key new values are sealed with. */
int	 secretbox_set_active(const char *kid, char *err, size_t errlen);
/* A key to seal with is configured. */
bool	 secretbox_ready(void);
const char *secretbox_active(void);
/* Forgets every key (tests). */
void	 secretbox_reset(void);

bool	 secretbox_is_sealed(const char *s, size_t n);
/* The KID of a sealed value into kid: 0, or -1 when s is not sealed. */
int	 secretbox_kid(const char *s, size_t n, char kid[SECRETBOX_KID_MAX + 1]);

/*
 * Seals len bytes of plain with the active key into out (outlen bytes,
 * at least SECRETBOX_SEALED_LEN(len)); 0 or -1.
 */
int	 secretbox_seal(const char *plain, size_t len, const char *aad,
	    char *out, size_t outlen);
/*
 * Opens a sealed value into out as a string; -1 for an unknown key, a
 * malformed value, a wrong aad or any tampering.  *outn is its length.
 */
int	 secretbox_open(const char *sealed, size_t len, const char *aad,
	    char *out, size_t outlen, size_t *outn);

#endif
