/*-------------------------------------------------------------------------
 *
 * jsonb_build.c
 *	  A jsonb column's value built from JSON text the reader has already
 *	  checked, without the second parse of jsonb_in.
 *
 * The JSON reader hands a jsonb column the raw text of its value, checked
 * against the JSON grammar.  jsonb_in would lex and parse that text again
 * (PostgreSQL's JSON lexer, a semantic-action callback per token, every
 * string and number copied into a StringInfo first).  Here the same
 * JsonbValue stream is pushed straight from the text: strings without
 * escapes point into it, numbers of up to 18 digits skip numeric_in.
 * The pushes are jsonb_in's own (pushJsonbValue, a raw-scalar array around
 * a top-level scalar, JsonbValueToJsonb), so the result is the same datum,
 * with duplicate keys resolved the same way.
 *
 * Anything jsonb_in would have to reject or treat specially (\u0000, a lone
 * surrogate, a number with an exponent or a very long one, a string too
 * long for jsonb, a database not in UTF-8, or text that is not what the
 * reader promised) makes jsonb_from_checked_json() return false, and the
 * caller calls jsonb_in, which reports the error as it always has.
 *
 * src/fdw/jsonb_build.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "fdw/jsonb_build.h"

/* longest number given to numeric_in here (far from what it refuses) */
#define MAX_NUMBER_LEN	100

typedef struct JbText
{
	const char *p;
	const char *end;
} JbText;

static bool push_value(JbText *t, JsonbParseState **st, JsonbIteratorToken tok,
					   JsonbValue **res);

static inline void
skip_ws(JbText *t)
{
	while (t->p < t->end &&
		   (*t->p == ' ' || *t->p == '\n' || *t->p == '\t' || *t->p == '\r'))
		t->p++;
}

static inline int
hex4(const char *s)
{
	int			v = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * A string at t->p (its opening quote) into *v.  Without escapes the value
 * points into the text (valid until the jsonb datum is built).
 */
static bool
read_string(JbText *t, JsonbValue *v)
{
	const char *s = t->p + 1;
	const char *q = s;
	char	   *out;
	char	   *o;

	while (q < t->end && *q != '"' && *q != '\\')
		q++;
	if (q >= t->end)
		return false;
	if (*q == '"')
	{
		if ((size_t) (q - s) > JENTRY_OFFLENMASK)
			return false;
		v->type = jbvString;
		v->val.string.val = (char *) s;
		v->val.string.len = q - s;
		t->p = q + 1;
		return true;
	}

	/* escapes: unescaped text is never longer than the escaped */
	out = o = palloc(t->end - s);
	memcpy(o, s, q - s);
	o += q - s;
	while (q < t->end && *q != '"')
	{
		if (*q != '\\')
		{
			*o++ = *q++;
			continue;
		}
		if (q + 1 >= t->end)
			return false;
		switch (q[1])
		{
			case '"':
			case '\\':
			case '/':
				*o++ = q[1];
				q += 2;
				break;
			case 'b':
				*o++ = '\b';
				q += 2;
				break;
			case 'f':
				*o++ = '\f';
				q += 2;
				break;
			case 'n':
				*o++ = '\n';
				q += 2;
				break;
			case 'r':
				*o++ = '\r';
				q += 2;
				break;
			case 't':
				*o++ = '\t';
				q += 2;
				break;
			case 'u':
				{
					int			cp;

					if (t->end - q < 6 || (cp = hex4(q + 2)) < 0)
						return false;
					q += 6;
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						int			lo;

						if (t->end - q < 6 || q[0] != '\\' || q[1] != 'u' ||
							(lo = hex4(q + 2)) < 0 || lo < 0xDC00 || lo > 0xDFFF)
							return false;	/* jsonb_in's error */
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						q += 6;
					}
					else if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
						return false;	/* jsonb_in's error */
					o = (char *) unicode_to_utf8((pg_wchar) cp, (unsigned char *) o);
					o += pg_utf_mblen((unsigned char *) o);
					break;
				}
			default:
				return false;
		}
	}
	if (q >= t->end || (size_t) (o - out) > JENTRY_OFFLENMASK)
		return false;
	v->type = jbvString;
	v->val.string.val = out;
	v->val.string.len = o - out;
	t->p = q + 1;
	return true;
}

/*
 * A number: up to 18 digits, with or without a fraction, through int64
 * (int64_to_numeric, or int64_div_fast_to_numeric with the fraction's
 * length as the scale: the same value and display scale numeric_in makes),
 * others of ordinary length through numeric_in.
 */
static bool
read_number(JbText *t, JsonbValue *v)
{
	const char *s = t->p;
	const char *q = s;
	const char *dot = NULL;
	int			digits = 0;
	char		buf[MAX_NUMBER_LEN + 1];

	if (q < t->end && *q == '-')
		q++;
	while (q < t->end)
	{
		char		c = *q;

		if (c >= '0' && c <= '9')
			digits++;
		else if (c == '.' && dot == NULL)
			dot = q;
		else if (c == 'e' || c == 'E' || c == '+' || c == '-' || c == '.')
			return false;		/* exponents and oddities: numeric_in decides */
		else
			break;
		q++;
	}
	if (q == s || q - s > MAX_NUMBER_LEN)
		return false;

	v->type = jbvNumeric;
	if (digits > 0 && digits <= 18 &&
		(dot == NULL || (dot > s && dot[-1] != '-' && dot + 1 < q)))
	{
		int64		n = 0;
		bool		neg = (*s == '-');

		for (const char *d = neg ? s + 1 : s; d < q; d++)
			if (d != dot)
				n = n * 10 + (*d - '0');
		if (neg)
			n = -n;
		if (dot == NULL)
			v->val.numeric = int64_to_numeric(n);
		else
			v->val.numeric = int64_div_fast_to_numeric(n, (int) (q - dot - 1));
	}
	else
	{
		memcpy(buf, s, q - s);
		buf[q - s] = '\0';
		v->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
															 CStringGetDatum(buf),
															 ObjectIdGetDatum(InvalidOid),
															 Int32GetDatum(-1)));
	}
	t->p = q;
	return true;
}

static inline bool
read_literal(JbText *t, const char *lit, size_t len)
{
	if ((size_t) (t->end - t->p) < len || memcmp(t->p, lit, len) != 0)
		return false;
	t->p += len;
	return true;
}

/* One value pushed as tok (WJB_VALUE, WJB_ELEM), containers as their tokens. */
static bool
push_value(JbText *t, JsonbParseState **st, JsonbIteratorToken tok, JsonbValue **res)
{
	JsonbValue	v;

	skip_ws(t);
	if (t->p >= t->end)
		return false;
	switch (*t->p)
	{
		case '{':
			check_stack_depth();
			t->p++;
			*res = pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			skip_ws(t);
			if (t->p < t->end && *t->p == '}')
			{
				t->p++;
				*res = pushJsonbValue(st, WJB_END_OBJECT, NULL);
				return true;
			}
			for (;;)
			{
				skip_ws(t);
				if (t->p >= t->end || *t->p != '"' || !read_string(t, &v))
					return false;
				*res = pushJsonbValue(st, WJB_KEY, &v);
				skip_ws(t);
				if (t->p >= t->end || *t->p != ':')
					return false;
				t->p++;
				if (!push_value(t, st, WJB_VALUE, res))
					return false;
				skip_ws(t);
				if (t->p >= t->end)
					return false;
				if (*t->p == ',')
				{
					t->p++;
					continue;
				}
				if (*t->p != '}')
					return false;
				t->p++;
				*res = pushJsonbValue(st, WJB_END_OBJECT, NULL);
				return true;
			}
		case '[':
			check_stack_depth();
			t->p++;
			*res = pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
			skip_ws(t);
			if (t->p < t->end && *t->p == ']')
			{
				t->p++;
				*res = pushJsonbValue(st, WJB_END_ARRAY, NULL);
				return true;
			}
			for (;;)
			{
				if (!push_value(t, st, WJB_ELEM, res))
					return false;
				skip_ws(t);
				if (t->p >= t->end)
					return false;
				if (*t->p == ',')
				{
					t->p++;
					continue;
				}
				if (*t->p != ']')
					return false;
				t->p++;
				*res = pushJsonbValue(st, WJB_END_ARRAY, NULL);
				return true;
			}
		case '"':
			if (!read_string(t, &v))
				return false;
			break;
		case 't':
			if (!read_literal(t, "true", 4))
				return false;
			v.type = jbvBool;
			v.val.boolean = true;
			break;
		case 'f':
			if (!read_literal(t, "false", 5))
				return false;
			v.type = jbvBool;
			v.val.boolean = false;
			break;
		case 'n':
			if (!read_literal(t, "null", 4))
				return false;
			v.type = jbvNull;
			break;
		default:
			if (!read_number(t, &v))
				return false;
			break;
	}

	if (*st == NULL)
	{
		/* a scalar on its own: jsonb keeps it in a one-element raw array */
		JsonbValue	arr;

		arr.type = jbvArray;
		arr.val.array.rawScalar = true;
		arr.val.array.nElems = 1;
		pushJsonbValue(st, WJB_BEGIN_ARRAY, &arr);
		pushJsonbValue(st, WJB_ELEM, &v);
		*res = pushJsonbValue(st, WJB_END_ARRAY, NULL);
	}
	else
		*res = pushJsonbValue(st, tok, &v);
	return true;
}

bool
jsonb_from_checked_json(const char *s, size_t len, Datum *d)
{
	JbText		t;
	JsonbParseState *st = NULL;
	JsonbValue *res = NULL;

	if (GetDatabaseEncoding() != PG_UTF8)
		return false;
	t.p = s;
	t.end = s + len;
	if (!push_value(&t, &st, WJB_ELEM, &res))
		return false;
	skip_ws(&t);
	if (t.p != t.end || res == NULL)
		return false;
	*d = JsonbPGetDatum(JsonbValueToJsonb(res));
	return true;
}
