/*-------------------------------------------------------------------------
 *
 * infer_json.c
 *	  Schema inference: JSON records walked by hand (infer.c says why),
 *	  checked first, every value counted at the node of its key path.
 *
 * IDENTIFICATION
 *	  src/decode/infer_json.c
 *
 *-------------------------------------------------------------------------
 */
#include "infer_internal.h"

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
				  infer_read_number(s, p - s, &is_int, &fits, &v, &sig)))
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
						  infer_read_number(s, p - s, &is_int, &fits, &v, &sig)))
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
			else if (infer_read_number(v, p - v, &is_int, &fits, &x, &sig))
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
					infer_count_string(n, v + 1, len);
				else
				{
					size_t		ulen = unescape(v + 1, len, buf, sizeof(buf));

					if (ulen == (size_t) -1)
						infer_count_string(n, "", 0);
					else
						infer_count_string(n, buf, ulen);
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
				infer_count_number(n, v, p - v);
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
			infer_note(inf, "A key longer than %s bytes is not a column.", "1024", 4);
		}
		else if (!inf->nodes[node].map)
		{
			c = infer_child(inf, node, key, klen);
			if (c >= 0)
			{
				Node	   *cn = &inf->nodes[c];

				/* a key met twice in a record: the first counts, as in scans */
				if (cn->gen == inf->gen)
					c = -1;
				else
					cn->gen = inf->gen;
				if (c >= 0 && cn->unnamable && cn->nchildren == 0 && cn->n_nonnull == 0)
					infer_note(inf, "The key \"%s\" is empty or holds a '.', which a field path cannot name; it is not a column.",
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

