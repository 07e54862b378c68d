/*-------------------------------------------------------------------------
 *
 * fuzz.h
 *	  What the libFuzzer harnesses share: CHECK (a failed property is a
 *	  crash, with the condition printed), a growable byte string for
 *	  transcripts, and a reader of the option bytes that start an input.
 *
 * IDENTIFICATION
 *	  test/fuzz/fuzz.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_FUZZ_H
#define PIPELINE_FUZZ_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noreturn, unused)) static void
fuzz_fail(const char *file, int line, const char *cond)
{
	fprintf(stderr, "\n%s:%d: property failed: %s\n", file, line, cond);
	abort();
}

#define CHECK(cond) do { if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond); } while (0)

/* A growable byte string (NUL-terminated, may hold NULs). */
typedef struct Str
{
	char	   *s;
	size_t		len;
	size_t		cap;
} Str;

__attribute__((unused)) static void
str_add(Str *s, const void *p, size_t n)
{
	if (s->len + n + 1 > s->cap)
	{
		s->cap = (s->len + n + 1) * 2;
		s->s = realloc(s->s, s->cap);
		CHECK(s->s != NULL);
	}
	if (n)
		memcpy(s->s + s->len, p, n);
	s->len += n;
	s->s[s->len] = '\0';
}

__attribute__((unused, format(printf, 2, 3))) static void
str_addf(Str *s, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	CHECK(n >= 0);
	str_add(s, NULL, 0);		/* s->s exists */
	if (s->len + (size_t) n + 1 > s->cap)
	{
		s->cap = (s->len + (size_t) n + 1) * 2;
		s->s = realloc(s->s, s->cap);
		CHECK(s->s != NULL);
	}
	va_start(ap, fmt);
	vsnprintf(s->s + s->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	s->len += (size_t) n;
}

/* A string literal, without its NUL. */
#define str_lit(s, lit) str_add((s), (lit), sizeof(lit) - 1)

/* Bytes as readable text: printable ASCII as is, the rest as \xNN. */
__attribute__((unused)) static void
str_add_text(Str *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) p[i];

		if (c < 0x20 || c == '\\' || c >= 0x7f)
			str_addf(s, "\\x%02x", c);
		else
			str_add(s, &c, 1);
	}
}

__attribute__((unused)) static void
str_free(Str *s)
{
	free(s->s);
	memset(s, 0, sizeof(*s));
}

/*
 * The option bytes at the start of an input.  Taking past the end gives
 * zeros, so that every input, however short, is a valid one.
 */
typedef struct FuzzIn
{
	const uint8_t *p;
	size_t		len;
} FuzzIn;

__attribute__((unused)) static uint8_t
take_u8(FuzzIn *in)
{
	uint8_t		v = 0;

	if (in->len > 0)
	{
		v = in->p[0];
		in->p++;
		in->len--;
	}
	return v;
}

__attribute__((unused)) static uint16_t
take_u16(FuzzIn *in)
{
	uint16_t	hi = take_u8(in);

	return (uint16_t) (hi << 8 | take_u8(in));
}

/* A malloc'd copy of exactly n bytes (no NUL after them: ASan sees reads past). */
__attribute__((unused)) static char *
exact_copy(const void *p, size_t n)
{
	char	   *c = malloc(n ? n : 1);

	CHECK(c != NULL);
	if (n)
		memcpy(c, p, n);
	return c;
}

#endif							/* PIPELINE_FUZZ_H */
