/*-------------------------------------------------------------------------
 *
 * key_template.c
 *	  Key templates: parsing, matching keys and key prefixes, and the key
 *	  prefixes that known part values narrow a listing to (key_template.h).
 *
 * IDENTIFICATION
 *	  src/decode/key_template.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "key_template.h"

static const char *const type_names[] = {
	[KT_TEXT] = "text",
	[KT_INT] = "int",
	[KT_YEAR] = "year",
	[KT_MONTH] = "month",
	[KT_DAY] = "day",
	[KT_HOUR] = "hour",
	[KT_MINUTE] = "minute",
	[KT_DATE] = "date",
};

#define NTYPES	(sizeof(type_names) / sizeof(type_names[0]))

const char *
kt_type_name(KtType type)
{
	return type_names[type];
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Fixed width of a type's values, 0 for int and text. */
static size_t
type_width(KtType type)
{
	switch (type)
	{
		case KT_YEAR:
			return 4;
		case KT_MONTH:
		case KT_DAY:
		case KT_HOUR:
		case KT_MINUTE:
			return 2;
		case KT_DATE:
			return 10;
		default:
			return 0;
	}
}

static bool
type_from_name(const char *s, size_t len, KtType *type)
{
	size_t		i;

	for (i = 0; i < NTYPES; i++)
		if (strlen(type_names[i]) == len && memcmp(type_names[i], s, len) == 0)
		{
			*type = (KtType) i;
			return true;
		}
	return false;
}

static bool
valid_name(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || len > KT_MAX_NAME || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '_'))
			return false;
	return true;
}

bool
kt_parse(const char *text, KeyTemplate *t, char *err, size_t errlen)
{
	const char *p = text;
	const char *lit = text;

	memset(t, 0, sizeof(*t));
	t->text = text;
	for (;;)
	{
		const char *open = strpbrk(p, "{}");
		const char *close;
		const char *colon;
		KtPart	   *part;
		size_t		nlen;

		if (open == NULL)
			break;
		if (*open == '}')
		{
			snprintf(err, errlen, "The template has a '}' at character %d that closes no placeholder.",
					 (int) (open - text) + 1);
			return false;
		}
		close = strpbrk(open + 1, "{}/");
		if (close == NULL || *close != '}')
		{
			snprintf(err, errlen, "The placeholder at character %d is not closed by '}'.",
					 (int) (open - text) + 1);
			return false;
		}
		if (t->nparts == KT_MAX_PARTS)
		{
			snprintf(err, errlen, "A template has at most %d placeholders.", KT_MAX_PARTS);
			return false;
		}
		part = &t->parts[t->nparts];
		part->literal = lit;
		part->literal_len = open - lit;
		colon = memchr(open + 1, ':', close - open - 1);
		nlen = (colon ? colon : close) - (open + 1);
		if (!valid_name(open + 1, nlen))
		{
			snprintf(err, errlen, "\"%.*s\" is not a placeholder name: names are lower-case letters, digits and '_', starting with a letter or '_', at most %d characters.",
					 (int) (nlen < 80 ? nlen : 80), open + 1, KT_MAX_NAME);
			return false;
		}
		memcpy(part->name, open + 1, nlen);
		part->name[nlen] = '\0';
		if (colon)
		{
			if (!type_from_name(colon + 1, close - colon - 1, &part->type))
			{
				snprintf(err, errlen, "\"%.*s\" is not a placeholder type; the types are year, month, day, hour, minute, date, int and text.",
						 (int) (close - colon - 1 < 80 ? close - colon - 1 : 80), colon + 1);
				return false;
			}
		}
		else if (!type_from_name(open + 1, nlen, &part->type))
			part->type = KT_TEXT;
		if (kt_find(t, part->name) >= 0)
		{
			snprintf(err, errlen, "The placeholder \"%s\" is used twice.", part->name);
			return false;
		}
		/* int and text end where the next literal text begins */
		if (t->nparts > 0 && part->literal_len == 0 &&
			type_width(t->parts[t->nparts - 1].type) == 0)
		{
			snprintf(err, errlen, "The %s placeholder \"%s\" is followed directly by another placeholder, so where its value ends is not known; put literal text (such as '/' or '-') between them.",
					 kt_type_name(t->parts[t->nparts - 1].type), t->parts[t->nparts - 1].name);
			return false;
		}
		t->nparts++;
		p = lit = close + 1;
	}
	if (t->nparts == 0)
	{
		snprintf(err, errlen, "The template has no placeholders, such as {year} or {date}.");
		return false;
	}
	t->tail = lit;
	t->tail_len = strlen(lit);
	return true;
}

int
kt_find(const KeyTemplate *t, const char *name)
{
	int			i;

	for (i = 0; i < t->nparts; i++)
		if (strcmp(t->parts[i].name, name) == 0)
			return i;
	return -1;
}

/* The literal text after part i. */
static const char *
next_literal(const KeyTemplate *t, int i, size_t *len)
{
	if (i + 1 < t->nparts)
	{
		*len = t->parts[i + 1].literal_len;
		return t->parts[i + 1].literal;
	}
	*len = t->tail_len;
	return t->tail;
}

static int
num2(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool
all_digits(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* A complete value of a fixed-width type. */
static bool
fixed_ok(KtType type, const char *v, size_t len)
{
	if (len != type_width(type))
		return false;
	switch (type)
	{
		case KT_YEAR:
			return all_digits(v, 4);
		case KT_MONTH:
			return all_digits(v, 2) && num2(v) >= 1 && num2(v) <= 12;
		case KT_DAY:
			return all_digits(v, 2) && num2(v) >= 1 && num2(v) <= 31;
		case KT_HOUR:
			return all_digits(v, 2) && num2(v) <= 23;
		case KT_MINUTE:
			return all_digits(v, 2) && num2(v) <= 59;
		case KT_DATE:
			{
				int			y;
				int			m;
				int			d;

				if (!all_digits(v, 4) || v[4] != '-' || !all_digits(v + 5, 2) || v[7] != '-' ||
					!all_digits(v + 8, 2))
					return false;
				y = num2(v) * 100 + num2(v + 2);
				m = num2(v + 5);
				d = num2(v + 8);
				return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
			}
		default:
			return false;
	}
}

/* Could v[0..len) (shorter than the width) begin a value of a fixed type? */
static bool
fixed_start_ok(KtType type, const char *v, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		if (type == KT_DATE && (i == 4 || i == 7))
		{
			if (v[i] != '-')
				return false;
		}
		else if (!is_digit(v[i]))
			return false;
	}
	return true;
}

bool
kt_value_ok(const KeyTemplate *t, int i, const char *v, size_t len)
{
	size_t		litlen;
	const char *lit;
	KtType		type = t->parts[i].type;

	if (type_width(type) > 0)
		return fixed_ok(type, v, len);
	if (len == 0 || memchr(v, '/', len) != NULL)
		return false;
	if (type == KT_INT && (len > 18 || !all_digits(v, len)))
		return false;
	/* the value must not hold the text that ends it */
	lit = next_literal(t, i, &litlen);
	if (litlen > 0)
	{
		size_t		k;

		for (k = 0; k + litlen <= len; k++)
			if (memcmp(v + k, lit, litlen) == 0)
				return false;
	}
	return true;
}

/* Find needle in s[0..len); -1 if absent. */
static long
find(const char *s, size_t len, const char *needle, size_t nlen)
{
	size_t		k;

	if (nlen == 0)
		return 0;
	for (k = 0; k + nlen <= len; k++)
		if (s[k] == needle[0] && memcmp(s + k, needle, nlen) == 0)
			return (long) k;
	return -1;
}

/*
 * Without a whole occurrence of the text "next" that ends a value, and with
 * a '/' at v[upto]: can v[0..avail) still be the start of a value and its
 * ending text, i.e. does some v[k..avail), 1 <= k <= upto, begin "next"?
 */
static bool
ends_in_start_of(const char *v, size_t avail, size_t upto, const char *next, size_t nlen)
{
	size_t		k;

	for (k = avail >= nlen ? avail - nlen + 1 : 1; k <= upto; k++)
		if (k >= 1 && avail - k < nlen && memcmp(v + k, next, avail - k) == 0)
			return true;
	return false;
}

/*
 * The walk of kt_match and kt_match_prefix over s[0..len).  With
 * "partial", s may end anywhere: returns the parts decided, or -1 if no
 * key that begins with s can match.  Without it, returns nparts if s
 * begins with the whole template, else -1.
 */
static int
walk(const KeyTemplate *t, const char *s, size_t len, KtSpan *spans, bool partial)
{
	size_t		p = 0;
	int			i;

	for (i = 0; i <= t->nparts; i++)
	{
		const char *lit = i < t->nparts ? t->parts[i].literal : t->tail;
		size_t		litlen = i < t->nparts ? t->parts[i].literal_len : t->tail_len;
		size_t		avail = len - p;
		KtType		type;
		size_t		width;

		/* the literal text before part i (or the tail) */
		if (avail < litlen)
		{
			if (!partial || memcmp(s + p, lit, avail) != 0)
				return -1;
			return i;
		}
		if (memcmp(s + p, lit, litlen) != 0)
			return -1;
		p += litlen;
		if (i == t->nparts)
			return i;
		avail = len - p;

		/* the value of part i */
		type = t->parts[i].type;
		width = type_width(type);
		if (width > 0)
		{
			if (avail < width)
			{
				if (!partial || !fixed_start_ok(type, s + p, avail))
					return -1;
				return i;
			}
			if (!fixed_ok(type, s + p, width))
				return -1;
			spans[i].off = p;
			spans[i].len = width;
			p += width;
		}
		else
		{
			size_t		nlen;
			const char *next = next_literal(t, i, &nlen);
			const char *slash = memchr(s + p, '/', avail);
			size_t		end;
			long		at;

			if (nlen == 0)
			{
				/* last in the template: up to the next '/' or the key's end */
				if (slash == NULL && partial)
				{
					if (type == KT_INT && !all_digits(s + p, avail))
						return -1;
					return i;
				}
				end = slash ? (size_t) (slash - (s + p)) : avail;
			}
			else
			{
				at = find(s + p, avail, next, nlen);
				if (at < 0)
				{
					size_t		upto = slash ? (size_t) (slash - (s + p)) : avail;

					if (!partial)
						return -1;
					if (slash && !ends_in_start_of(s + p, avail, upto, next, nlen))
						return -1;
					if (type == KT_INT && !all_digits(s + p, upto))
						return -1;
					return i;
				}
				end = (size_t) at;
				if (slash && (size_t) (slash - (s + p)) < end)
					return -1;
			}
			if (end == 0 || (type == KT_INT && (end > 18 || !all_digits(s + p, end))))
				return -1;
			spans[i].off = p;
			spans[i].len = end;
			p += end;
		}
	}
	return t->nparts;
}

bool
kt_match(const KeyTemplate *t, const char *key, size_t len, KtSpan *spans)
{
	return walk(t, key, len, spans, false) == t->nparts;
}

int
kt_match_prefix(const KeyTemplate *t, const char *prefix, size_t len, KtSpan *spans)
{
	return walk(t, prefix, len, spans, true);
}

size_t
kt_prefix(const KeyTemplate *t, int n, const char *const *values, char *out, size_t outlen)
{
	size_t		need = 0;
	int			i;

#define PUT(s, l) \
	do { \
		size_t put_l_ = (l); \
		if (need + put_l_ < outlen) \
			memcpy(out + need, (s), put_l_); \
		need += put_l_; \
	} while (0)

	for (i = 0; i < n && i < t->nparts; i++)
	{
		PUT(t->parts[i].literal, t->parts[i].literal_len);
		PUT(values[i], strlen(values[i]));
	}
	if (n < t->nparts)
		PUT(t->parts[n].literal, t->parts[n].literal_len);
	else
		PUT(t->tail, t->tail_len);
#undef PUT
	if (outlen > 0)
		out[need < outlen ? need : outlen - 1] = '\0';
	return need;
}

bool
kt_domain(KtType type, int *lo, int *hi)
{
	switch (type)
	{
		case KT_MONTH:
			*lo = 1;
			*hi = 12;
			return true;
		case KT_DAY:
			*lo = 1;
			*hi = 31;
			return true;
		case KT_HOUR:
			*lo = 0;
			*hi = 23;
			return true;
		case KT_MINUTE:
			*lo = 0;
			*hi = 59;
			return true;
		default:
			return false;
	}
}

int
kt_format_int(KtType type, long long v, char *out, size_t outlen)
{
	switch (type)
	{
		case KT_YEAR:
			return snprintf(out, outlen, "%04lld", v);
		case KT_MONTH:
		case KT_DAY:
		case KT_HOUR:
		case KT_MINUTE:
			return snprintf(out, outlen, "%02lld", v);
		default:
			return snprintf(out, outlen, "%lld", v);
	}
}
