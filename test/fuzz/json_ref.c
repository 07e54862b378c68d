/*-------------------------------------------------------------------------
 *
 * json_ref.c
 *	  The reference JSON parser of test/fuzz/fuzz_json_reader.c, written
 *	  here from RFC 8259: strict grammar, UTF-8, escapes with surrogate
 *	  pairs, the first of duplicate keys, nesting up to JSON_REF_MAX_DEPTH.
 *
 * IDENTIFICATION
 *	  test/fuzz/json_ref.c
 *
 *-------------------------------------------------------------------------
 */
#include "fuzz.h"
#include "json_ref.h"

#define MAX_DEPTH JSON_REF_MAX_DEPTH

const char *
ref_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static bool
ref_hex4(const char *p, const char *e, uint32_t *v)
{
	*v = 0;
	if (e - p < 4)
		return false;
	for (int i = 0; i < 4; i++)
	{
		char		c = p[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t) (c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t) (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t) (c - 'A' + 10);
		else
			return false;
	}
	return true;
}

static void
emit_utf8(Str *out, uint32_t cp)
{
	unsigned char b[4];
	size_t		n;

	if (cp < 0x80)
	{
		b[0] = (unsigned char) cp;
		n = 1;
	}
	else if (cp < 0x800)
	{
		b[0] = (unsigned char) (0xC0 | (cp >> 6));
		b[1] = (unsigned char) (0x80 | (cp & 0x3F));
		n = 2;
	}
	else if (cp < 0x10000)
	{
		b[0] = (unsigned char) (0xE0 | (cp >> 12));
		b[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char) (0x80 | (cp & 0x3F));
		n = 3;
	}
	else
	{
		b[0] = (unsigned char) (0xF0 | (cp >> 18));
		b[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char) (0x80 | (cp & 0x3F));
		n = 4;
	}
	if (out)
		str_add(out, b, n);
}

/*
 * The string whose quote is at p: the byte after its closing quote, or
 * NULL.  Unescaped into out (if given).  A lone surrogate escape is
 * refused (the reader documents simdjson's rule, and PostgreSQL's jsonb
 * refuses it too).
 */
const char *
ref_string(const char *p, const char *e, Str *out, bool *nul)
{
	if (nul)
		*nul = false;
	for (p++; p < e;)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c != '\\')
		{
			if (out)
				str_add(out, p, 1);
			p++;
			continue;
		}
		if (e - p < 2)
			return NULL;
		switch (p[1])
		{
			case '"':
			case '\\':
			case '/':
				if (out)
					str_add(out, p + 1, 1);
				p += 2;
				break;
			case 'b':
				emit_utf8(out, '\b');
				p += 2;
				break;
			case 'f':
				emit_utf8(out, '\f');
				p += 2;
				break;
			case 'n':
				emit_utf8(out, '\n');
				p += 2;
				break;
			case 'r':
				emit_utf8(out, '\r');
				p += 2;
				break;
			case 't':
				emit_utf8(out, '\t');
				p += 2;
				break;
			case 'u':
				{
					uint32_t	cp,
								lo;

					if (!ref_hex4(p + 2, e, &cp))
						return NULL;
					p += 6;
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						if (e - p < 6 || p[0] != '\\' || p[1] != 'u' ||
							!ref_hex4(p + 2, e, &lo) || lo < 0xDC00 || lo > 0xDFFF)
							return NULL;
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						p += 6;
					}
					else if (cp >= 0xDC00 && cp <= 0xDFFF)
						return NULL;
					if (cp == 0 && nul)
						*nul = true;
					emit_utf8(out, cp);
					break;
				}
			default:
				return NULL;
		}
	}
	return NULL;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static const char *
ref_number(const char *p, const char *e)
{
	if (p < e && *p == '-')
		p++;
	if (p >= e || !is_digit(*p))
		return NULL;
	if (*p == '0')
		p++;
	else
		while (p < e && is_digit(*p))
			p++;
	if (p < e && *p == '.')
	{
		p++;
		if (p >= e || !is_digit(*p))
			return NULL;
		while (p < e && is_digit(*p))
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || !is_digit(*p))
			return NULL;
		while (p < e && is_digit(*p))
			p++;
	}
	return p;
}

static const char *
ref_literal(const char *p, const char *e)
{
	static const char *const lits[] = {"true", "false", "null"};

	for (int i = 0; i < 3; i++)
	{
		size_t		n = strlen(lits[i]);

		if ((size_t) (e - p) >= n && memcmp(p, lits[i], n) == 0)
			return p + n;
	}
	return NULL;
}

/* The value at p (no white space before it): the byte after it, or NULL. */
const char *
ref_value(const char *p, const char *e, int depth)
{
	if (p >= e)
		return NULL;
	switch (*p)
	{
		case '{':
		case '[':
			{
				char		close = *p == '{' ? '}' : ']';
				bool		object = *p == '{';

				if (depth + 1 > MAX_DEPTH)
					return NULL;
				p = ref_ws(p + 1, e);
				if (p < e && *p == close)
					return p + 1;
				for (;;)
				{
					if (object)
					{
						if (p >= e || *p != '"' || (p = ref_string(p, e, NULL, NULL)) == NULL)
							return NULL;
						p = ref_ws(p, e);
						if (p >= e || *p != ':')
							return NULL;
						p = ref_ws(p + 1, e);
					}
					p = ref_value(p, e, depth + 1);
					if (p == NULL)
						return NULL;
					p = ref_ws(p, e);
					if (p >= e)
						return NULL;
					if (*p == close)
						return p + 1;
					if (*p != ',')
						return NULL;
					p = ref_ws(p + 1, e);
				}
			}
		case '"':
			return ref_string(p, e, NULL, NULL);
		case 't':
		case 'f':
		case 'n':
			return ref_literal(p, e);
		default:
			return ref_number(p, e);
	}
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool
ref_utf8(const unsigned char *s, size_t n)
{
	size_t		i = 0;

	while (i < n)
	{
		unsigned char c = s[i];
		uint32_t	cp;
		int			k;

		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			k = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 2, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 3, cp = c & 0x07;
		else
			return false;
		if (n - i <= (size_t) k)
			return false;
		for (int j = 1; j <= k; j++)
		{
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
			(cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

/* A valid record (an object) at p: its end, or NULL. */
const char *
ref_record(const char *p, const char *e)
{
	const char *end;

	if (p >= e || *p != '{')
		return NULL;
	end = ref_value(p, e, 0);
	if (end == NULL || !ref_utf8((const unsigned char *) p, (size_t) (end - p)))
		return NULL;
	return end;
}

/*
 * The value at a dotted path in the valid object at rec: the first member
 * with each key counts.  NULL if absent.
 */
const char *
ref_lookup(const char *rec, const char *e, const char *path)
{
	const char *obj = rec;

	for (;;)
	{
		const char *dot = strchr(path, '.');
		size_t		seglen = dot ? (size_t) (dot - path) : strlen(path);
		const char *p;
		const char *found = NULL;

		if (*obj != '{')
			return NULL;
		p = ref_ws(obj + 1, e);
		if (*p == '}')
			return NULL;
		for (;;)
		{
			Str			key = {0};
			const char *v;
			bool		match;

			p = ref_string(p, e, &key, NULL);
			CHECK(p != NULL);
			match = key.len == seglen && memcmp(key.s ? key.s : "", path, seglen) == 0;
			str_free(&key);
			p = ref_ws(p, e);
			CHECK(*p == ':');
			v = ref_ws(p + 1, e);
			if (match)
			{
				found = v;
				break;
			}
			p = ref_value(v, e, 0);
			CHECK(p != NULL);
			p = ref_ws(p, e);
			if (*p == '}')
				break;
			CHECK(*p == ',');
			p = ref_ws(p + 1, e);
		}
		if (found == NULL)
			return NULL;
		if (dot == NULL)
			return found;
		obj = found;
		path = dot + 1;
	}
}
