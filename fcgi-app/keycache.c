#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "keycache.h"

#define KEYCACHE_SLOTS	128	/* direct-mapped by the hash's first bytes */

struct keycache_shared {
	_Atomic uint64_t	 epoch;
};

struct entry {
	unsigned char		 hash[APIKEY_HASH_LEN];
	struct principal	 who;
	time_t			 until;		/* 0 = empty */
};

static struct keycache_shared	*shared;
static long			 ttl;
static uint64_t			 seen;		/* epoch the cache is of */
static struct entry		 slots[KEYCACHE_SLOTS];

static uint64_t
fnv(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h ^ '|') * 1099511628211ULL;
}

struct keycache_shared *
keycache_shared_open(const struct config *cfg, int create)
{
	struct keycache_shared	*s;
	char			 name[64], port[24];
	uint64_t		 h = 1469598103934665603ULL;
	int			 fd;

	snprintf(port, sizeof(port), "%ld", cfg->db_port);
	h = fnv(fnv(fnv(fnv(h, cfg->db_socket), cfg->db_host), port),
	    cfg->db_name);
	snprintf(name, sizeof(name), "/tenantd-keys-%016llx",
	    (unsigned long long)h);
	fd = shm_open(name, O_RDWR | (create ? O_CREAT : 0), 0600);
	if (fd == -1)
		return NULL;
	/* The epoch only grows, so an object left by an earlier run is fine. */
	if (create && ftruncate(fd, sizeof(*s)) == -1) {
		close(fd);
		return NULL;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return s == MAP_FAILED ? NULL : s;
}

void
keycache_attach(struct keycache_shared *s, long seconds)
{
	shared = s;
	ttl = s != NULL ? seconds : 0;
	seen = s != NULL ? atomic_load(&s->epoch) : 0;
	memset(slots, 0, sizeof(slots));
}

void
keycache_invalidate(void)
{
	memset(slots, 0, sizeof(slots));
	if (shared != NULL)
		seen = atomic_fetch_add(&shared->epoch, 1) + 1;
}

void
keycache_bump(struct keycache_shared *s)
{
	if (s != NULL)
		atomic_fetch_add(&s->epoch, 1);
}

static struct entry *
slot_for(const unsigned char *hash)
{
	return &slots[((unsigned)hash[0] << 8 | hash[1]) % KEYCACHE_SLOTS];
}

int
keycache_get(const unsigned char hash[APIKEY_HASH_LEN], time_t now,
    struct principal *out)
{
	struct entry	*e;
	uint64_t	 epoch;

	if (ttl <= 0)
		return 0;
	if ((epoch = atomic_load(&shared->epoch)) != seen) {
		memset(slots, 0, sizeof(slots));
		seen = epoch;
		return 0;
	}
	e = slot_for(hash);
	if (e->until == 0 || now >= e->until ||
	    CRYPTO_memcmp(e->hash, hash, APIKEY_HASH_LEN) != 0)
		return 0;
	*out = e->who;
	return 1;
}

void
keycache_put(const unsigned char hash[APIKEY_HASH_LEN],
    const struct principal *who, time_t expires, time_t now)
{
	struct entry	*e;

	if (ttl <= 0)
		return;
	e = slot_for(hash);
	memcpy(e->hash, hash, APIKEY_HASH_LEN);
	e->who = *who;
	e->until = now + ttl;
	if (expires > 0 && expires < e->until)
		e->until = expires;
}
