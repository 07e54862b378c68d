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
 * This file: the tree and the counting of values, and CSV records;
 * infer_json.c walks JSON records, infer_result.c names and types the
 * columns (infer_internal.h: what they share).
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
#include "epoch.h"
#include "infer_internal.h"
#include "iso8601.h"

static const int64_t epoch_units[4] = {EPOCH_SECONDS, EPOCH_MILLIS, EPOCH_MICROS, EPOCH_NANOS};
const char *const infer_epoch_formats[4] = {"epoch_s", "epoch_ms", "epoch_us", "epoch_ns"};

/* 2000-01-01 and 2100-01-01, seconds since 1970 */
#define EPOCH_LO	INT64_C(946684800)
#define EPOCH_HI	INT64_C(4102444800)

/* A note; "fmt" has one %s, for a[0..alen) (a key, shown as far as printable). */
void
infer_note(Infer *inf, const char *fmt, const char *a, size_t alen)
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
int
infer_child(Infer *inf, int parent, const char *k, size_t len)
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
bool
infer_read_number(const char *s, size_t len, bool *is_int, bool *fits, int64_t *value, int *sig)
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

void
infer_count_number(Node *n, const char *s, size_t len)
{
	bool		is_int;
	bool		fits;
	int64_t		v = 0;
	int			sig;
	int			u;

	if (!infer_read_number(s, len, &is_int, &fits, &v, &sig))
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

void
infer_count_string(Node *n, const char *s, size_t len)
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
			c = infer_child(inf, 0, fields[i], lens[i]);
		else
		{
			snprintf(name, sizeof(name), "c%d", i + 1);
			c = infer_child(inf, 0, name, strlen(name));
		}
		if (c >= 0 && inf->nodes[0].nchildren == before)
		{
			/* a name met before: a scan maps the column to the first one */
			infer_note(inf, "The header names \"%s\" more than once; its later fields are not columns.",
				 fields[i], lens[i]);
			c = -1;
		}
		if (c >= 0)
		{
			/* header names are names, not paths: a '.' is fine, nothing is */
			inf->nodes[c].unnamable = fields != NULL && lens[i] == 0;
			if (inf->nodes[c].unnamable)
				infer_note(inf, "A header field is empty%s; its field is not a column.", "", 0);
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
	if (infer_read_number(s, len, &is_int, &fits, &v, &sig) &&
		!(dlen > 1 && d[0] == '0' && d[1] >= '0' && d[1] <= '9'))
	{
		infer_count_number(n, s, len);
		return;
	}
	infer_count_string(n, s, len);
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

