/*-------------------------------------------------------------------------
 *
 * import_csv.c
 *	  IMPORT FOREIGN SCHEMA of CSV objects (format 'csv'): the columns a
 *	  sample of CSV records calls for.
 *
 * With header 'true' (the default, as Athena writes CSV) the first line of
 * each object names the columns: the first object's header makes them,
 * and an object whose header differs is not sampled (a scan maps columns
 * by name per object, but one table cannot have two layouts).  With
 * header 'false' or 'skip' columns are by position, named c1, c2, ... (a
 * name from a skipped header line would suggest a mapping by name that
 * the scan does not make).  Types come from the text of the fields
 * (decode/infer.c: numbers, booleans, ISO-8601 times; leading zeros stay
 * text); an unquoted field equal to the null string is NULL.
 *
 * IDENTIFICATION
 *	  src/fdw/import_csv.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "decode/csv_reader.h"
#include "fdw/import_csv.h"

/* Free the reader if anything below raises an error. */
static void
free_csv_reader(void *arg)
{
	csv_reader_free((CsvReader *) arg);
}

/* The fields of a record, each followed by a 0 byte (to compare headers). */
static void
join_fields(StringInfo out, const CsvField *f, int n)
{
	for (int i = 0; i < n; i++)
	{
		appendBinaryStringInfo(out, f[i].str, f[i].len);
		appendStringInfoChar(out, '\0');
	}
}

bool
import_sample_csv(const char *data, size_t len, bool whole, Infer *inf, int *left,
				  const ImportCsv *csv, StringInfo first_header)
{
	CsvReader  *cr = csv_reader_create(csv->delimiter, csv->quote);
	MemoryContextCallback *cb;
	bool		by_name = strcmp(csv->header, "true") == 0;
	bool		has_header = by_name || strcmp(csv->header, "skip") == 0;
	bool		first_line = true;
	bool		first_object = first_header->len == 0;
	bool		sampled = true;
	bool		need_width = first_object && !by_name;	/* c1..cn: from the first row */

	if (cr == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	cb = palloc(sizeof(MemoryContextCallback));
	cb->func = free_csv_reader;
	cb->arg = cr;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);

	csv_reader_feed(cr, data, len, whole);
	while (*left > 0)
	{
		const CsvField *f;
		int			n;
		CsvResult	rc = csv_reader_next(cr, &f, &n);
		const char **names;
		size_t	   *lens;
		bool	   *quoted;

		if (rc == CSV_BAD_RECORD)
			continue;
		if (rc != CSV_RECORD)
			break;
		if (first_line)
		{
			first_line = false;
			if (first_object)
			{
				StringInfoData h;

				/* the layout: the first object's header, or its width */
				initStringInfo(&h);
				join_fields(&h, f, n);
				appendBinaryStringInfo(first_header, h.data, h.len);
				if (first_header->len == 0)
					appendStringInfoChar(first_header, '\0');
				if (by_name)
				{
					names = palloc(sizeof(char *) * Max(n, 1));
					lens = palloc(sizeof(size_t) * Max(n, 1));
					for (int i = 0; i < n; i++)
					{
						names[i] = f[i].str;
						lens[i] = f[i].len;
					}
					infer_csv_header(inf, names, lens, n);
				}
			}
			else if (by_name)
			{
				StringInfoData h;

				initStringInfo(&h);
				join_fields(&h, f, n);
				if (h.len != first_header->len || memcmp(h.data, first_header->data, h.len) != 0)
				{
					sampled = false;
					break;
				}
			}
			if (has_header)
				continue;
		}
		if (need_width)
		{
			/* positional columns: as many as the first row has fields */
			infer_csv_header(inf, NULL, NULL, n);
			need_width = false;
		}
		names = palloc(sizeof(char *) * Max(n, 1));
		lens = palloc(sizeof(size_t) * Max(n, 1));
		quoted = palloc(sizeof(bool) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			names[i] = f[i].str;
			lens[i] = f[i].len;
			quoted[i] = f[i].quoted;
		}
		infer_csv_record(inf, names, lens, quoted, n, csv->null_string);
		pfree(names);
		pfree(lens);
		pfree(quoted);
		(*left)--;
	}
	return sampled;
}
