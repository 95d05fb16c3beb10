/*
 * The allocator jansson uses in a worker.  While a request is served,
 * jansson's allocations come from an arena that is reset once the
 * response is written: a page of tenants builds and frees thousands of
 * small values, and malloc and free were a quarter of a list request's
 * instructions (callgrind).  Outside a request jansson uses malloc.
 *
 * Nothing jansson allocates during a request may outlive it.  Sanitizer
 * builds poison the arena on reset, so a value kept too long is caught.
 */
#ifndef JSON_ARENA_H
#define JSON_ARENA_H

/* Installs the allocator; once per process, before any jansson call. */
void	 json_arena_install(void);
/* From here to json_arena_end, jansson allocates from the arena. */
void	 json_arena_begin(void);
/* Releases everything allocated since json_arena_begin. */
void	 json_arena_end(void);

#endif
