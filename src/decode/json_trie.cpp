/*-------------------------------------------------------------------------
 *
 * json_trie.cpp
 *	  The JSON reader's path trie: the requested fields (keys or dotted
 *	  paths) compiled into a small trie that the walker follows.
 *
 * Records of one stream nearly always have the same keys in the same
 * order, so each trie node remembers the keys of the last object it saw by
 * position (ShapeSlot): a key is then recognized, wanted or not, with one
 * comparison.  Matching keys is the walker's hot path: key_length, key_eq
 * and trie_match are inline in json_internal.hpp; this file builds and
 * frees the trie.
 *
 * Case-insensitive keys (a reader made by json_reader_create_folded, as
 * the table option case_insensitive asks): the trie's keys are stored in
 * lower case, so paths that differ only in case share their nodes, and
 * each node's first-byte filter lets both cases of a letter through.  The
 * walk then tries the exact comparison first (a key written in lower case
 * costs nothing more) and trie_match_fold() only for a key it did not
 * find; a reader made without folding never calls it.
 *
 * IDENTIFICATION
 *	  src/decode/json_trie.cpp
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "json_internal.hpp"

/* Append v to a malloc'd int array; false on out of memory. */
static bool
int_push(int **arr, int *n, int v)
{
	int		   *a = (int *) realloc(*arr, sizeof(int) * (*n + 1));

	if (a == NULL)
		return false;
	a[(*n)++] = v;
	*arr = a;
	return true;
}

static int
trie_new_node(JsonReader *r)
{
	TrieNode   *n = (TrieNode *) realloc(r->nodes, sizeof(TrieNode) * (r->nnodes + 1));

	if (n == NULL)
		return -1;
	r->nodes = n;
	memset(&n[r->nnodes], 0, sizeof(TrieNode));
	return r->nnodes++;
}

static inline unsigned char
ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char) (c + ('a' - 'A')) : c;
}

/* trie_add: add the path of field fi; false on out of memory. */
bool
trie_add(JsonReader *r, int fi)
{
	const char *path = r->fields[fi].path;
	int			node = 0;

	if (path[0] == '\0')
		return int_push(&r->whole, &r->nwhole, fi);
	if (r->fold)
	{
		/* fields[fi].path is the reader's own copy (json_reader_create) */
		for (char *c = (char *) path; *c; c++)
			*c = (char) ascii_lower((unsigned char) *c);
	}

	for (;;)
	{
		const char *dot = strchr(path, '.');
		size_t		klen = dot ? (size_t) (dot - path) : strlen(path);
		int			child = -1;
		TrieNode   *n = &r->nodes[node];

		for (int e = 0; e < n->nedges; e++)
		{
			if (n->edges[e].len == klen && memcmp(n->edges[e].key, path, klen) == 0)
			{
				child = n->edges[e].child;
				break;
			}
		}
		if (child < 0)
		{
			TrieEdge   *edges;
			char	   *key;

			child = trie_new_node(r);
			if (child < 0)
				return false;
			n = &r->nodes[node];	/* nodes may have moved */
			/* zero padding lets key_eq() compare 8 bytes at a time */
			key = (char *) calloc(1, klen + 8);
			edges = (TrieEdge *) realloc(n->edges, sizeof(TrieEdge) * (n->nedges + 1));
			if (key == NULL || edges == NULL)
			{
				free(key);
				if (edges)
					n->edges = edges;
				return false;
			}
			memcpy(key, path, klen);
			key[klen] = '\0';
			n->edges = edges;
			{
				/* an empty key's raw form starts with its closing quote */
				unsigned char c0 = klen ? (unsigned char) key[0] : '"';

				n->first[c0 / 64] |= UINT64_C(1) << (c0 % 64);
				if (r->fold && c0 >= 'a' && c0 <= 'z')
				{
					unsigned char up = (unsigned char) (c0 - ('a' - 'A'));

					n->first[up / 64] |= UINT64_C(1) << (up % 64);
				}
				/* and any key may start with an escape */
				n->first['\\' / 64] |= UINT64_C(1) << ('\\' % 64);
			}
			n->edges[n->nedges].key = key;
			n->edges[n->nedges].len = klen;
			n->edges[n->nedges].child = child;
			n->edges[n->nedges].seen = 0;
			n->nedges++;
		}
		if (dot == NULL)
			return int_push(&r->nodes[child].leaf, &r->nodes[child].nleaf, fi);
		node = child;
		path = dot + 1;
	}
}


/*
 * trie_match_fold: the edge whose (lower case) key equals key[0..len)
 * once its ASCII letters are lowered; NULL if none.
 */
TrieEdge *
trie_match_fold(TrieNode *n, const char *key, size_t len)
{
	for (int e = 0; e < n->nedges; e++)
	{
		TrieEdge   *edge = &n->edges[e];
		size_t		i;

		if (edge->len != len)
			continue;
		for (i = 0; i < len; i++)
			if (ascii_lower((unsigned char) key[i]) != (unsigned char) edge->key[i])
				break;
		if (i == len)
			return edge;
	}
	return NULL;
}

/* trie_init: the root node, nodes[0] (the record); false on out of memory. */
bool
trie_init(JsonReader *r)
{
	return trie_new_node(r) == 0;
}

/*
 * trie_finish: once every field is added, check that no path is asked for
 * too often, and cache what the field loop needs on the edges themselves.
 * False when a path is requested more than JR_MAX_SAME_PATH times, or on
 * out of memory.
 */
bool
trie_finish(JsonReader *r)
{
	/* a path may be asked for several times, but not too often */
	for (int n = 0; n < r->nnodes; n++)
	{
		if (r->nodes[n].nleaf > JR_MAX_SAME_PATH)
			return false;
	}

	/* cache what the field loop needs on the edges themselves */
	for (int n = 0; n < r->nnodes; n++)
	{
		if (r->nodes[n].nedges > 0)
		{
			r->nodes[n].shape = (ShapeSlot *) calloc(JR_SHAPE_MAX, sizeof(ShapeSlot));
			if (r->nodes[n].shape == NULL)
				return false;
			for (int k = 0; k < JR_SHAPE_MAX; k++)
				r->nodes[n].shape[k].len = -1;
		}
		for (int e = 0; e < r->nodes[n].nedges; e++)
		{
			TrieEdge   *edge = &r->nodes[n].edges[e];
			TrieNode   *child = &r->nodes[edge->child];

			edge->fast = child->nleaf == 1 && child->nedges == 0 &&
				!r->fields[child->leaf[0]].want_elements;
			edge->field = child->nleaf > 0 ? child->leaf[0] : -1;
			edge->want = edge->field >= 0 ? r->fields[edge->field].want : JSON_WANT_ANY;
		}
	}
	return true;
}

/* trie_free: the nodes, their edges, keys, leaves and shapes. */
void
trie_free(JsonReader *r)
{
	for (int i = 0; i < r->nnodes; i++)
	{
		for (int e = 0; e < r->nodes[i].nedges; e++)
			free(r->nodes[i].edges[e].key);
		free(r->nodes[i].edges);
		free(r->nodes[i].leaf);
		free(r->nodes[i].shape);
	}
	free(r->nodes);
	r->nodes = NULL;
	r->nnodes = 0;
}
