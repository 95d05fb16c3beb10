#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "page_marks.h"

/* 24 bytes: a listing read whole keeps PM_MARKS_MAX of them. */
struct slot {
	long long	 pos;
	long long	 pk;
	uint32_t	 off;		/* into keys */
	uint32_t	 len;		/* KEY_NULL: SQL NULL or a sort by pk */
};

#define KEY_NULL	UINT32_MAX

struct page_marks {
	bool		 used;
	long long	 scope;
	int		 sort;
	uint64_t	 tick;		/* last use, for eviction */
	bool		 known;		/* gen and total are set */
	long long	 gen;
	long long	 total;
	long long	 grid;
	long long	 served;	/* pages read from marks of gen */
	long long	 served_before;	/* ... of the generation before, -1: none */
	int		 rest;		/* long reads before marks are made again */
	int		 far;		/* far reads in gen: 0, 1, 2 after a pass */
	struct slot	*s;		/* by position */
	size_t		 n, cap;
	char		*keys;
	size_t		 klen, kcap;
};

static struct page_marks listings[PM_LISTINGS];
static uint64_t		 ticks;
static long long	 every = 250;
static long long	 beyond = 1000;
static size_t		 budget = 1024 * 1024;

void
page_marks_setup(long e, long b, size_t memory)
{
	every = e > 0 ? e : 1;
	beyond = b > 0 ? b : 0;
	budget = memory;
	page_marks_clear();
}

static size_t
held(const struct page_marks *pm)
{
	return pm->cap * sizeof(*pm->s) + pm->kcap;
}

size_t
page_marks_memory(void)
{
	size_t	 i, sum = 0;

	for (i = 0; i < PM_LISTINGS; i++)
		sum += held(&listings[i]);
	return sum;
}

static void
forget(struct page_marks *pm)
{
	free(pm->s);
	free(pm->keys);
	memset(pm, 0, sizeof(*pm));
}

void
page_marks_clear(void)
{
	size_t	 i;

	for (i = 0; i < PM_LISTINGS; i++)
		forget(&listings[i]);
}

struct page_marks *
page_marks_get(long long scope, int sort)
{
	struct page_marks	*pm, *victim = &listings[0];
	size_t			 i;

	for (i = 0; i < PM_LISTINGS; i++) {
		pm = &listings[i];
		if (pm->used && pm->scope == scope && pm->sort == sort) {
			pm->tick = ++ticks;
			return pm;
		}
		if (!pm->used || (victim->used && pm->tick < victim->tick))
			victim = pm;
	}
	forget(victim);
	victim->used = true;
	victim->scope = scope;
	victim->sort = sort;
	victim->tick = ++ticks;
	return victim;
}

bool
page_marks_known(const struct page_marks *pm)
{
	return pm->known;
}

long long
page_marks_gen(const struct page_marks *pm)
{
	return pm->gen;
}

long long
page_marks_total(const struct page_marks *pm)
{
	return pm->total;
}

void
page_marks_update(struct page_marks *pm, long long gen, long long total)
{
	if (pm->known && pm->gen == gen && pm->total == total)
		return;
	/*
	 * Marks that went before serving a page were made in vain: the
	 * listing changes faster than it is read deep, so for a while its
	 * long reads go without them, as they did before marks.
	 */
	if (pm->n > 0)
		pm->rest = pm->served == 0 ? PM_REST : 0;
	pm->served_before = pm->known ? pm->served : -1;
	pm->served = 0;
	pm->far = 0;
	pm->known = true;
	pm->gen = gen;
	pm->total = total;
	/* Never more grid rows than PM_MARKS_MAX. */
	pm->grid = (total + PM_MARKS_MAX - 1) / PM_MARKS_MAX;
	if (pm->grid < every)
		pm->grid = every;
	pm->n = 0;
	pm->klen = 0;
}

/* The first mark at or after pos. */
static size_t
lower_bound(const struct page_marks *pm, long long pos)
{
	size_t	 lo = 0, hi = pm->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (pm->s[mid].pos < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
from_mark(const struct page_marks *pm, size_t i, struct pm_read *r)
{
	const struct slot	*s = &pm->s[i];

	r->anchor = PM_MARK;
	r->mark.pos = s->pos;
	r->mark.pk = s->pk;
	r->mark.key = s->len == KEY_NULL ? NULL : s->len == 0 ? "" :
	    pm->keys + s->off;
	r->mark.len = s->len == KEY_NULL ? 0 : s->len;
}

/*
 * The cheapest read of rows a..b (ascending positions): forward from the
 * start or the nearest mark before a, or backward from the end or the
 * nearest mark after b.
 */
static void
best_read(const struct page_marks *pm, long long a, long long b,
    struct pm_read *r)
{
	size_t		 i = lower_bound(pm, a), j = lower_bound(pm, b + 1);
	long long	 skip;

	memset(r, 0, sizeof(*r));
	r->count = b - a + 1;
	r->needs_gen = true;
	r->pos = a;
	r->anchor = PM_START;
	r->forward = true;
	r->skip = a;
	if (i > 0 && (skip = a - pm->s[i - 1].pos - 1) < r->skip) {
		from_mark(pm, i - 1, r);
		r->skip = skip;
	}
	if ((skip = pm->total - 1 - b) < r->skip) {
		memset(&r->mark, 0, sizeof(r->mark));
		r->anchor = PM_END;
		r->forward = false;
		r->skip = skip;
	}
	if (j < pm->n && (skip = pm->s[j].pos - b - 1) < r->skip) {
		from_mark(pm, j, r);
		r->forward = false;
		r->skip = skip;
	}
}

enum pm_next
page_marks_plan(struct page_marks *pm, bool desc, long long offset,
    long long limit, bool fresh, struct pm_read *page, struct pm_read *mark)
{
	long long	 a, b, g, lo, hi, n = pm->total;
	struct pm_read	 up;

	/* From the end the order starts at: right whatever the total is. */
	memset(page, 0, sizeof(*page));
	page->anchor = desc ? PM_END : PM_START;
	page->forward = !desc;
	page->skip = offset;
	page->count = limit;
	if (offset <= beyond)
		return PM_READ;
	if (!pm->known)
		return PM_NEED_COUNT;
	if (offset >= n)
		return fresh ? PM_EMPTY : PM_NEED_COUNT;
	if (desc) {
		b = n - 1 - offset;
		a = b - limit + 1 < 0 ? 0 : b - limit + 1;
	} else {
		a = offset;
		b = limit > n - offset ? n - 1 : offset + limit - 1;
	}
	best_read(pm, a, b, page);
	g = pm->grid;
	if (page->skip < g)
		return PM_READ;
	if (mark != NULL && budget > 0 && pm->rest == 0) {
		/*
		 * The grid rows just before and just after the page; either
		 * leaves it less than g rows from a mark.  Make the one closer
		 * to what is known already.  (Each lies inside the listing: an
		 * end less than g rows from the page would have been read from
		 * above.)
		 */
		lo = a / g * g - 1;
		hi = ((b + 1) / g + 1) * g - 1;
		best_read(pm, lo, lo, mark);
		if (hi < n) {
			best_read(pm, hi, hi, &up);
			if (up.skip < mark->skip)
				*mark = up;
		}
		/* A mark near those known is cheap: no pass for it. */
		if (mark->skip <= beyond)
			return PM_NEED_MARK;
		/*
		 * One pass per generation, even if the budget cut it short,
		 * and only while passes pay: on a listing new to the worker,
		 * or when the generation before served PM_PASS_SERVED pages
		 * from its marks.  An account written to between every few
		 * deep reads makes single marks, each cheaper than a pass.
		 */
		if (pm->far == 1 && (pm->served_before < 0 ||
		    pm->served_before >= PM_PASS_SERVED)) {
			pm->far = 2;
			return PM_NEED_GRID;
		}
		if (pm->far == 0)
			pm->far = 1;
		return PM_NEED_MARK;
	}
	/* A long read as before marks, with a total read by this request. */
	if (!fresh)
		return PM_NEED_COUNT;
	if (pm->rest > 0)
		pm->rest--;
	return PM_READ;
}

int
page_marks_found(struct page_marks *pm, const struct pm_read *mark,
    long long gen, long long total, long long pk, const char *key, size_t len)
{
	long long	 pos = mark->pos;
	bool		 moved = !pm->known || pm->gen != gen || pm->total != total;

	/* Counted from an end, a row's place holds in its own snapshot. */
	if (mark->anchor == PM_START)
		pos = mark->skip;
	else if (mark->anchor == PM_END)
		pos = total - 1 - mark->skip;
	page_marks_update(pm, gen, total);
	if (moved && mark->anchor == PM_MARK)
		return -1;
	return page_marks_add(pm, pos, pk, key, len);
}

bool
page_marks_settle(struct page_marks *pm, const struct pm_read *page,
    bool fresh, long long gen, long long total)
{
	bool	 same = pm->known && pm->gen == gen;
	bool	 ok = !page->needs_gen || same ||
	    (fresh && page->anchor != PM_MARK);

	if (same && page->anchor == PM_MARK)
		pm->served++;
	page_marks_update(pm, gen, total);
	return ok;
}

void
page_marks_grid_begin(struct page_marks *pm, long long gen, long long total)
{
	page_marks_update(pm, gen, total);
	pm->far = 2;
}

int
page_marks_grid_row(struct page_marks *pm, long long pos, long long pk,
    const char *key, size_t len)
{
	if ((pos + 1) % pm->grid != 0)
		return 0;
	return page_marks_add(pm, pos, pk, key, len);
}

/* Room for one more mark with a key of len bytes, within the budget. */
static int
reserve(struct page_marks *pm, size_t len)
{
	struct page_marks	*victim;
	struct slot		*s;
	char			*k;
	size_t			 cap = pm->cap, kcap = pm->kcap, i, more;

	if (pm->n == PM_MARKS_MAX)
		return -1;
	if (pm->n == cap)
		cap = cap == 0 ? 16 : 2 * cap > PM_MARKS_MAX ? PM_MARKS_MAX : 2 * cap;
	if (pm->klen + len > kcap)
		kcap = 2 * kcap > pm->klen + len ? 2 * kcap : pm->klen + len + 256;
	more = (cap - pm->cap) * sizeof(*s) + (kcap - pm->kcap);
	while (more > 0 && page_marks_memory() + more > budget) {
		victim = NULL;
		for (i = 0; i < PM_LISTINGS; i++)
			if (&listings[i] != pm && held(&listings[i]) > 0 &&
			    (victim == NULL || listings[i].tick < victim->tick))
				victim = &listings[i];
		if (victim == NULL)
			return -1;
		forget(victim);
	}
	if (cap != pm->cap) {
		if ((s = realloc(pm->s, cap * sizeof(*s))) == NULL)
			return -1;
		pm->s = s;
		pm->cap = cap;
	}
	if (kcap != pm->kcap) {
		if ((k = realloc(pm->keys, kcap)) == NULL)
			return -1;
		pm->keys = k;
		pm->kcap = kcap;
	}
	return 0;
}

int
page_marks_add(struct page_marks *pm, long long pos, long long pk,
    const char *key, size_t len)
{
	size_t		 i = lower_bound(pm, pos);
	struct slot	*s;

	if (!pm->known || pos < 0 || pos >= pm->total)
		return -1;
	if (i < pm->n && pm->s[i].pos == pos)
		return 0;
	if (key == NULL)
		len = 0;
	if (len >= KEY_NULL - pm->klen || reserve(pm, len) == -1)
		return -1;
	memmove(&pm->s[i + 1], &pm->s[i], (pm->n - i) * sizeof(*s));
	s = &pm->s[i];
	s->pos = pos;
	s->pk = pk;
	s->off = (uint32_t)pm->klen;
	s->len = key == NULL ? KEY_NULL : (uint32_t)len;
	if (len > 0)
		memcpy(pm->keys + pm->klen, key, len);
	pm->klen += len;
	pm->n++;
	return 0;
}
