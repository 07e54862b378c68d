/*-------------------------------------------------------------------------
 *
 * test_line_records.c
 *	  Unit tests of line_records_check: which samples hold one record per
 *	  line (and may be read in byte ranges), and which do not.
 *
 * IDENTIFICATION
 *	  test/unit/test_line_records.c
 *
 *-------------------------------------------------------------------------
 */
#include "decode/json_reader.h"
#include "decode/line_records.h"
#include "unit.h"

/* The check on a copy of "s" with the readers' padding after it. */
static bool
check(bool csv, const char *s, bool header, size_t *header_len)
{
	size_t		len = strlen(s);
	char	   *buf = malloc(len + JSON_READER_PADDING);
	size_t		dummy;
	bool		ok;

	memcpy(buf, s, len);
	memset(buf + len, ' ', JSON_READER_PADDING);
	ok = line_records_check(csv, buf, len, ',', '"', header, header_len ? header_len : &dummy);
	free(buf);
	return ok;
}

/*
 * An object read in two parts as a split scan reads it (rows.c, stream.c):
 * the second part from the first line start at or after the cut, the first
 * up to the first record that starts at or after the cut.  Every record
 * must be read once, and the parts must agree on the boundary, at every
 * cut, for every sample line_records_check accepts.  (Blanks before a
 * record made it belong to neither part: test/fuzz/fuzz_json_reader.)
 */
static void
parts_at_every_cut(const char *s, const char *name)
{
	size_t		len = strlen(s);
	char	   *buf = malloc(len + JSON_READER_PADDING);
	size_t		dummy;
	bool		all_ok = true;
	int			whole = 0;
	JsonReader *r = json_reader_create(NULL, 0);
	JsonValue	v[1];

	memcpy(buf, s, len);
	memset(buf + len, ' ', JSON_READER_PADDING);
	if (!line_records_check(false, buf, len, ',', '"', false, &dummy))
	{
		UNIT_CHECK(true, "%s: not to be split", name);
		json_reader_free(r);
		free(buf);
		return;
	}
	json_reader_feed(r, buf, len, true);
	while (json_reader_next(r, v) == JSON_RECORD)
		whole++;
	for (size_t cut = 1; cut < len; cut++)
	{
		const char *nl = memchr(buf + cut - 1, '\n', len - (cut - 1));
		size_t		start2 = nl ? (size_t) (nl - buf) + 1 : len;
		size_t		after1 = len;
		size_t		first2 = len;
		int			n1 = 0,
					n2 = 0;

		json_reader_reset(r);
		json_reader_feed(r, buf, len, true);
		while (json_reader_next(r, v) == JSON_RECORD)
		{
			if (json_reader_record_offset(r) >= cut)
			{
				after1 = json_reader_record_offset(r);
				break;
			}
			n1++;
		}
		json_reader_reset(r);
		json_reader_feed(r, buf + start2, len - start2, true);
		while (json_reader_next(r, v) == JSON_RECORD)
		{
			if (n2++ == 0)
				first2 = start2 + json_reader_record_offset(r);
		}
		if (n1 + n2 != whole || first2 != after1)
			all_ok = false;
	}
	UNIT_CHECK(all_ok, "%s: read in two parts, cut anywhere: every record once, the parts agree",
			   name);
	json_reader_free(r);
	free(buf);
}

static void
test_parts_at_every_cut(void)
{
	parts_at_every_cut("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", "JSON lines");
	parts_at_every_cut("{\"a\":1}\r\n\r\n \n{\"a\":\"}\\n{\"}\r\n{\"a\":3}",
					   "CRLF, blank lines, no final line end");
	parts_at_every_cut("      {\"a\":\"x\"}\n{\"a\":null}\n{\"b\":2}\n",
					   "blanks before the first record (the fuzzer's case)");
	parts_at_every_cut("{\"a\":1}\n\t{\"a\":2}\n{\"a\":3}\n", "a tab before a record");
}

/*
 * The offsets of the records and bad records of buf[from, len), read as a
 * part that stops at the first one at or after "cut" that starts a line
 * (line_records_starts_line; "any": at or after "cut", the rule before
 * it).  Returns how many were read; *stop: where the stopping one starts,
 * or len.
 */
static int
read_part(JsonReader *r, const char *buf, size_t len, size_t from, size_t cut, bool any,
		  size_t *offs, size_t *stop)
{
	JsonValue	v[1];
	JsonResult	rc;
	int			n = 0;

	*stop = len;
	json_reader_reset(r);
	json_reader_feed(r, buf + from, len - from, true);
	while ((rc = json_reader_next(r, v)) == JSON_RECORD || rc == JSON_BAD_RECORD)
	{
		size_t		off = from + (rc == JSON_RECORD ? json_reader_record_offset(r)
								  : json_reader_error(r)->record_offset);

		if (off >= cut && (any || line_records_starts_line(buf, off, true)))
		{
			*stop = off;
			break;
		}
		offs[n++] = off;
	}
	return n;
}

/*
 * An object with bad records, read in two parts at every cut: the records
 * and bad records are those of the whole read, each once, and the parts
 * agree on the boundary.  Returns whether they did at every cut.
 */
static bool
bad_parts_agree(const char *s, size_t len, bool any)
{
	char	   *buf = malloc(len + JSON_READER_PADDING);
	JsonReader *r = json_reader_create(NULL, 0);
	size_t		whole[64],
				part[128],
				stop;
	int			nwhole;
	bool		ok = true;

	memcpy(buf, s, len);
	memset(buf + len, ' ', JSON_READER_PADDING);
	nwhole = read_part(r, buf, len, 0, SIZE_MAX, false, whole, &stop);
	for (size_t cut = 1; cut < len && ok; cut++)
	{
		const char *nl = memchr(buf + cut - 1, '\n', len - (cut - 1));
		size_t		start2 = nl ? (size_t) (nl - buf) + 1 : len;
		size_t		after1,
					ignored;
		int			n1 = read_part(r, buf, len, 0, cut, any, part, &after1);
		int			n2 = read_part(r, buf, len, start2, SIZE_MAX, false, part + n1, &ignored);
		size_t		first2 = n2 > 0 ? part[n1] : len;

		if (n1 + n2 != nwhole || memcmp(part, whole, sizeof(size_t) * nwhole) != 0 ||
			first2 != after1)
			ok = false;
	}
	json_reader_free(r);
	free(buf);
	return ok;
}

static void
test_bad_records_in_parts(void)
{
	/* the fuzzer's input (test/fuzz/corpus/json_reader/split-junk-last-line) */
	static const char fuzz[] =
		"{\"a\":1,\"b\":[2,2]}\n{\"a(\":\"x\\u0000\xEF\xBB\xBF" "0000\xEF\xBB\xBF" "0000efalse0\","
		"\"c\":1.5e3}\n{@\0\0\0\"a\":null}J";
	static const char mid[] = "{\"a\":1}\n{\"a\":2}J\n{\"a\":3}\n";
	static const char pairs[] = "{\"a\":1}\n{\"a\":2}{\"a\":3}\n{\"a\":4}\n";
	static const char crlf[] = "{\"a\":1}\r\n{\"a\":2}\r\n\r\n{\"a\":3} x\r\n{\"a\":4}";

	UNIT_CHECK(line_records_starts_line("x\n  \r\t{", 5, false) &&
			   line_records_starts_line("  {", 2, true) && !line_records_starts_line("  {", 2, false) &&
			   !line_records_starts_line("{}J", 2, true) && line_records_starts_line("{", 0, true),
			   "starts a line: after a line end and blanks, or at the start when before says so");
	UNIT_CHECK(bad_parts_agree(fuzz, sizeof(fuzz) - 1, false),
			   "junk after a record on the last line, no line end: the parts read it as a whole read does");
	UNIT_CHECK(!bad_parts_agree(fuzz, sizeof(fuzz) - 1, true),
			   "(stopping at any record after the cut, the parts disagree on it)");
	UNIT_CHECK(bad_parts_agree(mid, sizeof(mid) - 1, false) &&
			   !bad_parts_agree(mid, sizeof(mid) - 1, true),
			   "junk after a record in the middle: the part before the line end reads it");
	UNIT_CHECK(bad_parts_agree(pairs, sizeof(pairs) - 1, false),
			   "two records on a line: the part in which the line starts reads both");
	UNIT_CHECK(bad_parts_agree(crlf, sizeof(crlf) - 1, false),
			   "CRLF, blank lines, junk after a record, no final line end");
}

int
main(void)
{
	size_t		hl;

	/* JSON */
	UNIT_CHECK(check(false, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", false, NULL),
			   "JSON lines");
	UNIT_CHECK(check(false, "{\"a\":1}\r\n\r\n  \t\n{\"a\":2}\r\n{\"a\":\"x\\ny\"}\n{\"a\":", false, NULL),
			   "CRLF, blank lines, an escaped newline, an incomplete last line");
	UNIT_CHECK(!check(false, "{\"a\":1}\n  {\"a\":2}\n{\"a\":3}\n", false, NULL),
			   "a record after blanks on its line (a cut in the blanks would lose it)");
	test_parts_at_every_cut();
	test_bad_records_in_parts();
	UNIT_CHECK(check(false, "\xEF\xBB\xBF{\"a\":1}\n{\"a\":2}\n", false, NULL),
			   "a byte order mark before the first record");
	UNIT_CHECK(!check(false, "{\"a\":1}\n", false, NULL), "one record is too few to tell");
	UNIT_CHECK(!check(false, "{\"a\":1}{\"a\":2}\n{\"a\":3}\n", false, NULL),
			   "two records on one line");
	UNIT_CHECK(!check(false, "{\n  \"a\": 1\n}\n{\n  \"a\": 2\n}\n", false, NULL),
			   "pretty-printed records");
	UNIT_CHECK(!check(false, "{\"a\":1}\n{\"a\":2,\n\"b\":3}\n{\"a\":4}\n", false, NULL),
			   "one record over two lines among others");
	UNIT_CHECK(!check(false, "[\n{\"a\":1},\n{\"a\":2}\n]\n", false, NULL), "a top-level array");
	UNIT_CHECK(!check(false, "{\"a\":1}\n{\"a\":2} x\n{\"a\":3}\n", false, NULL),
			   "garbage after a record");
	UNIT_CHECK(!check(false, "{\"a\":1}{\"a\":2}{\"a\":3}", false, NULL), "no line end at all");

	/* CSV */
	UNIT_CHECK(check(true, "a,b\n1,2\n3,4\n", true, &hl) && hl == 4, "CSV with a header: its length");
	UNIT_CHECK(check(true, "1,2\n\"x,y\",4\n5,\"\"\"q\"\"\"\n", false, &hl) && hl == 0,
			   "CSV without a header, quoted fields on one line");
	UNIT_CHECK(!check(true, "a,b\n1,\"two\nlines\"\n3,4\n", true, &hl),
			   "a quoted field over a line end");
	UNIT_CHECK(!check(true, "a,b\n1,2\n", true, &hl), "a header and one record is too few");

	return unit_done();
}
