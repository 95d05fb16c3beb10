/*
 * API keys: "tk_live_" and 43 base62 characters (32 random bytes).  Only
 * a SHA-256 of the whole key is stored, beside its first characters as a
 * lookup prefix.
 */
#ifndef APIKEY_H
#define APIKEY_H

#include <stddef.h>

#define APIKEY_TAG		"tk_live_"
#define APIKEY_TAG_LEN		8
#define APIKEY_RANDOM_LEN	43	/* ceil(256 / log2(62)) */
#define APIKEY_LEN		(APIKEY_TAG_LEN + APIKEY_RANDOM_LEN)
#define APIKEY_PREFIX_LEN	(APIKEY_TAG_LEN + 12)
#define APIKEY_HASH_LEN		32

/* Writes a new key (APIKEY_LEN chars + NUL) into out. */
int	 apikey_generate(char out[APIKEY_LEN + 1]);
/* 1 when s has the shape of a key, 0 otherwise. */
int	 apikey_wellformed(const char *s);
/*
 * 1 when s starts with a tag tenantd accepts for its keys: its own, or
 * one a mirrored API's clients have configured (TenantCore's "tc_live_").
 */
int	 apikey_tagged(const char *s);
/*
 * The key s under tenantd's own tag, as it was issued and hashed, in out;
 * -1 when s is no well-formed key under an accepted tag.
 */
int	 apikey_canonical(const char *s, char out[APIKEY_LEN + 1]);
void	 apikey_hash(const char *key, unsigned char out[APIKEY_HASH_LEN]);

#endif
