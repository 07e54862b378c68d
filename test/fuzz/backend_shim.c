/*-------------------------------------------------------------------------
 *
 * backend_shim.c
 *	  The few backend functions that src/s3/event.c calls, outside the
 *	  server, for test/fuzz/fuzz_event.c: palloc and friends on malloc,
 *	  every allocation on one list that shim_reset() frees (as a memory
 *	  context reset would: LeakSanitizer then sees only real leaks, of
 *	  jansson's memory), lappend, and the error-stack globals PG_TRY uses.
 *	  StringInfo, psprintf, pg_encoding_verifymbstr and pg_toupper come
 *	  from PostgreSQL's own libpgcommon and libpgport (on these pallocs).
 *
 *	  Nothing here raises an error: running out of memory aborts.
 *
 * IDENTIFICATION
 *	  test/fuzz/backend_shim.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "nodes/pg_list.h"

#include "backend_shim.h"

sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;

typedef struct Chunk
{
	struct Chunk *prev;
	struct Chunk *next;
	size_t		size;
	size_t		pad;			/* MAXALIGN the data after the header */
} Chunk;

static Chunk head = {&head, &head, 0, 0};

static void *
link_chunk(Chunk *c, size_t size)
{
	if (c == NULL)
	{
		fprintf(stderr, "backend_shim: out of memory\n");
		abort();
	}
	c->size = size;
	c->next = head.next;
	c->prev = &head;
	head.next->prev = c;
	head.next = c;
	return c + 1;
}

static Chunk *
unlink_chunk(void *p)
{
	Chunk	   *c = (Chunk *) p - 1;

	c->prev->next = c->next;
	c->next->prev = c->prev;
	return c;
}

void
shim_reset(void)
{
	while (head.next != &head)
		free(unlink_chunk(head.next + 1));
}

void *
palloc(Size size)
{
	return link_chunk(malloc(sizeof(Chunk) + size), size);
}

void *
palloc0(Size size)
{
	return link_chunk(calloc(1, sizeof(Chunk) + size), size);
}

void *
palloc_extended(Size size, int flags)
{
	return (flags & MCXT_ALLOC_ZERO) ? palloc0(size) : palloc(size);
}

void *
repalloc(void *p, Size size)
{
	Chunk	   *c = unlink_chunk(p);

	return link_chunk(realloc(c, sizeof(Chunk) + size), size);
}

void
pfree(void *p)
{
	free(unlink_chunk(p));
}

char *
pstrdup(const char *s)
{
	return pnstrdup(s, strlen(s));
}

char *
pnstrdup(const char *s, Size len)
{
	char	   *r;

	len = strnlen(s, len);
	r = palloc(len + 1);
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

void
pg_re_throw(void)
{
	fprintf(stderr, "backend_shim: an error was raised\n");
	abort();
}

/* lappend: PostgreSQL's List, with its elements in a separate array */
List *
lappend(List *list, void *datum)
{
	if (list == NIL)
	{
		list = palloc0(sizeof(List));
		list->type = T_List;
		list->max_length = 4;
		list->elements = palloc(4 * sizeof(ListCell));
	}
	else if (list->length == list->max_length)
	{
		list->max_length *= 2;
		list->elements = repalloc(list->elements, list->max_length * sizeof(ListCell));
	}
	list->elements[list->length++].ptr_value = datum;
	return list;
}
