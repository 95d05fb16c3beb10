#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "page_marks.h"

/*
 * 24 bytes: a listing read whole keeps PM_MARKS_MAX of them.  The key's
 * bytes are at off in keys, its weights (if any) right after them.
 */
struct slot {
	long long	 pos;
	long long	 pk;
	uint32_t	 off;		/* into keys */
	uint16_t	 len;		/* KEY_NULL: SQL NULL or a sort by pk */
	uint8_t		 wlen;
	uint8_t		 flags;
};

#define KEY_NULL	UINT16_MAX
#define WEIGHED		0x01	/* ordered by weights, not bytes */
#define WCUT		0x02	/* more weights than wlen */
/* Two keys whose kept weights cannot tell their order. */
#define UNKNOWN		2
/* The weight of a space, which PAD SPACE collations pad shorter keys with. */
#define WEIGHT_SPACE	0x0209

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
	bool		 parted;	/* parts are those of gen */
	long long	 parts[PM_PARTS];
	struct slot	*s;		/* by position */
	size_t		 n, cap;
	char		*keys;
	size_t		 klen, kcap;
	/* A rebase under way: shifts from each slot on, slots gone. */
	long long	*shift;
	bool		*gone;
	bool		 lost;		/* a change could not be placed */
	long long	 net;		/* rows in less rows out */
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
	free(pm->shift);
	free(pm->gone);
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

static void
set_total(struct page_marks *pm, long long total)
{
	pm->total = total;
	/* Never more grid rows than PM_MARKS_MAX. */
	pm->grid = (total + PM_MARKS_MAX - 1) / PM_MARKS_MAX;
	if (pm->grid < every)
		pm->grid = every;
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
	pm->parted = false;
	set_total(pm, total);
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
		/*
		 * A mark near those known is cheap: no pass for it.  Nor is
		 * one a small share of the listing away, such as the next
		 * mark of a page that moved by the rows added before it: a
		 * pass reads the whole listing, a stall of a second at a
		 * million rows.
		 */
		if (mark->skip <= beyond || mark->skip <= n / PM_PASS_SHARE)
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
    long long gen, long long total, long long pk, const struct pm_key *k)
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
	return page_marks_add(pm, pos, pk, k);
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
	/*
	 * A page that needed no marks leaves marks a rebase can move for
	 * the next page that does.
	 */
	if (!page->needs_gen && !same && page_marks_parts(pm) != NULL)
		return ok;
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
    const struct pm_key *k)
{
	if ((pos + 1) % pm->grid != 0)
		return 0;
	return page_marks_add(pm, pos, pk, k);
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
    const struct pm_key *k)
{
	size_t		 i = lower_bound(pm, pos), len, wlen;
	struct slot	*s;

	if (!pm->known || pos < 0 || pos >= pm->total)
		return -1;
	if (i < pm->n && pm->s[i].pos == pos)
		return 0;
	len = k->key == NULL ? 0 : k->len;
	wlen = k->weight == NULL ? 0 : k->wlen > PM_WEIGHT_MAX ?
	    PM_WEIGHT_MAX : k->wlen;
	if (len >= KEY_NULL || len + wlen >= UINT32_MAX - pm->klen ||
	    reserve(pm, len + wlen) == -1)
		return -1;
	memmove(&pm->s[i + 1], &pm->s[i], (pm->n - i) * sizeof(*s));
	s = &pm->s[i];
	s->pos = pos;
	s->pk = pk;
	s->off = (uint32_t)pm->klen;
	s->len = k->key == NULL ? KEY_NULL : (uint16_t)len;
	s->wlen = (uint8_t)wlen;
	s->flags = (k->weight != NULL ? WEIGHED : 0) |
	    (k->weight != NULL && k->wlen > PM_WEIGHT_MAX ? WCUT : 0);
	if (len > 0)
		memcpy(pm->keys + pm->klen, k->key, len);
	if (wlen > 0)
		memcpy(pm->keys + pm->klen + len, k->weight, wlen);
	pm->klen += len + wlen;
	pm->n++;
	return 0;
}

void
page_marks_set_parts(struct page_marks *pm, long long gen,
    const long long parts[PM_PARTS])
{
	if (!pm->known || pm->gen != gen)
		return;
	memcpy(pm->parts, parts, sizeof(pm->parts));
	pm->parted = true;
}

const long long *
page_marks_parts(const struct page_marks *pm)
{
	return pm->parted && pm->n > 0 ? pm->parts : NULL;
}

/* The next weight of w (2 bytes each), or a space past its end. */
static unsigned int
weight_at(const unsigned char *w, size_t len, size_t i)
{
	return i + 1 < len ? (unsigned int)w[i] << 8 | w[i + 1] :
	    WEIGHT_SPACE;
}

/*
 * Weights compared as their collation compares keys: a shorter key is
 * padded with spaces (PAD SPACE).  UNKNOWN when a cut prefix leaves it
 * open.
 */
static int
weights_cmp(const unsigned char *a, size_t al, bool acut,
    const unsigned char *b, size_t bl, bool bcut)
{
	size_t		 i, n = al > bl ? al : bl;
	unsigned int	 x, y;

	for (i = 0; i < n; i += 2) {
		if ((i >= al && acut) || (i >= bl && bcut))
			return UNKNOWN;
		x = weight_at(a, al, i);
		y = weight_at(b, bl, i);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return acut || bcut ? UNKNOWN : 0;
}

/* Slot s against key k, then pk: -1, 0, 1 or UNKNOWN. */
static int
slot_cmp(const struct page_marks *pm, const struct slot *s, long long pk,
    const struct pm_key *k)
{
	const char	*key = pm->keys + s->off;
	size_t		 len = s->len == KEY_NULL ? 0 : s->len, n;
	int		 c;

	if ((s->len == KEY_NULL) != (k->key == NULL))
		c = s->len == KEY_NULL ? -1 : 1;	/* NULL first */
	else if (s->len == KEY_NULL)
		c = 0;
	else if ((s->flags & WEIGHED) != (k->weight != NULL ? WEIGHED : 0))
		return UNKNOWN;
	else if (s->flags & WEIGHED) {
		c = weights_cmp((const unsigned char *)key + len, s->wlen,
		    s->flags & WCUT, (const unsigned char *)k->weight,
		    k->wlen > PM_WEIGHT_MAX ? PM_WEIGHT_MAX : k->wlen,
		    k->wlen > PM_WEIGHT_MAX);
		if (c == UNKNOWN)
			return c;
	} else {
		n = len < k->len ? len : k->len;
		if ((c = memcmp(key, k->key, n)) == 0)
			c = len < k->len ? -1 : len > k->len;
		c = c < 0 ? -1 : c > 0;
	}
	if (c != 0)
		return c;
	return s->pk < pk ? -1 : s->pk > pk;
}

/*
 * The first slot after row (pk, k), and in *at the slot that is that row
 * (-1: none); -1 when the weights kept cannot tell.
 */
static long long
place(const struct page_marks *pm, long long pk, const struct pm_key *k,
    long long *at)
{
	size_t	 lo = 0, hi = pm->n, mid;
	int	 c;

	*at = -1;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = slot_cmp(pm, &pm->s[mid], pk, k)) == UNKNOWN)
			return -1;
		if (c == 0)
			*at = (long long)mid;
		if (c <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long long)lo;
}

int
page_marks_rebase_begin(struct page_marks *pm)
{
	free(pm->shift);
	free(pm->gone);
	pm->shift = NULL;
	pm->gone = NULL;
	pm->lost = false;
	pm->net = 0;
	if (page_marks_parts(pm) == NULL)
		return -1;
	pm->shift = calloc(pm->n + 1, sizeof(*pm->shift));
	pm->gone = calloc(pm->n, sizeof(*pm->gone));
	if (pm->shift == NULL || pm->gone == NULL) {
		free(pm->shift);
		free(pm->gone);
		pm->shift = NULL;
		pm->gone = NULL;
		return -1;
	}
	return 0;
}

static bool
same_key(const struct pm_key *a, const struct pm_key *b)
{
	if (a->key == NULL || b->key == NULL)
		return a->key == b->key;
	return a->len == b->len && memcmp(a->key, b->key, a->len) == 0;
}

int
page_marks_rebase_row(struct page_marks *pm, const struct pm_side *was,
    const struct pm_side *is)
{
	long long	 from, at;

	if (pm->shift == NULL || pm->lost)
		return -1;
	/* Another order's key changed: nothing moved in this one. */
	if (was->in && is->in && same_key(&was->k, &is->k))
		return 0;
	/* A row leaving puts every mark after it one place earlier... */
	if (was->in) {
		if ((from = place(pm, was->pk, &was->k, &at)) == -1)
			goto lost;
		pm->shift[from]--;
		if (at >= 0)
			pm->gone[at] = true;	/* ... and takes its own away */
		pm->net--;
	}
	if (is->in) {
		if ((from = place(pm, is->pk, &is->k, &at)) == -1 || at >= 0)
			goto lost;
		pm->shift[from]++;
		pm->net++;
	}
	return 0;
lost:
	pm->lost = true;
	return -1;
}

/* Shifts the marks, keeping those still there; false if any is out of place. */
static bool
shift_marks(struct page_marks *pm, long long total)
{
	long long	 run = 0;
	size_t		 i, k = 0;

	for (i = 0; i < pm->n; i++) {
		run += pm->shift[i];
		if (pm->gone[i])
			continue;
		pm->s[k] = pm->s[i];
		pm->s[k].pos += run;
		if (pm->s[k].pos < 0 || pm->s[k].pos >= total ||
		    (k > 0 && pm->s[k].pos <= pm->s[k - 1].pos))
			return false;
		k++;
	}
	pm->n = k;
	return true;
}

bool
page_marks_rebase_end(struct page_marks *pm, long long changes,
    long long gen, long long total, const long long parts[PM_PARTS])
{
	bool	 ok;

	/*
	 * Whole: one logged row for each step of the generation, and the
	 * rows in and out make the new total.
	 */
	ok = pm->shift != NULL && !pm->lost && pm->known &&
	    changes == gen - pm->gen && total == pm->total + pm->net &&
	    shift_marks(pm, total);
	free(pm->shift);
	free(pm->gone);
	pm->shift = NULL;
	pm->gone = NULL;
	if (!ok) {
		page_marks_update(pm, gen, total);
		pm->n = 0;
		pm->klen = 0;
		pm->parted = false;
		return false;
	}
	pm->gen = gen;
	set_total(pm, total);
	page_marks_set_parts(pm, gen, parts);
	return true;
}
