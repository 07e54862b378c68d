/*-------------------------------------------------------------------------
 *
 * json_string.cpp
 *	  The JSON reader's string unescaping: strings with escapes, copied
 *	  into the walker's string buffer with their escapes resolved.
 *
 * Only strings that have a backslash come here (a few in practice): the
 * walker takes strings without escapes in place (read_string in
 * json_walk.cpp), so this call is off the hot path.
 *
 * IDENTIFICATION
 *	  src/decode/json_string.cpp
 *
 *-------------------------------------------------------------------------
 */
#include "json_internal.hpp"

/* Four hex digits at s; a value above 0xFFFF when they are not. */
static inline uint32_t
hex4(const char *s)
{
	uint32_t	v = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = s[i];
		uint32_t	d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return 0x10000;
		v = v * 16 + d;
	}
	return v;
}

/*
 * Unescape the string whose text starts at s, whose first '"' or '\\' is
 * at q (a backslash: the common case without escapes never comes here),
 * into dst.  *end receives the closing quote.  Returns the byte after the
 * last one written, or NULL for an invalid escape.  The rules are
 * simdjson's: \uXXXX takes exactly four hex digits, a high surrogate must
 * be followed by an escaped low one, a lone low surrogate is an error.
 * The output is never longer than the input.
 */
char *
unescape_string(const char *s, const char *q, const char **end, char *dst, bool *has_nul)
{
	for (;;)
	{
		memcpy(dst, s, q - s);
		dst += q - s;
		if (*q == '"')
		{
			*end = q;
			return dst;
		}
		switch (q[1])
		{
			case '"':
			case '\\':
			case '/':
				*dst++ = q[1];
				s = q + 2;
				break;
			case 'b':
				*dst++ = '\b';
				s = q + 2;
				break;
			case 'f':
				*dst++ = '\f';
				s = q + 2;
				break;
			case 'n':
				*dst++ = '\n';
				s = q + 2;
				break;
			case 'r':
				*dst++ = '\r';
				s = q + 2;
				break;
			case 't':
				*dst++ = '\t';
				s = q + 2;
				break;
			case 'u':
				{
					uint32_t	cp = hex4(q + 2);

					s = q + 6;
					if (cp >= 0xD800 && cp < 0xDC00)
					{
						uint32_t	lo;

						if (s[0] != '\\' || s[1] != 'u')
							return NULL;
						lo = hex4(s + 2);
						if (lo < 0xDC00 || lo > 0xDFFF)
							return NULL;
						cp = (((cp - 0xD800) << 10) | (lo - 0xDC00)) + 0x10000;
						s += 6;
					}
					else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp > 0xFFFF)
						return NULL;

					if (cp < 0x80)
					{
						*dst++ = (char) cp;
						if (cp == 0)
							*has_nul = true;
					}
					else if (cp < 0x800)
					{
						*dst++ = (char) (0xC0 | (cp >> 6));
						*dst++ = (char) (0x80 | (cp & 0x3F));
					}
					else if (cp < 0x10000)
					{
						*dst++ = (char) (0xE0 | (cp >> 12));
						*dst++ = (char) (0x80 | ((cp >> 6) & 0x3F));
						*dst++ = (char) (0x80 | (cp & 0x3F));
					}
					else
					{
						*dst++ = (char) (0xF0 | (cp >> 18));
						*dst++ = (char) (0x80 | ((cp >> 12) & 0x3F));
						*dst++ = (char) (0x80 | ((cp >> 6) & 0x3F));
						*dst++ = (char) (0x80 | (cp & 0x3F));
					}
					break;
				}
			default:
				return NULL;
		}
		q = find_quote_or_backslash(s);
	}
}
