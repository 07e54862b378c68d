/*-------------------------------------------------------------------------
 *
 * infer.c
 *	  Schema inference from sampled records (infer.h).
 *
 * Every distinct key path is a node of a tree (objects' keys are children
 * of the object's node) holding counts of the kinds of values met there.
 * The tree is bounded: max_keys children per object (beyond, the object is
 * a map: jsonb), max_depth levels, max_columns * 4 nodes in all.  Nodes are
 * found by a hash of (parent, key), so wide records cost no more per key
 * than narrow ones.
 *
 * The JSON is walked by hand rather than by a DOM parser: what decides a
 * type is the text of a number ("12" is an integer, "12.0" is not, and
 * 12345678901234567890 does not fit a bigint), which jansson does not
 * keep; and a walk needs no memory per value.
 *
 * IDENTIFICATION
 *	  src/decode/infer.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epoch.h"
#include "infer.h"
#include "iso8601.h"

#define DEFAULT_MAX_DEPTH	4
#define DEFAULT_MAX_KEYS	100
#define DEFAULT_MAX_COLUMNS 1000
#define MAX_KEY_BYTES		1024	/* longer keys are not columns */
#define MAX_NOTES			20
#define MAX_WALK_DEPTH		1100	/* more than the JSON reader lets through */

/* Kinds of values, as bits. */
#define K_BOOL		0x01
#define K_NUM		0x02
#define K_STR		0x04
#define K_OBJ		0x08
#define K_ARR		0x10

typedef struct Node
{
	char	   *key;			/* as first met (unescaped) */
	size_t		keylen;
	int			parent;			/* -1: the root */
	int			depth;			/* the root's children: 1 */
	int			first_child;
	int			last_child;
	int			next;			/* sibling */
	int			nchildren;
	uint32_t	gen;			/* the record it was last met in */
	bool		map;			/* too many keys or too deep: kept whole */
	bool		unnamable;		/* a '.' in its key (or an ancestor's) */

	unsigned	kinds;
	int64_t		n_nonnull;
	/* numbers */
	int64_t		n_int;
	int64_t		n_big;			/* integers beyond bigint */
	int64_t		n_float;
	int64_t		n_precise;		/* more than 15 significant digits */
	int64_t		imin;
	int64_t		imax;
	bool		epoch_ok[4];	/* every number an instant of 2000-2100 in s/ms/us/ns */
	/* strings */
	int64_t		n_str;
	int64_t		n_tstz;
	int64_t		n_ts;
	int64_t		n_date;
	/* CSV text that reads as a boolean, integer, number */
	int64_t		n_text_bool;
	/* array elements */
	unsigned	elem_kinds;
	int64_t		e_int;
	int64_t		e_float;
	int64_t		e_other;		/* nested arrays and objects */
	int64_t		emin;
	int64_t		emax;
} Node;

struct Infer
{
	InferOptions opt;
	Node	   *nodes;
	int			nnodes;
	int			cap;
	int		   *hash;			/* node index + 1, 0: empty */
	int			hash_size;		/* a power of two */
	int			max_nodes;
	uint32_t	gen;
	int64_t		records;
	bool		oom;
	bool		csv;
	int		   *csv_nodes;		/* CSV: the node of each header field, -1: none */
	int			csv_n;
	char		keybuf[MAX_KEY_BYTES + 1];
	char	   *notes[MAX_NOTES];
	int			nnotes;
	int64_t		dropped;		/* keys past the limits */
	InferColumn *cols;
	int			ncols;
	char	   *paths;			/* the columns' paths, one buffer */
};

static const int64_t epoch_units[4] = {EPOCH_SECONDS, EPOCH_MILLIS, EPOCH_MICROS, EPOCH_NANOS};
static const char *const epoch_formats[4] = {"epoch_s", "epoch_ms", "epoch_us", "epoch_ns"};

/* 2000-01-01 and 2100-01-01, seconds since 1970 */
#define EPOCH_LO	INT64_C(946684800)
#define EPOCH_HI	INT64_C(4102444800)

/* A note; "fmt" has one %s, for a[0..alen) (a key, shown as far as printable). */
static void
note(Infer *inf, const char *fmt, const char *a, size_t alen)
{
	char		buf[512];
	size_t		i;

	if (inf->nnotes >= MAX_NOTES)
		return;
	/* quoted keys are shown as far as they are printable */
	{
		char		shown[81];
		size_t		n = alen < 80 ? alen : 80;

		for (i = 0; i < n; i++)
			shown[i] = (a[i] >= 0x20 && a[i] < 0x7f) ? a[i] : '?';
		shown[n] = '\0';
		snprintf(buf, sizeof(buf), fmt, shown);
	}
	for (i = 0; i < (size_t) inf->nnotes; i++)
		if (strcmp(inf->notes[i], buf) == 0)
			return;
	inf->notes[inf->nnotes] = strdup(buf);
	if (inf->notes[inf->nnotes])
		inf->nnotes++;
}

Infer *
infer_create(const InferOptions *options)
{
	Infer	   *inf = calloc(1, sizeof(Infer));

	if (inf == NULL)
		return NULL;
	if (options)
		inf->opt = *options;
	if (inf->opt.max_depth <= 0)
		inf->opt.max_depth = DEFAULT_MAX_DEPTH;
	if (inf->opt.max_keys <= 0)
		inf->opt.max_keys = DEFAULT_MAX_KEYS;
	if (inf->opt.max_columns <= 0)
		inf->opt.max_columns = DEFAULT_MAX_COLUMNS;
	inf->max_nodes = inf->opt.max_columns * 4 + 1;
	inf->hash_size = 64;
	while (inf->hash_size < inf->max_nodes * 2)
		inf->hash_size *= 2;
	inf->hash = calloc(inf->hash_size, sizeof(int));
	inf->cap = 64;
	inf->nodes = calloc(inf->cap, sizeof(Node));
	if (inf->hash == NULL || inf->nodes == NULL)
	{
		infer_free(inf);
		return NULL;
	}
	/* node 0: the root (the record itself) */
	inf->nodes[0].parent = -1;
	inf->nodes[0].first_child = inf->nodes[0].last_child = inf->nodes[0].next = -1;
	inf->nnodes = 1;
	return inf;
}

void
infer_free(Infer *inf)
{
	int			i;

	if (inf == NULL)
		return;
	for (i = 0; i < inf->nnodes; i++)
		free(inf->nodes[i].key);
	for (i = 0; i < inf->nnotes; i++)
		free(inf->notes[i]);
	free(inf->nodes);
	free(inf->csv_nodes);
	free(inf->hash);
	free(inf->cols);
	free(inf->paths);
	free(inf);
}

int64_t
infer_records(const Infer *inf)
{
	return inf->records;
}

/* ----------------------------------------------------------------
 *		Nodes
 * ----------------------------------------------------------------
 */

static char
fold(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c + ('a' - 'A')) : c;
}

static uint32_t
key_hash(const Infer *inf, int parent, const char *k, size_t len)
{
	uint32_t	h = 2166136261u ^ (uint32_t) parent;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) (inf->opt.case_insensitive ? fold(k[i]) : k[i]);
		h *= 16777619u;
	}
	return h;
}

static bool
key_equal(const Infer *inf, const char *a, const char *b, size_t len)
{
	size_t		i;

	if (!inf->opt.case_insensitive)
		return memcmp(a, b, len) == 0;
	for (i = 0; i < len; i++)
		if (fold(a[i]) != fold(b[i]))
			return false;
	return true;
}

/*
 * The child "k" of node "parent", created if need be; -1 if the limits
 * leave no room for it.
 */
static int
child(Infer *inf, int parent, const char *k, size_t len)
{
	uint32_t	h = key_hash(inf, parent, k, len);
	int			slot = (int) (h & (uint32_t) (inf->hash_size - 1));
	Node	   *p;
	Node	   *n;
	int			idx;

	while (inf->hash[slot] != 0)
	{
		Node	   *c = &inf->nodes[inf->hash[slot] - 1];

		if (c->parent == parent && c->keylen == len && key_equal(inf, c->key, k, len))
			return inf->hash[slot] - 1;
		slot = (slot + 1) & (inf->hash_size - 1);
	}

	p = &inf->nodes[parent];
	if (parent == 0 ? p->nchildren >= inf->opt.max_columns : p->nchildren >= inf->opt.max_keys)
	{
		if (parent != 0)
			p->map = true;		/* a map, not a record: kept whole */
		else
		{
			inf->dropped++;
		}
		return -1;
	}
	if (inf->nnodes >= inf->max_nodes)
	{
		inf->dropped++;
		return -1;
	}
	if (inf->nnodes == inf->cap)
	{
		Node	   *grown = realloc(inf->nodes, sizeof(Node) * inf->cap * 2);

		if (grown == NULL)
		{
			inf->oom = true;
			return -1;
		}
		inf->nodes = grown;
		inf->cap *= 2;
		p = &inf->nodes[parent];
	}
	idx = inf->nnodes;
	n = &inf->nodes[idx];
	memset(n, 0, sizeof(Node));
	n->key = malloc(len + 1);
	if (n->key == NULL)
	{
		inf->oom = true;
		return -1;
	}
	memcpy(n->key, k, len);
	n->key[len] = '\0';
	n->keylen = len;
	n->parent = parent;
	n->depth = p->depth + 1;
	n->first_child = n->last_child = n->next = -1;
	n->unnamable = p->unnamable || len == 0 || memchr(k, '.', len) != NULL;
	n->epoch_ok[0] = n->epoch_ok[1] = n->epoch_ok[2] = n->epoch_ok[3] = true;
	if (p->last_child >= 0)
		inf->nodes[p->last_child].next = idx;
	else
		p->first_child = idx;
	p->last_child = idx;
	p->nchildren++;
	inf->nnodes++;
	inf->hash[slot] = idx + 1;
	return idx;
}

/* ----------------------------------------------------------------
 *		Values
 * ----------------------------------------------------------------
 */

/*
 * A number's text: is it an integer (and its value, if it fits), and how
 * many significant digits it has.  False if it is not a number.
 */
static bool
read_number(const char *s, size_t len, bool *is_int, bool *fits, int64_t *value, int *sig)
{
	size_t		i = 0;
	bool		neg = false;
	uint64_t	acc = 0;
	bool		over = false;
	int			digits = 0;
	bool		leading = true;

	*is_int = true;
	if (i < len && s[i] == '-')
	{
		neg = true;
		i++;
	}
	if (i >= len || s[i] < '0' || s[i] > '9')
		return false;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
	{
		if (acc > (UINT64_MAX - 9) / 10)
			over = true;
		else
			acc = acc * 10 + (uint64_t) (s[i] - '0');
		if (s[i] != '0' || !leading)
		{
			leading = false;
			digits++;
		}
	}
	if (i < len && s[i] == '.')
	{
		*is_int = false;
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return false;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if (s[i] != '0' || !leading)
			{
				leading = false;
				digits++;
			}
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		*is_int = false;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return false;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i != len)
		return false;
	*sig = digits;
	*fits = !over && (neg ? acc <= (uint64_t) INT64_MAX + 1 : acc <= (uint64_t) INT64_MAX);
	if (*fits)
		*value = neg ? (int64_t) (0 - acc) : (int64_t) acc;
	return true;
}

static void
count_number(Node *n, const char *s, size_t len)
{
	bool		is_int;
	bool		fits;
	int64_t		v = 0;
	int			sig;
	int			u;

	if (!read_number(s, len, &is_int, &fits, &v, &sig))
		return;
	n->kinds |= K_NUM;
	if (is_int && fits)
	{
		if (n->n_int == 0 || v < n->imin)
			n->imin = v;
		if (n->n_int == 0 || v > n->imax)
			n->imax = v;
		n->n_int++;
	}
	else if (is_int)
		n->n_big++;
	else
	{
		n->n_float++;
		if (sig > 15)
			n->n_precise++;
	}
	for (u = 0; u < 4; u++)
	{
		int64_t		us;

		if (n->epoch_ok[u] &&
			(!epoch_to_usecs(s, len, epoch_units[u], &us) ||
			 us < EPOCH_LO * INT64_C(1000000) || us >= EPOCH_HI * INT64_C(1000000)))
			n->epoch_ok[u] = false;
	}
}

static void
count_string(Node *n, const char *s, size_t len)
{
	Iso8601		t;

	n->kinds |= K_STR;
	n->n_str++;
	if (len <= 40 && iso8601_parse(s, len, &t))
	{
		if (!t.has_time)
			n->n_date++;
		else if (t.has_offset)
			n->n_tstz++;
		else
			n->n_ts++;
	}
}

/* ----------------------------------------------------------------
 *		Walking JSON
 * ----------------------------------------------------------------
 */

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* After the string that starts at p ('"'); NULL if it does not end. */
static const char *
string_end(const char *p, const char *end)
{
	for (p++; p < end; p++)
	{
		if (*p == '\\')
		{
			p++;
			continue;
		}
		if (*p == '"')
			return p + 1;
	}
	return NULL;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Unescape the string s[0..len) (between its quotes) into out (at most
 * cap bytes); returns its length, or (size_t) -1 if it needs more room
 * or is not valid.
 */
static size_t
unescape(const char *s, size_t len, char *out, size_t cap)
{
	size_t		o = 0;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned	c = (unsigned char) s[i];

		if (c == '\\')
		{
			if (++i >= len)
				return (size_t) -1;
			switch (s[i])
			{
				case 'b':
					c = '\b';
					break;
				case 'f':
					c = '\f';
					break;
				case 'n':
					c = '\n';
					break;
				case 'r':
					c = '\r';
					break;
				case 't':
					c = '\t';
					break;
				case 'u':
					{
						int			k;

						c = 0;
						for (k = 1; k <= 4; k++)
						{
							int			h = i + k < len ? hexval(s[i + k]) : -1;

							if (h < 0)
								return (size_t) -1;
							c = c * 16 + (unsigned) h;
						}
						i += 4;
						/* key names and timestamps: any code point other than ASCII will do as '?' */
						if (c >= 0x80)
							c = '?';
						break;
					}
				default:
					c = (unsigned char) s[i];	/* \" \\ \/ */
					break;
			}
		}
		if (o >= cap)
			return (size_t) -1;
		out[o++] = (char) c;
	}
	return o;
}

/* Skip any value at p; NULL if it is not one (or nests too deep). */
static const char *
skip_value(const char *p, const char *end)
{
	int			depth = 0;

	do
	{
		p = skip_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == '"')
		{
			p = string_end(p, end);
			if (p == NULL)
				return NULL;
		}
		else if (*p == '{' || *p == '[')
		{
			if (++depth > MAX_WALK_DEPTH)
				return NULL;
			p++;
		}
		else if (*p == '}' || *p == ']')
		{
			if (--depth < 0)
				return NULL;
			p++;
		}
		else if (*p == ',' || *p == ':')
		{
			if (depth == 0)
				return NULL;
			p++;
		}
		else
		{
			/* a scalar: up to the next delimiter, and one of JSON's */
			const char *s = p;
			bool		is_int;
			bool		fits;
			int64_t		v;
			int			sig;

			while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
				   *p != '\n' && *p != '\r' && *p != '\t' && *p != ':')
				p++;
			if (!((p - s == 4 && (memcmp(s, "true", 4) == 0 || memcmp(s, "null", 4) == 0)) ||
				  (p - s == 5 && memcmp(s, "false", 5) == 0) ||
				  read_number(s, p - s, &is_int, &fits, &v, &sig)))
				return NULL;
		}
	} while (depth > 0);
	return p;
}

/*
 * Is text[0..len) one JSON value and nothing else (white space aside)?
 * The grammar is checked, not string escapes or UTF-8 (the JSON reader
 * does; a key that cannot be unescaped is left out).
 */
static bool
valid_json(const char *p, const char *end)
{
	enum
	{
		VALUE, FIRST_KEY, KEY, COLON, NEXT
	}			state = VALUE;
	unsigned char stack[(MAX_WALK_DEPTH + 7) / 8];	/* 1: object, 0: array */
	int			depth = 0;

#define IN_OBJECT() ((stack[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1)
	for (;;)
	{
		p = skip_ws(p, end);
		if (p >= end)
			return state == NEXT && depth == 0;
		switch (state)
		{
			case VALUE:
			case FIRST_KEY:
				if (state == FIRST_KEY && *p == '}')
				{
					p++;
					depth--;
					state = NEXT;
					break;
				}
				if (state == FIRST_KEY)
				{
					state = KEY;
					continue;
				}
				if (*p == '{' || *p == '[')
				{
					if (depth >= MAX_WALK_DEPTH)
						return false;
					if (*p == '{')
						stack[depth / 8] |= (unsigned char) (1 << (depth % 8));
					else
						stack[depth / 8] &= (unsigned char) ~(1 << (depth % 8));
					depth++;
					state = *p == '{' ? FIRST_KEY : VALUE;
					p++;
					if (state == VALUE)
					{
						p = skip_ws(p, end);
						if (p < end && *p == ']')
						{
							p++;
							depth--;
							state = NEXT;
						}
					}
					break;
				}
				if (*p == '"')
				{
					p = string_end(p, end);
					if (p == NULL)
						return false;
				}
				else
				{
					const char *s = p;
					bool		is_int;
					bool		fits;
					int64_t		v;
					int			sig;

					while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
						   *p != '\n' && *p != '\r' && *p != '\t' && *p != ':')
						p++;
					if (!((p - s == 4 && (memcmp(s, "true", 4) == 0 || memcmp(s, "null", 4) == 0)) ||
						  (p - s == 5 && memcmp(s, "false", 5) == 0) ||
						  read_number(s, p - s, &is_int, &fits, &v, &sig)))
						return false;
				}
				state = NEXT;
				break;
			case KEY:
				if (*p != '"')
					return false;
				p = string_end(p, end);
				if (p == NULL)
					return false;
				state = COLON;
				break;
			case COLON:
				if (*p != ':')
					return false;
				p++;
				state = VALUE;
				break;
			case NEXT:
				if (depth == 0)
					return false;	/* something after the value */
				if (*p == ',')
					state = IN_OBJECT() ? KEY : VALUE;
				else if (*p == (IN_OBJECT() ? '}' : ']'))
					depth--;
				else
					return false;
				p++;
				break;
		}
	}
#undef IN_OBJECT
}

static const char *walk_object(Infer *inf, int node, const char *p, const char *end);

/* The array at p ('['): count its elements' kinds into node n. */
static const char *
walk_array(Infer *inf, int node, const char *p, const char *end)
{
	p = skip_ws(p + 1, end);
	if (p < end && *p == ']')
		return p + 1;
	for (;;)
	{
		Node	   *n = &inf->nodes[node];
		const char *v;

		p = skip_ws(p, end);
		if (p >= end)
			return NULL;
		v = p;
		if (*p == '"')
		{
			p = string_end(p, end);
			if (p == NULL)
				return NULL;
			n->elem_kinds |= K_STR;
		}
		else if (*p == '{' || *p == '[')
		{
			p = skip_value(p, end);
			if (p == NULL)
				return NULL;
			n->elem_kinds |= *v == '{' ? K_OBJ : K_ARR;
			n->e_other++;
		}
		else
		{
			bool		is_int;
			bool		fits;
			int64_t		x = 0;
			int			sig;

			p = skip_value(p, end);
			if (p == NULL)
				return NULL;
			if (p - v == 4 && memcmp(v, "null", 4) == 0)
				;
			else if ((p - v == 4 && memcmp(v, "true", 4) == 0) ||
					 (p - v == 5 && memcmp(v, "false", 5) == 0))
				n->elem_kinds |= K_BOOL;
			else if (read_number(v, p - v, &is_int, &fits, &x, &sig))
			{
				n->elem_kinds |= K_NUM;
				if (is_int && fits)
				{
					if (n->e_int == 0 || x < n->emin)
						n->emin = x;
					if (n->e_int == 0 || x > n->emax)
						n->emax = x;
					n->e_int++;
				}
				else
					n->e_float++;
			}
			else
				return NULL;
		}
		p = skip_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == ']')
			return p + 1;
		if (*p != ',')
			return NULL;
		p++;
	}
}

/* The value at p, of node "node" (-1: not counted, only skipped). */
static const char *
walk_value(Infer *inf, int node, const char *p, const char *end)
{
	Node	   *n;
	const char *v;

	p = skip_ws(p, end);
	if (p >= end)
		return NULL;
	if (node < 0)
		return skip_value(p, end);
	n = &inf->nodes[node];
	v = p;
	switch (*p)
	{
		case '{':
			n->kinds |= K_OBJ;
			n->n_nonnull++;
			if (n->map || n->depth >= inf->opt.max_depth || n->unnamable)
			{
				/* kept whole: its keys are not looked at */
				if (n->depth >= inf->opt.max_depth)
					n->map = true;
				return skip_value(p, end);
			}
			return walk_object(inf, node, p, end);
		case '[':
			n->kinds |= K_ARR;
			n->n_nonnull++;
			return walk_array(inf, node, p, end);
		case '"':
			p = string_end(p, end);
			if (p == NULL)
				return NULL;
			n->n_nonnull++;
			{
				char		buf[48];
				size_t		len = p - v - 2;

				if (memchr(v + 1, '\\', len) == NULL)
					count_string(n, v + 1, len);
				else
				{
					size_t		ulen = unescape(v + 1, len, buf, sizeof(buf));

					if (ulen == (size_t) -1)
						count_string(n, "", 0);
					else
						count_string(n, buf, ulen);
				}
			}
			return p;
		default:
			/* (skip_value checks that it is true, false, null or a number) */
			p = skip_value(p, end);
			if (p == NULL)
				return NULL;
			if (p - v == 4 && memcmp(v, "null", 4) == 0)
				return p;
			n->n_nonnull++;
			if ((p - v == 4 && memcmp(v, "true", 4) == 0) ||
				(p - v == 5 && memcmp(v, "false", 5) == 0))
				n->kinds |= K_BOOL;
			else
				count_number(n, v, p - v);
			return p;
	}
}

/* The object at p ('{'), whose keys are children of node "node". */
static const char *
walk_object(Infer *inf, int node, const char *p, const char *end)
{
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return p + 1;
	for (;;)
	{
		const char *k;
		const char *kend;
		size_t		klen;
		const char *key;
		int			c = -1;

		p = skip_ws(p, end);
		if (p >= end || *p != '"')
			return NULL;
		k = p + 1;
		kend = string_end(p, end);
		if (kend == NULL)
			return NULL;
		klen = kend - k - 1;
		key = k;
		if (memchr(k, '\\', klen) != NULL)
		{
			klen = unescape(k, klen, inf->keybuf, MAX_KEY_BYTES);
			key = inf->keybuf;
		}
		if (klen == (size_t) -1 || klen > MAX_KEY_BYTES)
		{
			inf->dropped++;
			note(inf, "A key longer than %s bytes is not a column.", "1024", 4);
		}
		else if (!inf->nodes[node].map)
		{
			c = child(inf, node, key, klen);
			if (c >= 0)
			{
				Node	   *cn = &inf->nodes[c];

				/* a key met twice in a record: the first counts, as in scans */
				if (cn->gen == inf->gen)
					c = -1;
				else
					cn->gen = inf->gen;
				if (c >= 0 && cn->unnamable && cn->nchildren == 0 && cn->n_nonnull == 0)
					note(inf, "The key \"%s\" is empty or holds a '.', which a field path cannot name; it is not a column.",
						 key, klen);
			}
			else if (inf->oom)
				return NULL;
		}
		p = skip_ws(kend, end);
		if (p >= end || *p != ':')
			return NULL;
		p = walk_value(inf, c, p + 1, end);
		if (p == NULL)
			return NULL;
		p = skip_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			return NULL;
		p++;
	}
}

bool
infer_json(Infer *inf, const char *text, size_t len)
{
	const char *end = text + len;
	const char *p = skip_ws(text, end);

	if (inf->oom || p >= end || *p != '{')
		return false;
	/* a record that is not one is not counted at all */
	if (!valid_json(p, end))
		return false;
	inf->gen++;
	p = walk_object(inf, 0, p, end);
	if (p == NULL || skip_ws(p, end) != end)
		return false;
	inf->records++;
	return true;
}

/* ----------------------------------------------------------------
 *		CSV
 * ----------------------------------------------------------------
 */

void
infer_csv_header(Infer *inf, const char *const *fields, const size_t *lens, int n)
{
	int			i;

	inf->csv = true;
	free(inf->csv_nodes);
	inf->csv_n = 0;
	inf->csv_nodes = malloc(sizeof(int) * (n > 0 ? n : 1));
	if (inf->csv_nodes == NULL)
	{
		inf->oom = true;
		return;
	}
	for (i = 0; i < n; i++)
	{
		char		name[32];
		int			c;
		int			before = inf->nodes[0].nchildren;

		if (fields)
			c = child(inf, 0, fields[i], lens[i]);
		else
		{
			snprintf(name, sizeof(name), "c%d", i + 1);
			c = child(inf, 0, name, strlen(name));
		}
		if (c >= 0 && inf->nodes[0].nchildren == before)
		{
			/* a name met before: a scan maps the column to the first one */
			note(inf, "The header names \"%s\" more than once; its later fields are not columns.",
				 fields[i], lens[i]);
			c = -1;
		}
		if (c >= 0)
		{
			/* header names are names, not paths: a '.' is fine, nothing is */
			inf->nodes[c].unnamable = fields != NULL && lens[i] == 0;
			if (inf->nodes[c].unnamable)
				note(inf, "A header field is empty%s; its field is not a column.", "", 0);
		}
		inf->csv_nodes[inf->csv_n++] = c;
	}
}

/* The text of a CSV field, counted as the value its text reads as. */
static void
count_text(Node *n, const char *s, size_t len)
{
	bool		is_int;
	bool		fits;
	int64_t		v;
	int			sig;
	const char *d = s + (len > 0 && s[0] == '-');
	size_t		dlen = len - (size_t) (d - s);

	n->n_nonnull++;
	if ((len == 4 && strncmp(s, "true", 4) == 0) || (len == 5 && strncmp(s, "false", 5) == 0))
	{
		n->kinds |= K_BOOL;
		n->n_text_bool++;
		return;
	}
	/* codes with leading zeros ("007") are text */
	if (read_number(s, len, &is_int, &fits, &v, &sig) &&
		!(dlen > 1 && d[0] == '0' && d[1] >= '0' && d[1] <= '9'))
	{
		count_number(n, s, len);
		return;
	}
	count_string(n, s, len);
}

void
infer_csv_record(Infer *inf, const char *const *fields, const size_t *lens, const bool *quoted,
				 int n, const char *null_string)
{
	int			i;
	size_t		nlen = null_string ? strlen(null_string) : 0;

	inf->csv = true;
	for (i = 0; i < n && i < inf->csv_n; i++)
	{
		int			c = inf->csv_nodes[i];

		if (c < 0 ||
			(null_string && !quoted[i] && lens[i] == nlen && memcmp(fields[i], null_string, nlen) == 0))
			continue;
		count_text(&inf->nodes[c], fields[i], lens[i]);
	}
	inf->records++;
}

/* ----------------------------------------------------------------
 *		Names
 * ----------------------------------------------------------------
 */

static bool
is_lower(char c)
{
	return (c >= 'a' && c <= 'z');
}

static bool
is_upper(char c)
{
	return (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

void
infer_name(const char *path, size_t len, char *out)
{
	size_t		o = 0;
	size_t		i;

	for (i = 0; i < len && o < INFER_NAME_MAX; i++)
	{
		unsigned char c = (unsigned char) path[i];
		bool		word = is_lower(c) || is_upper(c) || is_digit(c) || c >= 0x80;

		if (!word)
		{
			if (o > 0 && out[o - 1] != '_')
				out[o++] = '_';
			continue;
		}
		/* a new word: aB, a1 -> no; aBc, ABc (the B of "HTTPStatus": ...P|Status) */
		if (is_upper(c) && o > 0 && out[o - 1] != '_' && i > 0 &&
			(is_lower(path[i - 1]) || is_digit(path[i - 1]) ||
			 (is_upper(path[i - 1]) && i + 1 < len && is_lower(path[i + 1]))))
		{
			if (o >= INFER_NAME_MAX - 1)
				break;
			out[o++] = '_';
		}
		out[o++] = (char) (is_upper(c) ? c + ('a' - 'A') : c);
	}
	while (o > 0 && out[o - 1] == '_')
		o--;
	/* a multi-byte character is not cut in half */
	while (o > 0 && ((unsigned char) out[o - 1] & 0xC0) == 0x80)
	{
		size_t		s = o - 1;

		while (s > 0 && ((unsigned char) out[s] & 0xC0) == 0x80)
			s--;
		{
			unsigned char lead = (unsigned char) out[s];
			size_t		need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;

			if (o - s == need)
				break;
			o = s;
		}
	}
	if (o > 0 && ((unsigned char) out[o - 1]) >= 0xC0)
		o--;					/* a lead byte alone */
	if (o == 0)
	{
		strcpy(out, "col");
		return;
	}
	out[o] = '\0';
	if (is_digit(out[0]))
	{
		/* an identifier starts with a letter or '_' */
		if (o >= INFER_NAME_MAX)
			o = INFER_NAME_MAX - 1;
		memmove(out + 1, out, o);
		out[0] = '_';
		out[o + 1] = '\0';
	}
}

/* Does a column of this name hold a time?  (words: ts, time, ..., or "..._at") */
static bool
time_name(const char *name)
{
	static const char *const words[] = {"ts", "time", "timestamp", "epoch", "datetime", NULL};
	const char *w = name;

	while (*w)
	{
		const char *e = strchr(w, '_');
		size_t		len = e ? (size_t) (e - w) : strlen(w);
		int			i;

		for (i = 0; words[i]; i++)
			if (strlen(words[i]) == len && strncmp(w, words[i], len) == 0)
				return true;
		if (e == NULL)
			return len == 2 && strncmp(w, "at", 2) == 0 && w != name;
		w = e + 1;
	}
	return false;
}

const char *
infer_text_type(const char *v, size_t len)
{
	Iso8601		t;
	bool		is_int;
	bool		fits;
	int64_t		x;
	int			sig;

	if (len == 10 && iso8601_parse(v, len, &t) && !t.has_time)
		return "date";
	/* partition values are often zero-padded: hour=07 is 7 */
	if (len > 0 && v[0] != '-' && read_number(v, len, &is_int, &fits, &x, &sig) && is_int && fits)
		return (x >= INT32_MIN && x <= INT32_MAX) ? "integer" : "bigint";
	return "text";
}

/* ----------------------------------------------------------------
 *		Types
 * ----------------------------------------------------------------
 */

static const char *
integer_type(int64_t lo, int64_t hi)
{
	return (lo >= INT32_MIN && hi <= INT32_MAX) ? "integer" : "bigint";
}

/* The type of a node's values, and the format of an epoch column. */
static const char *
node_type(Infer *inf, const Node *n, const char *name, const char **format)
{
	unsigned	k = n->kinds;

	*format = NULL;
	if (k == 0)
		return "text";
	if (k & K_OBJ)
		return "jsonb";			/* objects kept whole, or objects among other kinds */
	if (k != K_BOOL && k != K_NUM && k != K_STR && k != K_ARR)
	{
		/* several kinds: CSV text is text, JSON keeps what each value is */
		return inf->csv ? "text" : "jsonb";
	}
	if (k == K_BOOL)
		return "boolean";
	if (k == K_NUM)
	{
		int			u;

		if (time_name(name))
			for (u = 0; u < 4; u++)
				if (n->epoch_ok[u] && (u == 0 || n->n_float == 0))
				{
					*format = epoch_formats[u];
					return "timestamptz";
				}
		if (n->n_precise > 0 || (n->n_big > 0 && n->n_float == 0))
			return "numeric";
		if (n->n_float > 0 || n->n_big > 0)
			return "double precision";
		return integer_type(n->imin, n->imax);
	}
	if (k == K_STR)
	{
		if (n->n_tstz == n->n_str)
			return "timestamptz";
		if (n->n_ts == n->n_str)
			return "timestamp";
		if (n->n_date == n->n_str)
			return "date";
		return "text";
	}
	/* arrays */
	switch (n->elem_kinds)
	{
		case 0:
			return "jsonb";		/* only empty arrays: nothing says what they hold */
		case K_STR:
			return "text[]";
		case K_BOOL:
			return "boolean[]";
		case K_NUM:
			if (n->e_float > 0)
				return "double precision[]";
			return n->emin >= INT32_MIN && n->emax <= INT32_MAX ? "integer[]" : "bigint[]";
		default:
			return "jsonb";
	}
}

/* Is a name taken by a column made so far? */
static bool
name_taken(const Infer *inf, const char *name)
{
	int			i;

	/* (columns not named yet have an empty name) */
	for (i = 0; i < inf->nnodes && inf->cols[i].path != NULL; i++)
		if (strcmp(inf->cols[i].name, name) == 0)
			return true;
	return false;
}

/* The dotted path of node i into buf; its length, or 0 if too long. */
static size_t
node_path(const Infer *inf, int i, char *buf, size_t cap)
{
	int			chain[64];
	int			depth = 0;
	size_t		o = 0;

	for (; i > 0 && depth < 64; i = inf->nodes[i].parent)
		chain[depth++] = i;
	if (i > 0)
		return 0;
	while (depth-- > 0)
	{
		const Node *n = &inf->nodes[chain[depth]];

		if (o + n->keylen + 2 > cap)
			return 0;
		if (o > 0)
			buf[o++] = '.';
		memcpy(buf + o, n->key, n->keylen);
		o += n->keylen;
	}
	buf[o] = '\0';
	return o;
}

/* Give column c a name not taken yet: its own, or with _2, _3, ... */
static void
name_column(Infer *inf, InferColumn *c)
{
	char		base[INFER_NAME_MAX + 1];
	char		cand[INFER_NAME_MAX + 1];
	int			suffix;

	/* (c's own name stays empty until chosen, so it is not "taken" by c) */
	infer_name(c->path, strlen(c->path), base);
	strcpy(cand, base);
	for (suffix = 2; name_taken(inf, cand); suffix++)
	{
		char		sfx[16];
		size_t		blen = strlen(base);
		size_t		slen = (size_t) snprintf(sfx, sizeof(sfx), "_%d", suffix);

		if (blen + slen > INFER_NAME_MAX)
			blen = INFER_NAME_MAX - slen;
		memcpy(cand, base, blen);
		memcpy(cand + blen, sfx, slen + 1);
	}
	strcpy(c->name, cand);
}

/* Columns of node i's subtree, depth first, in the order keys were met. */
static void
collect(Infer *inf, int i, int *nodes, int *n, size_t *paths_len, size_t paths_cap)
{
	int			c;

	for (c = inf->nodes[i].first_child; c >= 0; c = inf->nodes[c].next)
	{
		const Node *node = &inf->nodes[c];
		char		path[4096];
		size_t		plen;

		if (*n >= inf->opt.max_columns)
			return;
		if (node->unnamable)
			continue;
		/* objects (only) whose keys were looked at: their keys are the columns */
		if (node->kinds == K_OBJ && !node->map && node->first_child >= 0)
		{
			int			before = *n;

			collect(inf, c, nodes, n, paths_len, paths_cap);
			if (*n > before)
				continue;
		}
		plen = node_path(inf, c, path, sizeof(path));
		if (plen == 0 || *paths_len + plen + 1 > paths_cap)
		{
			note(inf, "A key path longer than %s bytes is not a column.", "4096", 4);
			continue;
		}
		memcpy(inf->paths + *paths_len, path, plen + 1);
		inf->cols[*n].path = inf->paths + *paths_len;
		*paths_len += plen + 1;
		nodes[(*n)++] = c;
	}
}

int
infer_result(Infer *inf, const InferColumn **columns)
{
	size_t		paths_len = 0;
	size_t		paths_cap = 0;
	int		   *nodes;
	bool	   *named;
	int			n = 0;
	int			pass;
	int			i;
	size_t	   *plen = malloc(sizeof(size_t) * inf->nnodes);

	if (inf->oom || plen == NULL)
	{
		free(plen);
		return -1;
	}
	free(inf->cols);
	free(inf->paths);
	inf->ncols = 0;
	/* a path is its parent's, a '.' and its key: parents come first */
	plen[0] = 0;
	for (i = 1; i < inf->nnodes; i++)
	{
		const Node *node = &inf->nodes[i];

		plen[i] = plen[node->parent] + (node->parent > 0 ? 1 : 0) + node->keylen;
		paths_cap += plen[i] + 1;
	}
	free(plen);
	inf->cols = calloc(inf->nnodes, sizeof(InferColumn));
	inf->paths = malloc(paths_cap + 1);
	nodes = malloc(sizeof(int) * inf->nnodes);
	named = calloc(inf->nnodes, sizeof(bool));
	if (inf->cols == NULL || inf->paths == NULL || nodes == NULL || named == NULL)
	{
		free(nodes);
		free(named);
		return -1;
	}
	collect(inf, 0, nodes, &n, &paths_len, paths_cap);

	/*
	 * Names: first the keys that are names already ("device_id"), so that
	 * they keep them; then the others ("deviceId" -> device_id_2 if taken).
	 * inf->ncols counts the names given, for name_taken.
	 */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++)
		{
			InferColumn *c = &inf->cols[i];
			char		own[INFER_NAME_MAX + 1];

			if (named[i])
				continue;
			infer_name(c->path, strlen(c->path), own);
			if (pass == 0 && (strcmp(own, c->path) != 0 || name_taken(inf, own)))
				continue;
			name_column(inf, c);
			named[i] = true;
			inf->ncols++;		/* (names are looked up among all n below) */
		}
	inf->ncols = n;
	for (i = 0; i < n; i++)
	{
		InferColumn *c = &inf->cols[i];
		const Node *node = &inf->nodes[nodes[i]];

		c->type = node_type(inf, node, c->name, &c->format);
		c->values = node->n_nonnull;
	}
	free(nodes);
	free(named);
	if (inf->dropped > 0)
		note(inf, "Some keys were left out: %s.",
			 "records have more keys than a table can have columns", 52);
	*columns = inf->cols;
	return inf->ncols;
}

int
infer_notes(const Infer *inf, const char *const **notes)
{
	*notes = (const char *const *) inf->notes;
	return inf->nnotes;
}
