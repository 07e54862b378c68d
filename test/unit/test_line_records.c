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

int
main(void)
{
	size_t		hl;

	/* JSON */
	UNIT_CHECK(check(false, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", false, NULL),
			   "JSON lines");
	UNIT_CHECK(check(false, "{\"a\":1}\r\n\r\n  {\"a\":2}\r\n{\"a\":\"x\\ny\"}\n{\"a\":", false, NULL),
			   "CRLF, blank lines, leading blanks, an escaped newline, an incomplete last line");
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
