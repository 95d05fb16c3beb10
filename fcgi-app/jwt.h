/*
 * JSON Web Token verification with libcrypto.  The algorithm comes from the
 * configured issuer, never from the token: a header whose "alg" differs
 * from the issuer's is refused, and "none" is never accepted.
 */
#ifndef JWT_H
#define JWT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "buf.h"

#define JWT_MAX_TOKEN	8192
#define JWT_KEYS_MAX	4

enum jwt_alg {
	JWT_HS256,
	JWT_RS256,
	JWT_ES256,
	JWT_ALG__MAX
};

struct jwt_key {
	char		 kid[64];	/* "" = any token kid (or none) */
	unsigned char	*secret;	/* HS256 */
	size_t		 secret_len;
	EVP_PKEY	*pkey;		/* RS256 / ES256 public key */
};

struct jwt_issuer {
	char		 name[32];	/* config section name */
	char		 iss[256];	/* required "iss" value */
	char		 aud[256];	/* required "aud" member; "" = unchecked */
	enum jwt_alg	 alg;
	struct jwt_key	 keys[JWT_KEYS_MAX];
	size_t		 nkeys;
	long		 leeway;	/* seconds, for exp/nbf/iat */
};

struct jwt_claims {
	char		 sub[129];
	char		 iss[257];
	uint32_t	 perms;		/* PERM_BIT() mask from permission(s) */
	long long	 exp;		/* 0 when absent */
	const struct jwt_issuer *issuer;
};

/*
 * Verifies token against the issuer whose "iss" matches.  On success fills
 * claims and returns 0; otherwise returns -1 and points *why at a static
 * English sentence fit for a 401 problem detail.
 */
int		 jwt_verify(const char *token, size_t len,
		    const struct jwt_issuer *issuers, size_t nissuers,
		    time_t now, struct jwt_claims *claims, const char **why);

int		 jwt_alg_parse(const char *, enum jwt_alg *);
const char	*jwt_alg_name(enum jwt_alg);

/* Loads a PEM public key (RSA for RS256, P-256 for ES256) into key. */
int		 jwt_key_load_pem(struct jwt_key *, const char *path,
		    enum jwt_alg, const char **why);
/* Sets a HS256 secret (copied). */
int		 jwt_key_set_secret(struct jwt_key *, const char *, size_t);
void		 jwt_issuer_free(struct jwt_issuer *);

/*
 * Mints an HS256 token for development (tenantctl token dev): iss and aud
 * from the issuer, sub, a "permission" array of canonical claims for the
 * bits in perms, iat now and exp now + ttl.  Appends it to out.
 */
int		 jwt_sign_hs256(const struct jwt_issuer *, const char *sub,
		    uint32_t perms, time_t now, long ttl, struct buf *out);

#endif
