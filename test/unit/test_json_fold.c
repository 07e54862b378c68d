/*-------------------------------------------------------------------------
 *
 * test_json_fold.c
 *	  Unit tests of the JSON reader's case-insensitive keys
 *	  (json_reader_create_folded, the table option case_insensitive).
 *
 * Each case reads one small input with the requested fields and prints
 * what every field got per record ("-" for a missing key), so that the
 * folded reader and the exact one can be compared on the same input:
 * keys in any case, nested dotted paths, escaped keys, keys that differ
 * only in case in one record (the first one counts), non-ASCII letters
 * (not folded), records whose keys change case from one to the next (the
 * shape cache must not keep a stale edge), and the exact reader, which
 * must still tell "UserId" from "userid".
 *
 * IDENTIFICATION
 *	  test/unit/test_json_fold.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>

#include "json_reader.h"
#include "unit.h"

/* "v1|v2;v1|v2;" : each record's field values, "-" for a missing key */
static char *
read_all(const char *input, const char *const *paths, int nfields, bool fold)
{
	JsonField	fields[8];
	JsonValue	values[8];
	JsonReader *r;
	size_t		n = strlen(input);
	char	   *buf = calloc(1, n + JSON_READER_PADDING);
	static char out[4096];
	size_t		o = 0;
	JsonResult	rc;

	for (int i = 0; i < nfields; i++)
	{
		fields[i].path = paths[i];
		fields[i].want = JSON_WANT_ANY;
		fields[i].want_elements = false;
	}
	r = fold ? json_reader_create_folded(fields, nfields) : json_reader_create(fields, nfields);
	if (r == NULL)
		return "create failed";
	memcpy(buf, input, n);
	json_reader_feed(r, buf, n, true);
	out[0] = '\0';
	while ((rc = json_reader_next(r, values)) != JSON_END)
	{
		if (rc == JSON_BAD_RECORD)
		{
			o += snprintf(out + o, sizeof(out) - o, "BAD;");
			continue;
		}
		if (rc != JSON_RECORD)
		{
			o += snprintf(out + o, sizeof(out) - o, "rc=%d;", (int) rc);
			break;
		}
		for (int i = 0; i < nfields; i++)
		{
			if (values[i].kind == JSON_MISSING)
				o += snprintf(out + o, sizeof(out) - o, "%s-", i ? "|" : "");
			else
				o += snprintf(out + o, sizeof(out) - o, "%s%.*s", i ? "|" : "",
							  (int) values[i].len, values[i].str);
		}
		o += snprintf(out + o, sizeof(out) - o, ";");
	}
	json_reader_free(r);
	free(buf);
	return out;
}

int
main(void)
{
	{
		const char *p[] = {"userid", "Event"};
		const char *in = "{\"UserId\":\"u1\",\"EVENT\":\"e1\"}\n"
			"{\"userid\":\"u2\",\"event\":\"e2\"}\n"
			"{\"USERID\":3,\"eVeNt\":\"e3\"}\n";

		UNIT_CHECK_STR(read_all(in, p, 2, true), "u1|e1;u2|e2;3|e3;",
					   "folded: keys in any case match a column's lower-case or mixed-case name");
		UNIT_CHECK_STR(read_all(in, p, 2, false), "-|-;u2|-;-|-;",
					   "exact: only the key written as requested matches");
	}
	{
		const char *p[] = {"loc.lat", "Loc.Lon", "loc"};
		const char *in = "{\"Loc\":{\"LAT\":1.5,\"lon\":2.5}}\n"
			"{\"LOC\":{\"Lat\":3,\"LON\":4}}\n";

		UNIT_CHECK_STR(read_all(in, p, 3, true),
					   "1.5|2.5|{\"LAT\":1.5,\"lon\":2.5};3|4|{\"Lat\":3,\"LON\":4};",
					   "folded: every segment of a dotted path, and the parent object whole");
		UNIT_CHECK_STR(read_all(in, p, 3, false), "-|-|-;-|-|-;",
					   "exact: nested keys in another case are missing");
	}
	{
		const char *p[] = {"userid"};

		UNIT_CHECK_STR(read_all("{\"UserId\":\"first\",\"userid\":\"second\"}\n"
								"{\"userid\":\"first\",\"USERID\":\"second\"}\n", p, 1, true),
					   "first;first;",
					   "folded: keys that differ only in case are duplicates, the first counts");
		UNIT_CHECK_STR(read_all("{\"UserId\":\"first\",\"userid\":\"second\"}\n", p, 1, false),
					   "second;",
					   "exact: the other spelling is another key");
	}
	{
		const char *p[] = {"userid", "x"};

		UNIT_CHECK_STR(read_all("{\"Us\\u0065rId\":\"esc\",\"X\":1}\n"
								"{\"\\u0055SERID\":\"esc2\",\"x\":2}\n", p, 2, true),
					   "esc|1;esc2|2;",
					   "folded: escaped keys are unescaped, then folded (an escape as the first byte too)");
	}
	{
		const char *p[] = {"stra\xc3\x9f" "e", "\xc3\xa9t\xc3\xa9"};

		UNIT_CHECK_STR(read_all("{\"STRA\xc3\x9f" "E\":\"s\",\"\xc3\x89T\xc3\x89\":\"upper\"}\n"
								"{\"\xc3\xa9T\xc3\xa9\":\"lower\"}\n", p, 2, true),
					   "s|-;-|lower;",
					   "folded: ASCII letters fold, other characters compare as they are");
	}
	{
		const char *p[] = {"a", "b"};
		const char *in = "{\"a\":1,\"b\":2}\n{\"A\":3,\"B\":4}\n{\"a\":5,\"B\":6}\n"
			"{\"c\":0,\"a\":7}\n{\"a\":8,\"b\":9}\n";

		UNIT_CHECK_STR(read_all(in, p, 2, true), "1|2;3|4;5|6;7|-;8|9;",
					   "folded: records whose keys change case or position (the shape cache)");
		UNIT_CHECK_STR(read_all(in, p, 2, false), "1|2;-|-;5|-;7|-;8|9;",
					   "exact: the same records");
	}
	{
		const char *p[] = {"Id", "ID", "id"};

		UNIT_CHECK_STR(read_all("{\"iD\":1}\n", p, 3, true), "1|1|1;",
					   "folded: fields that differ only in case are one path");
		UNIT_CHECK_STR(read_all("{\"iD\":1,\"ID\":2,\"id\":3,\"Id\":4}\n", p, 3, false), "4|2|3;",
					   "exact: three paths");
	}
	{
		const char *p[] = {"zz"};

		/* keys that start like a wanted one in the other case, but are not it */
		UNIT_CHECK_STR(read_all("{\"Zy\":1,\"ZZZ\":2,\"Z\":3}\n{\"zZ\":4}\n", p, 1, true), "-;4;",
					   "folded: a key that only starts like a wanted one does not match");
	}
	return unit_done();
}
