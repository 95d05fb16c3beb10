#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "keycache.h"
#include "metrics.h"

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

/*
 * Each master maps its own object, "tenantd-keys-HASH-PID", HASH naming
 * the database settings: a tenantd run as another user beside a running
 * one (mod_fcgid spawning as www-data beside a root-run daemon) never
 * meets another's 0600 object, and the master removes its object when it
 * stops.  A revocation bumps the epoch of every object of the database
 * that the revoking process may open, and removes those whose master is
 * gone (killed before it could).
 */
static char	 prefix[64];	/* "tenantd-keys-HASH-" */
static char	 own[96];	/* "/tenantd-keys-HASH-PID", the master's */

static void
set_prefix(const struct config *cfg)
{
	char		 port[24];
	uint64_t	 h = 1469598103934665603ULL;

	snprintf(port, sizeof(port), "%ld", cfg->db_port);
	h = fnv(fnv(fnv(fnv(h, cfg->db_socket), cfg->db_host), port),
	    cfg->db_name);
	snprintf(prefix, sizeof(prefix), "tenantd-keys-%016llx-",
	    (unsigned long long)h);
}

static struct keycache_shared *
shm_map(const char *name, int flags)
{
	struct keycache_shared	*s;
	int			 fd;

	if ((fd = shm_open(name, flags, 0600)) == -1)
		return NULL;
	if ((flags & O_CREAT) && ftruncate(fd, sizeof(*s)) == -1) {
		close(fd);
		return NULL;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return s == MAP_FAILED ? NULL : s;
}

/* Bumps every object of the database but skip; returns how many. */
static int
bump_others(const char *skip)
{
	struct keycache_shared	*s;
	struct dirent		*de;
	DIR			*d;
	char			 name[NAME_MAX + 2], *end;
	size_t			 plen = strlen(prefix);
	long			 pid;
	int			 n = 0;

	/* Where shm_open(3) keeps its objects on Linux. */
	if ((d = opendir("/dev/shm")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		pid = strtol(de->d_name + plen, &end, 10);
		if (pid <= 0 || *end != '\0')
			continue;
		snprintf(name, sizeof(name), "/%s", de->d_name);
		if (skip != NULL && strcmp(name, skip) == 0)
			continue;
		if (kill((pid_t)pid, 0) == -1 && errno == ESRCH) {
			(void)shm_unlink(name);
			continue;
		}
		if ((s = shm_map(name, O_RDWR)) == NULL)
			continue;	/* another user's */
		atomic_fetch_add(&s->epoch, 1);
		munmap(s, sizeof(*s));
		n++;
	}
	closedir(d);
	return n;
}

struct keycache_shared *
keycache_shared_open(const struct config *cfg)
{
	struct keycache_shared	*s;

	set_prefix(cfg);
	snprintf(own, sizeof(own), "/%s%ld", prefix, (long)getpid());
	if ((s = shm_map(own, O_RDWR | O_CREAT)) != NULL)
		return s;
	/* The workers still share revocations made through this instance. */
	fprintf(stderr, "tenantd: shared memory %s: %s; revocations made "
	    "elsewhere take effect here within auth.cache_ttl\n", own,
	    strerror(errno));
	own[0] = '\0';
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return s == MAP_FAILED ? NULL : s;
}

void
keycache_shared_close(void)
{
	if (own[0] != '\0')
		(void)shm_unlink(own);
}

int
keycache_bump_all(const struct config *cfg)
{
	set_prefix(cfg);
	return bump_others(NULL);
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
	/* Other instances on this host with the same database settings. */
	if (*prefix != '\0')
		bump_others(own[0] != '\0' ? own : NULL);
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
		metrics_count(MC_KEYCACHE_MISS);
		return 0;
	}
	e = slot_for(hash);
	if (e->until == 0 || now >= e->until ||
	    CRYPTO_memcmp(e->hash, hash, APIKEY_HASH_LEN) != 0) {
		metrics_count(MC_KEYCACHE_MISS);
		return 0;
	}
	metrics_count(MC_KEYCACHE_HIT);
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
