/*-------------------------------------------------------------------------
 *
 * estimate.c
 *	  What planning knows of a pipeline_s3 table without listing all of it
 *	  or reading any of it.
 *
 * Planning lists one page (at most 1,000 keys) of the table's prefix,
 * which the execution of the same statement then starts from.  If the
 * prefix holds no more, the objects and bytes are exact.  If it does, the
 * figures come from what this session saw of the whole prefix (the last
 * complete listing of a scan, or ANALYZE's), else from ANALYZE's bytes
 * (relpages), else the first page is taken as a tenth of the prefix.
 *
 * Rows per byte come from ANALYZE (relpages and reltuples: the caller
 * uses those), else from what the last scan of the table in this session
 * read, else from the first 64 kB of one object, read once per session
 * and table: gzip JSON of small records can hold 20 records per 100
 * bytes, plain JSON one, so no constant fits all tables.
 *
 * IDENTIFICATION
 *	  src/fdw/estimate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "decode/csv_reader.h"
#include "decode/inflate.h"
#include "decode/json_reader.h"
#include "fdw/fdw.h"

/* A truncated first page with nothing else known: the prefix holds this many times more. */
#define UNKNOWN_PREFIX_FACTOR	10.0

/* Bytes read to measure rows per byte. */
#define SAMPLE_BYTES	(64 * 1024)

/* What this session knows of one table. */
typedef struct RelStats
{
	Oid			relid;			/* hash key */
	char	   *listed;			/* "bucket/prefix" of the listing figures, or NULL */
	double		objects;
	double		bytes;
	double		bytes_per_row;	/* <= 0: unknown */
} RelStats;

static HTAB *rel_stats = NULL;

static RelStats *
stats_entry(Oid relid, bool create)
{
	bool		found;
	RelStats   *rs;

	if (rel_stats == NULL)
	{
		HASHCTL		ctl;

		if (!create)
			return NULL;
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(RelStats);
		ctl.hcxt = TopMemoryContext;
		rel_stats = hash_create("pipeline_s3 table statistics", 64, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	rs = hash_search(rel_stats, &relid, create ? HASH_ENTER : HASH_FIND, &found);
	if (rs && !found)
	{
		rs->listed = NULL;
		rs->objects = rs->bytes = 0;
		rs->bytes_per_row = 0;
	}
	return rs;
}

/*
 * fdw_stats_remember_listing: a complete listing of bucket/prefix found so
 * many objects and bytes.
 */
void
fdw_stats_remember_listing(Oid relid, const char *bucket, const char *prefix,
						  double objects, double bytes)
{
	RelStats   *rs = stats_entry(relid, true);

	if (rs->listed)
		pfree(rs->listed);
	rs->listed = MemoryContextStrdup(TopMemoryContext, psprintf("%s/%s", bucket, prefix));
	rs->objects = objects;
	rs->bytes = bytes;
}

/* fdw_stats_remember_rows: a scan read so many rows from so many bytes. */
void
fdw_stats_remember_rows(Oid relid, double bytes, double rows)
{
	RelStats   *rs = stats_entry(relid, true);

	rs->bytes_per_row = bytes / Max(rows, 1.0);
}

/*
 * fdw_estimate: objects and bytes under bucket/prefix, from the first page
 * of the listing and what else is known.  "analyzed_bytes": ANALYZE's
 * (relpages), 0 if none.
 */
void
fdw_estimate(Oid relid, AwsClient *client, const FdwTableOptions *opts, const char *prefix,
			FdwEstimate *est, double analyzed_bytes)
{
	S3ListPage *head = fdw_listing_head(relid, client, opts->bucket, prefix);
	RelStats   *rs = stats_entry(relid, false);
	double		objects = list_length(head->objects);
	double		bytes = 0;
	ListCell   *lc;

	foreach(lc, head->objects)
		bytes += Max(((S3Object *) lfirst(lc))->size, 0);
	est->bytes_per_row = rs ? rs->bytes_per_row : 0;
	est->complete = head->next_token == NULL;
	if (est->complete)
	{
		est->objects = objects;
		est->bytes = bytes;
		fdw_stats_remember_listing(relid, opts->bucket, prefix, objects, bytes);
	}
	else if (rs && rs->listed &&
			 strcmp(rs->listed, psprintf("%s/%s", opts->bucket, prefix)) == 0)
	{
		est->objects = Max(rs->objects, objects);
		est->bytes = Max(rs->bytes, bytes);
	}
	else if (analyzed_bytes > bytes)
	{
		est->bytes = analyzed_bytes;
		est->objects = bytes > 0 ? objects * analyzed_bytes / bytes : objects;
	}
	else
	{
		est->objects = objects * UNKNOWN_PREFIX_FACTOR;
		est->bytes = bytes * UNKNOWN_PREFIX_FACTOR;
	}
	/* shard 'k/n': one share of them */
	if (opts->shard_n > 1)
	{
		est->objects /= opts->shard_n;
		est->bytes /= opts->shard_n;
	}
}

/*
 * Records in [buf, len): complete ones only, unless at_eof; *covered is
 * the length of the bytes they take.
 */
static double
count_records(const FdwTableOptions *opts, const char *buf, size_t len, bool at_eof,
			  size_t *covered)
{
	double		n = 0;

	*covered = len;
	if (opts->format == FDW_FORMAT_JSON)
	{
		JsonReader *r = json_reader_create(NULL, 0);
		JsonValue	v[1];
		JsonResult	rc;

		if (r == NULL)
			return 0;
		json_reader_feed(r, buf, len, at_eof);
		while ((rc = json_reader_next(r, v)) == JSON_RECORD || rc == JSON_BAD_RECORD)
			n++;
		if (rc == JSON_NEED_MORE)
			*covered = json_reader_consumed(r);
		json_reader_free(r);
	}
	else
	{
		CsvReader  *r = csv_reader_create(opts->delimiter, opts->quote);
		const CsvField *f;
		int			nf;
		CsvResult	rc;

		if (r == NULL)
			return 0;
		csv_reader_set_max_fields(r, 1);
		csv_reader_feed(r, buf, len, at_eof);
		while ((rc = csv_reader_next(r, &f, &nf)) == CSV_RECORD || rc == CSV_BAD_RECORD)
			n++;
		if (rc == CSV_NEED_MORE)
			*covered = csv_reader_consumed(r);
		csv_reader_free(r);
		if ((opts->header || opts->header_skip) && n > 0)
			n--;
	}
	return n;
}

/*
 * fdw_estimate_bytes_per_row: compressed bytes per record of the table:
 * what this session learnt, else measured on the first 64 kB of "sample"
 * (an object of the table), once.  0 if it cannot be told.
 */
double
fdw_estimate_bytes_per_row(Oid relid, AwsClient *client, const FdwTableOptions *opts,
						  const S3Object *sample)
{
	RelStats   *rs = stats_entry(relid, false);
	MemoryContext cxt;
	MemoryContext old;
	S3Get	   *g;
	char	   *comp;
	size_t		clen = 0;
	double		records = 0;
	double		used = 0;
	Inflater   *volatile z = NULL;

	if (rs && rs->bytes_per_row > 0)
		return rs->bytes_per_row;
	if (sample == NULL)
		return 0;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline_s3 estimate",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	comp = palloc(SAMPLE_BYTES + JSON_READER_PADDING);
	g = s3_get_start_range(client, sample, 0, SAMPLE_BYTES, SAMPLE_BYTES);
	if (s3_get_open(g, true))
	{
		size_t		n;
		bool		whole;

		while (clen < SAMPLE_BYTES && (n = s3_get_read(g, comp + clen, SAMPLE_BYTES - clen)) > 0)
			clen += n;
		whole = sample->size >= 0 && (int64) clen >= sample->size;
		if (opts->compression == FDW_COMPRESSION_GZIP ||
			(opts->compression == FDW_COMPRESSION_AUTO && inflate_is_gzip(comp, clen)))
		{
			size_t		cap = 32 * SAMPLE_BYTES;
			char	   *data = palloc(cap + JSON_READER_PADDING);
			const uint8_t *in = (const uint8_t *) comp;
			size_t		inlen = clen;
			size_t		out = 0;

			PG_TRY();
			{
				z = inflater_create(INFLATE_IMPL_AUTO);
				if (z != NULL)
				{
					InflateResult r = INFLATE_OK;
					size_t		covered;

					while (r == INFLATE_OK && out < cap && inlen > 0)
					{
						size_t		got = 0;

						r = inflater_run(z, &in, &inlen, whole, (uint8_t *) data + out,
										 cap - out, &got);
						out += got;
						if (got == 0 && r == INFLATE_OK)
							break;
					}
					records = count_records(opts, data, out, whole && r == INFLATE_END, &covered);
					/* the compressed bytes of the records counted, in proportion */
					used = (double) (clen - inlen) * (out > 0 ? (double) covered / out : 1.0);
				}
			}
			PG_FINALLY();
			{
				if (z)
					inflater_free(z);
			}
			PG_END_TRY();
		}
		else
		{
			size_t		covered;

			records = count_records(opts, comp, clen, whole, &covered);
			used = (double) (records > 0 ? covered : clen);
		}
	}
	s3_get_close(g);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);

	if (used <= 0)
		return 0;
	/* no record ended in the sample: records are at least that large */
	rs = stats_entry(relid, true);
	rs->bytes_per_row = used / Max(records, 1.0);
	return rs->bytes_per_row;
}
