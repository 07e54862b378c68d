/*-------------------------------------------------------------------------
 *
 * test_csv_reader.c
 *	  Unit tests of the streaming CSV reader (csv_reader.c).
 *
 * Each input is run through a simulated caller and printed as a
 * transcript; the same input fed cut at every offset and in 1- and 2-byte
 * chunks must give the same transcript.
 *
 * IDENTIFICATION
 *	  test/unit/test_csv_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>

#include "unit.h"
#include "csv_reader.h"

typedef struct Str
{
	char	   *s;
	size_t		len;
	size_t		cap;
} Str;

static void
str_add(Str *s, const char *p, size_t n)
{
	if (s->len + n + 1 > s->cap)
	{
		s->cap = (s->len + n + 1) * 2;
		s->s = realloc(s->s, s->cap);
	}
	memcpy(s->s + s->len, p, n);
	s->len += n;
	s->s[s->len] = '\0';
}

static void
str_add_text(Str *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		if (p[i] == '\n')
			str_add(s, "\\n", 2);
		else if (p[i] == '\r')
			str_add(s, "\\r", 2);
		else
			str_add(s, p + i, 1);
	}
}

static char *
transcript(const char *input, size_t n, char delim, char quote, size_t first, size_t chunk)
{
	CsvReader  *r = csv_reader_create(delim, quote);
	Str			out = {0};
	char	   *buf = NULL;
	size_t		have = 0;
	size_t		given = 0;
	int			guard = 0;

	str_add(&out, "", 0);
	for (;;)
	{
		size_t		add = (given == 0 && first) ? first : (chunk ? chunk : n);
		bool		eof;
		CsvResult	rc;
		const CsvField *f;
		int			nf;

		if (add > n - given)
			add = n - given;
		buf = realloc(buf, have + add + 1);
		memcpy(buf + have, input + given, add);
		have += add;
		given += add;
		eof = (given == n);
		buf[have] = '"';		/* junk after the end must not be read */

		csv_reader_feed(r, buf, have, eof);
		while ((rc = csv_reader_next(r, &f, &nf)) != CSV_NEED_MORE)
		{
			if (++guard > 100000)
			{
				str_add(&out, "LOOP!", 5);
				goto done;
			}
			if (rc == CSV_RECORD)
			{
				char		num[16];

				snprintf(num, sizeof(num), "%d:", nf);
				str_add(&out, num, strlen(num));
				for (int i = 0; i < nf; i++)
				{
					str_add(&out, f[i].quoted ? "[\"" : "[", f[i].quoted ? 2 : 1);
					str_add_text(&out, f[i].str, f[i].len);
					str_add(&out, "]", 1);
				}
				str_add(&out, "\n", 1);
			}
			else if (rc == CSV_BAD_RECORD)
			{
				str_add(&out, "BAD(", 4);
				str_add(&out, csv_reader_error(r), strlen(csv_reader_error(r)));
				str_add(&out, ")\n", 2);
			}
			else if (rc == CSV_END)
			{
				str_add(&out, "END\n", 4);
				goto done;
			}
			else
			{
				str_add(&out, "FATAL\n", 6);
				goto done;
			}
		}
		if (eof)
		{
			str_add(&out, "NEED_MORE at eof!\n", 18);
			goto done;
		}
		{
			size_t		used = csv_reader_consumed(r);

			memmove(buf, buf + used, have - used);
			have -= used;
		}
	}
done:
	csv_reader_free(r);
	free(buf);
	return out.s;
}

static void
check(const char *name, const char *input, char delim, char quote, const char *want)
{
	size_t		n = strlen(input);
	char	   *t = transcript(input, n, delim, quote, 0, 0);
	size_t		bad_cut = 0;
	bool		chunks_ok = true;

	UNIT_CHECK_STR(t, want, "%s", name);
	for (size_t cut = 1; cut < n && !bad_cut; cut++)
	{
		char	   *c = transcript(input, n, delim, quote, cut, 0);

		if (strcmp(c, t) != 0)
		{
			bad_cut = cut;
			printf("# cut %zu:\n# %s", cut, c);
		}
		free(c);
	}
	UNIT_CHECK(bad_cut == 0, "%s: same at every cut point", name);
	for (size_t ch = 1; ch <= 3; ch++)
	{
		char	   *c = transcript(input, n, delim, quote, ch, ch);

		chunks_ok &= (strcmp(c, t) == 0);
		free(c);
	}
	UNIT_CHECK(chunks_ok, "%s: same in 1..3-byte chunks", name);
	free(t);
}

int
main(void)
{
	check("simple LF", "a,b,c\n1,2,3\n", ',', '"',
		  "3:[a][b][c]\n3:[1][2][3]\nEND\n");
	check("CRLF and last line without newline", "a,b\r\n1,2\r\nx,y", ',', '"',
		  "2:[a][b]\n2:[1][2]\n2:[x][y]\nEND\n");
	check("last line ends in CR only", "a,b\r", ',', '"', "2:[a][b]\nEND\n");
	check("quoted fields, doubled quotes, delimiters and newlines inside",
		  "\"a,1\",\"say \"\"hi\"\"\",\"two\r\nlines\"\n\"\"\"\"\"\",\"\",x\n", ',', '"',
		  "3:[\"a,1][\"say \"hi\"][\"two\\r\\nlines]\n3:[\"\"\"][\"][x]\nEND\n");
	check("empty fields: unquoted (NULL) versus quoted", ",\"\",\n", ',', '"',
		  "3:[][\"][]\nEND\n");
	check("field count varies", "a\nb,c,d\n\ne,f\n", ',', '"',
		  "1:[a]\n3:[b][c][d]\n1:[]\n2:[e][f]\nEND\n");
	check("other delimiter and quote", "a|'b|c'|'it''s'\n", '|', '\'',
		  "3:[a][\"b|c][\"it's]\nEND\n");
	check("tab-separated, no quoting", "a\t\"b\tc\n", '\t', '\0',
		  "3:[a][\"b][c]\nEND\n");
	check("quote inside an unquoted field is data", "ab\"c,d\n", ',', '"',
		  "2:[ab\"c][d]\nEND\n");
	check("character after closing quote: bad record, next line read",
		  "\"a\"x,b\n1,2\n\"q\"\r3\n4\n", ',', '"',
		  "BAD(unexpected character after closing quote)\n2:[1][2]\n"
		  "BAD(unexpected character after closing quote)\n1:[4]\nEND\n");
	check("unterminated quote at end of input", "a,b\n\"open,c\nd\n", ',', '"',
		  "2:[a][b]\nBAD(unterminated quoted field at end of input)\nEND\n");
	check("quoted field last without newline", "a,\"b\"", ',', '"', "2:[a][\"b]\nEND\n");
	check("UTF-8 and NUL bytes are data", "\xc3\xa9,\"\xe2\x82\xac\"\n", ',', '"',
		  "2:[\xc3\xa9][\"\xe2\x82\xac]\nEND\n");
	check("empty input", "", ',', '"', "END\n");
	check("only a newline", "\n", ',', '"', "1:[]\nEND\n");

	/* record offsets and consumed */
	{
		CsvReader  *r = csv_reader_create(',', '"');
		const CsvField *f;
		int			nf;
		const char *in = "a,b\nc,\"d";
		CsvResult	rc;

		csv_reader_feed(r, in, strlen(in), false);
		rc = csv_reader_next(r, &f, &nf);
		UNIT_CHECK(rc == CSV_RECORD && csv_reader_record_offset(r) == 0, "first record at 0");
		rc = csv_reader_next(r, &f, &nf);
		UNIT_CHECK(rc == CSV_NEED_MORE && csv_reader_consumed(r) == 4,
				   "partial record: NEED_MORE, consumed at its start");
		csv_reader_feed(r, "c,\"d\"\n", 6, true);
		rc = csv_reader_next(r, &f, &nf);
		UNIT_CHECK(rc == CSV_RECORD && nf == 2 && f[1].len == 1 && f[1].str[0] == 'd',
				   "completed after refill");
		rc = csv_reader_next(r, &f, &nf);
		UNIT_CHECK(rc == CSV_END, "END");
		csv_reader_free(r);
	}

	/* many fields: the field array grows */
	{
		Str			in = {0};
		char	   *t;

		for (int i = 0; i < 1000; i++)
			str_add(&in, i ? ",x" : "x", i ? 2 : 1);
		str_add(&in, "\n", 1);
		t = transcript(in.s, in.len, ',', '"', 0, 0);
		UNIT_CHECK(strncmp(t, "1000:[x][x]", 11) == 0, "1000 fields");
		free(t);
		free(in.s);
	}

	/* max_fields: the fields after it are parsed (the record ends right) but not kept */
	{
		const char *in = "a,\"b\"\"c\",\"d\"\"\"\"\",e\n\"x,y\",\"z\nz\",,\nlast\n";
		CsvReader  *r = csv_reader_create(',', '"');
		const CsvField *f;
		int			nf;

		csv_reader_set_max_fields(r, 2);
		csv_reader_feed(r, in, strlen(in), true);
		UNIT_CHECK(csv_reader_next(r, &f, &nf) == CSV_RECORD && nf == 2 &&
				   csv_reader_fields_seen(r) == 4 &&
				   f[0].len == 1 && f[0].str[0] == 'a' &&
				   f[1].len == 3 && memcmp(f[1].str, "b\"c", 3) == 0,
				   "max 2: two fields kept, four seen, doubled quote undone in a kept one");
		UNIT_CHECK(csv_reader_next(r, &f, &nf) == CSV_RECORD && nf == 2 &&
				   csv_reader_fields_seen(r) == 4 &&
				   f[0].len == 3 && memcmp(f[0].str, "x,y", 3) == 0 &&
				   f[1].len == 3 && memcmp(f[1].str, "z\nz", 3) == 0,
				   "max 2: a quoted newline, then fields not kept");
		UNIT_CHECK(csv_reader_next(r, &f, &nf) == CSV_RECORD && nf == 1 &&
				   csv_reader_fields_seen(r) == 1 && f[0].len == 4,
				   "max 2: a record with fewer fields has them all");
		UNIT_CHECK(csv_reader_next(r, &f, &nf) == CSV_END, "max 2: END");
		csv_reader_reset(r);
		csv_reader_set_max_fields(r, 0);
		csv_reader_feed(r, in, strlen(in), true);
		UNIT_CHECK(csv_reader_next(r, &f, &nf) == CSV_RECORD && nf == 0 &&
				   csv_reader_fields_seen(r) == 4, "max 0: no field kept, four seen");
		csv_reader_free(r);
	}

	/* a line of 4 million commas: nothing grows with it when 1 field is kept */
	{
		size_t		n = 4 * 1024 * 1024;
		char	   *in = malloc(n + 2);
		CsvReader  *r = csv_reader_create(',', '"');
		const CsvField *f;
		int			nf;

		memset(in, ',', n);
		in[n] = '\n';
		in[n + 1] = '\0';
		csv_reader_set_max_fields(r, 1);
		csv_reader_feed(r, in, n + 1, true);
		UNIT_CHECK(csv_reader_next(r, &f, &nf) == CSV_RECORD && nf == 1 &&
				   csv_reader_fields_seen(r) == (int64_t) n + 1,
				   "4M commas, max 1: one field kept, %zu seen", n + 1);
		UNIT_CHECK(csv_reader_field_bytes() > 0, "bytes per kept field: %zu", csv_reader_field_bytes());
		csv_reader_free(r);
		free(in);
	}
	return unit_done();
}
