#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "ratelimit.h"

#define RL_STRIPES	64		/* one lock each */
#define RL_SLOTS	1024		/* per stripe */
#define RL_PROBE	8
#define RL_WINDOW	60

struct rl_slot {
	uint64_t	 key;		/* 0 = free */
	int64_t		 start;		/* window start, epoch seconds */
	uint32_t	 count;
};

struct rl_stripe {
	pthread_mutex_t	 lock;
	struct rl_slot	 slots[RL_SLOTS];
};

struct ratelimit {
	struct rl_stripe stripes[RL_STRIPES];
};

/* FNV-1a over both strings; never 0, which marks a free slot. */
static uint64_t
key_of(const char *a, const char *b)
{
	uint64_t	 h = 1469598103934665603ULL;

	for (; *a != '\0'; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (; *b != '\0'; b++)
		h = (h ^ (unsigned char)*b) * 1099511628211ULL;
	return h ? h : 1;
}

struct ratelimit *
ratelimit_new(void)
{
	pthread_mutexattr_t	 attr;
	struct ratelimit	*rl;
	size_t			 i;

	rl = mmap(NULL, sizeof(*rl), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rl == MAP_FAILED)
		return NULL;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	/* A worker killed while holding a lock must not wedge the others. */
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	for (i = 0; i < RL_STRIPES; i++)
		pthread_mutex_init(&rl->stripes[i].lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl != NULL)
		munmap(rl, sizeof(*rl));
}

static void
lock(pthread_mutex_t *m)
{
	if (pthread_mutex_lock(m) == EOWNERDEAD)
		pthread_mutex_consistent(m);
}

/*
 * The slot for key: its own, else a free or expired one, else the one
 * whose window started longest ago (its counter is lost, in favour of
 * the caller).
 */
static struct rl_slot *
find_slot(struct rl_stripe *s, uint64_t key, int64_t now)
{
	struct rl_slot	*oldest = NULL, *sl;
	size_t		 i, base = (size_t)(key >> 32) % RL_SLOTS;

	for (i = 0; i < RL_PROBE; i++) {
		sl = &s->slots[(base + i) % RL_SLOTS];
		if (sl->key == key)
			return sl;
	}
	for (i = 0; i < RL_PROBE; i++) {
		sl = &s->slots[(base + i) % RL_SLOTS];
		if (sl->key == 0 || now - sl->start >= RL_WINDOW) {
			oldest = sl;
			break;
		}
		if (oldest == NULL || sl->start < oldest->start)
			oldest = sl;
	}
	oldest->key = key;
	oldest->start = now;
	oldest->count = 0;
	return oldest;
}

static void
count(struct ratelimit *rl, const char *principal, const char *route,
    long limit, time_t now, bool hit, struct ratelimit_verdict *v)
{
	uint64_t		 key = key_of(principal, route);
	struct rl_stripe	*s = &rl->stripes[key % RL_STRIPES];
	struct rl_slot		*sl;

	lock(&s->lock);
	sl = find_slot(s, key, (int64_t)now);
	if ((int64_t)now - sl->start >= RL_WINDOW) {
		sl->start = (int64_t)now;
		sl->count = 0;
	}
	v->allowed = sl->count < (uint32_t)limit;
	if (v->allowed && hit)
		sl->count++;
	v->limit = limit;
	v->remaining = limit - (long)sl->count;
	v->reset = RL_WINDOW - ((int64_t)now - sl->start);
	pthread_mutex_unlock(&s->lock);
}

void
ratelimit_hit(struct ratelimit *rl, const char *principal, const char *route,
    long limit, time_t now, struct ratelimit_verdict *v)
{
	count(rl, principal, route, limit, now, true, v);
}

void
ratelimit_peek(struct ratelimit *rl, const char *principal, const char *route,
    long limit, time_t now, struct ratelimit_verdict *v)
{
	count(rl, principal, route, limit, now, false, v);
}
