/*-------------------------------------------------------------------------
 *
 * infer_result.c
 *	  Schema inference: what the counts make of each key path: its
 *	  column name and SQL type, the columns in order, the notes.
 *
 * IDENTIFICATION
 *	  src/decode/infer_result.c
 *
 *-------------------------------------------------------------------------
 */
#include "infer_internal.h"
#include "iso8601.h"

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
	if (len > 0 && v[0] != '-' && infer_read_number(v, len, &is_int, &fits, &x, &sig) && is_int && fits)
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
					*format = infer_epoch_formats[u];
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
			infer_note(inf, "A key path longer than %s bytes is not a column.", "4096", 4);
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
		infer_note(inf, "Some keys were left out: %s.",
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

