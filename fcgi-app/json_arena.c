#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "json_arena.h"

/* gcc says __SANITIZE_ADDRESS__; clang (before 16) only __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN	1
#endif
#endif

#if defined(ARENA_ASAN)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)	((void)(p), (void)(n))
#define UNPOISON(p, n)	((void)(p), (void)(n))
#endif

#define CHUNK_SIZE	(64 * 1024)
/* Chunks kept for the next request; a larger page gives the rest back. */
#define CHUNKS_KEPT	8

/*
 * Every block starts with a header saying where it came from, so free can
 * tell an arena block (nothing to do) from a malloc'ed one.
 */
struct hdr {
	alignas(max_align_t) uint32_t from_arena;
};

struct chunk {
	struct chunk	*next;
	size_t		 used;
	alignas(max_align_t) unsigned char data[CHUNK_SIZE];
};

static struct chunk	*head;		/* the chunk allocated from */
static struct chunk	*spare;		/* reset chunks, for reuse */
static int		 active;

static void *
heap_alloc(size_t n)
{
	struct hdr	*h;

	if (n > SIZE_MAX - sizeof(*h) || (h = malloc(sizeof(*h) + n)) == NULL)
		return NULL;
	h->from_arena = 0;
	return h + 1;
}

static struct chunk *
new_chunk(void)
{
	struct chunk	*c;

	if ((c = spare) != NULL) {
		spare = c->next;
		UNPOISON(c->data, sizeof(c->data));
	} else if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	c->used = 0;
	c->next = head;
	head = c;
	return c;
}

static void *
arena_alloc(size_t n)
{
	struct hdr	*h;
	size_t		 need = sizeof(*h) + ((n + alignof(max_align_t) - 1) &
			    ~(alignof(max_align_t) - 1));

	/* Large blocks (long strings) go to malloc. */
	if (n > CHUNK_SIZE / 4)
		return heap_alloc(n);
	if ((head == NULL || CHUNK_SIZE - head->used < need) &&
	    new_chunk() == NULL)
		return NULL;
	h = (struct hdr *)(head->data + head->used);
	head->used += need;
	h->from_arena = 1;
	return h + 1;
}

static void *
json_alloc(size_t n)
{
	return active ? arena_alloc(n) : heap_alloc(n);
}

static void
json_free(void *p)
{
	struct hdr	*h;

	if (p == NULL)
		return;
	h = (struct hdr *)p - 1;
	if (!h->from_arena)
		free(h);
}

void
json_arena_install(void)
{
	json_set_alloc_funcs(json_alloc, json_free);
}

void
json_arena_begin(void)
{
	active = 1;
}

void
json_arena_end(void)
{
	struct chunk	*c;
	int		 kept = 0;

	active = 0;
	for (c = spare; c != NULL; c = c->next)
		kept++;
	while ((c = head) != NULL) {
		head = c->next;
		if (kept++ < CHUNKS_KEPT) {
			POISON(c->data, sizeof(c->data));
			c->next = spare;
			spare = c;
		} else
			free(c);
	}
}
