#include <stdint.h>
#include <string.h>
#include <time.h>

#include "probe_cache.h"

#define SLOTS		256
#define KEY_MAX		192	/* longer words and pairs are probed each time */

struct slot {
	long long	 scope;
	char		 key[KEY_MAX];	/* a, then "\x1f" and b for a pair */
	time_t		 until;
	bool		 common;
};

static struct slot	 slots[SLOTS];

/* The slot's key for a and b into key; -1 when it does not fit. */
static int
make_key(const char *a, const char *b, char key[KEY_MAX])
{
	size_t	 la = strlen(a), lb = b != NULL ? strlen(b) : 0;

	if (la + lb + 2 > KEY_MAX)
		return -1;
	memcpy(key, a, la);
	key[la] = b != NULL ? '\x1f' : '\0';
	if (b != NULL) {
		memcpy(key + la + 1, b, lb);
		key[la + 1 + lb] = '\0';
	}
	return 0;
}

static struct slot *
slot_of(long long scope, const char *key)
{
	uint64_t	 h = 1469598103934665603ULL ^ (uint64_t)scope;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return &slots[h % SLOTS];
}

static time_t
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int
probe_cache_get(long long scope, const char *a, const char *b)
{
	char		 key[KEY_MAX];
	struct slot	*s;

	if (make_key(a, b, key) == -1)
		return -1;
	s = slot_of(scope, key);
	if (s->until == 0 || s->until < now() || s->scope != scope ||
	    strcmp(s->key, key) != 0)
		return -1;
	return s->common;
}

void
probe_cache_put(long long scope, const char *a, const char *b, bool common)
{
	char		 key[KEY_MAX];
	struct slot	*s;

	if (make_key(a, b, key) == -1)
		return;
	s = slot_of(scope, key);
	s->scope = scope;
	memcpy(s->key, key, sizeof(key));
	s->until = now() + PROBE_CACHE_SECONDS;
	s->common = common;
}
