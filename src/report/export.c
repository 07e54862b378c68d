/*-------------------------------------------------------------------------
 *
 * export.c
 *	  Query results -> S3 objects: newline-delimited JSON (one object per
 *	  row), CSV with a header, or an SVG chart; gzip or plain.
 *
 * Rows are fetched through a cursor and written as they come: compressed
 * into a part buffer, uploaded as a part of a multipart upload whenever the
 * buffer is full, so memory stays flat in the size of the result.  A
 * result that fits in one part is sent with a single PUT.  If anything
 * fails, the multipart upload is aborted: no partial object is left behind.
 * An empty result writes no object unless asked to: an empty file would
 * wake the next tier for nothing.
 *
 * IDENTIFICATION
 *	  src/report/export.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <zlib.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "report/chart.h"
#include "report/export.h"
#include "report/outbox.h"
#include "s3/credentials.h"
#include "s3/s3.h"
#include "util/progress.h"
#include "util/settings.h"

/* S3's rules: parts of at least 5 MiB (but the last), at most 10,000. */
#define PART_MIN		(8 * 1024 * 1024)
#define MAX_PARTS		10000

static Oid	find_export_server(const char *name);

typedef struct Writer
{
	AwsClient  *client;
	char	   *bucket;
	char	   *key;
	const char *content_type;
	bool		gzip;
	z_stream	z;
	bool		z_live;
	StringInfoData part;		/* compressed bytes not uploaded yet */
	size_t		part_size;
	MemoryContext cxt;			/* what lasts as long as the writer */
	Oid			serverid;
	char	   *upload_id;
	List	   *etags;
	int64		bytes;			/* bytes written to S3 */
	MemoryContextCallback cleanup;
} Writer;

static void
writer_cleanup(void *arg)
{
	Writer	   *w = (Writer *) arg;

	if (w->z_live)
		deflateEnd(&w->z);
	w->z_live = false;
}

/* Upload the part buffer as the next part of the multipart upload. */
static void
flush_part(Writer *w)
{
	char	   *etag;
	MemoryContext old;

	/* the requests' memory is the caller's (a batch's); what stays is the writer's */
	if (w->upload_id == NULL)
	{
		char	   *id = s3_multipart_create(w->client, w->bucket, w->key, w->content_type);

		w->upload_id = MemoryContextStrdup(w->cxt, id);
		/* aborted if this (sub)transaction rolls back */
		outbox_staged(w->serverid, GetUserId(), w->bucket, w->key, w->upload_id);
	}
	if (list_length(w->etags) >= MAX_PARTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("export to \"%s\" needs more than %d parts",
						s3_make_uri(w->bucket, w->key), MAX_PARTS)));
	etag = s3_multipart_upload_part(w->client, w->bucket, w->key, w->upload_id,
									list_length(w->etags) + 1, w->part.data, w->part.len);
	old = MemoryContextSwitchTo(w->cxt);
	w->etags = lappend(w->etags, pstrdup(etag));
	MemoryContextSwitchTo(old);
	w->bytes += w->part.len;
	resetStringInfo(&w->part);
	/* grow the parts as they add up, so that 10,000 of them reach terabytes */
	if (list_length(w->etags) % 1000 == 0)
		w->part_size *= 2;
}

/* Append output bytes (compressing if asked); upload full parts. */
static void
writer_write(Writer *w, const char *data, size_t len, bool finish)
{
	if (!w->gzip)
	{
		appendBinaryStringInfo(&w->part, data, (int) len);
	}
	else
	{
		w->z.next_in = (Bytef *) data;
		w->z.avail_in = (uInt) len;
		for (;;)
		{
			int			rc;

			enlargeStringInfo(&w->part, 64 * 1024);
			w->z.next_out = (Bytef *) w->part.data + w->part.len;
			w->z.avail_out = (uInt) (w->part.maxlen - w->part.len - 1);
			rc = deflate(&w->z, finish ? Z_FINISH : Z_NO_FLUSH);
			w->part.len = (char *) w->z.next_out - w->part.data;
			if (rc == Z_STREAM_ERROR)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("could not compress the export")));
			if (finish ? rc == Z_STREAM_END : (w->z.avail_in == 0 && w->z.avail_out > 0))
				break;
			if (w->part.len >= w->part_size && !finish)
				flush_part(w);
		}
	}
	if (!finish && w->part.len >= w->part_size)
		flush_part(w);
}

/* A CSV field, quoted when it has to be (as COPY ... CSV does). */
static void
csv_field(StringInfo buf, const char *s)
{
	const char *p;

	if (s == NULL)
		return;
	if (s[0] != '\0' && strpbrk(s, ",\"\r\n") == NULL)
	{
		appendStringInfoString(buf, s);
		return;
	}
	appendStringInfoChar(buf, '"');
	for (p = s; *p; p++)
	{
		if (*p == '"')
			appendStringInfoChar(buf, '"');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * The pipeline_s3 server whose endpoint and credentials an export uses: the
 * one named, else pipeline.default_server, else the only one there is.  The
 * current user must have USAGE on it (a user mapping FOR PUBLIC does not
 * make a server anyone's to write with).
 */
Oid
export_server(const char *name)
{
	Oid			serverid = find_export_server(name);
	AclResult	acl = pg_foreign_server_aclcheck(serverid, GetUserId(), ACL_USAGE);

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FOREIGN_SERVER, GetForeignServer(serverid)->servername);
	return serverid;
}

/*
 * A pipeline_s3 server: the one named (an error if it is another wrapper's),
 * or with name NULL the only one there is; InvalidOid, with *nservers
 * saying how many there are, when there is not exactly one.
 */
Oid
pipeline_s3_server(const char *name, int *nservers)
{
	Oid			fdw = get_foreign_data_wrapper_oid("pipeline_s3", false);
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			found = InvalidOid;
	int			n = 0;

	*nservers = 1;
	if (name)
	{
		ForeignServer *fs = GetForeignServerByName(name, false);

		if (fs->fdwid != fdw)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("server \"%s\" is not a pipeline_s3 server", name)));
		return fs->serverid;
	}
	rel = table_open(ForeignServerRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		Form_pg_foreign_server srv = (Form_pg_foreign_server) GETSTRUCT(tup);

		if (srv->srvfdw == fdw)
		{
			found = srv->oid;
			n++;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	*nservers = n;
	return n == 1 ? found : InvalidOid;
}

static Oid
find_export_server(const char *name)
{
	Oid			found;
	int			n;

	if (name == NULL && pipeline_default_server && pipeline_default_server[0])
		name = pipeline_default_server;
	found = pipeline_s3_server(name, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg(n == 0 ? "there is no pipeline_s3 server to export with"
						: "there are %d pipeline_s3 servers: which one should the export use?", n),
				 errhint("Name one with server => '...', or set pipeline.default_server.")));
	return found;
}

static const char *
format_content_type(ExportFormat format)
{
	switch (format)
	{
		case EXPORT_JSON:
			return "application/x-ndjson";
		case EXPORT_CSV:
			return "text/csv";
		case EXPORT_SVG:
			return "image/svg+xml";
	}
	return "application/octet-stream";
}

/*
 * export_query: run "query" (as the current user) and stage its result as
 * a multipart upload to "uri", which the caller hands to the outbox: the
 * object appears only when the worker completes the upload, after the
 * transaction commits.  Returns rows and bytes; uri NULL if nothing was
 * staged (an empty result, unless allow_empty).
 */
ExportResult
export_query(const char *query, const char *uri, ExportFormat format, bool gzip,
			 Oid serverid, bool allow_empty, const ChartOptions *chart)
{
	ExportResult result;
	AwsConfig	cfg;
	Writer	   *w = palloc0(sizeof(Writer));
	StringInfoData row;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext batch_cxt;
	int			level;
	int64		reported = 0;	/* bytes told to progress */

	memset(&result, 0, sizeof(result));
	aws_server_config(serverid, GetUserId(), &cfg);
	w->client = aws_client_create(&cfg, cxt);
	w->cxt = cxt;
	w->serverid = serverid;
	s3_parse_uri(uri, &w->bucket, &w->key);
	if (w->key[0] == '\0' || w->key[strlen(w->key) - 1] == '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an export needs an object key, not a prefix: \"%s\"", uri)));
	w->content_type = format_content_type(format);
	w->gzip = gzip;
	w->part_size = PART_MIN;
	initStringInfo(&w->part);
	initStringInfo(&row);
	if (gzip)
	{
		if (deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
						 Z_DEFAULT_STRATEGY) != Z_OK)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not start compressing the export")));
		w->z_live = true;
		w->cleanup.func = writer_cleanup;
		w->cleanup.arg = w;
		MemoryContextRegisterResetCallback(cxt, &w->cleanup);
	}
	/* what one batch of rows needs while it is formatted; reset per batch */
	batch_cxt = AllocSetContextCreate(cxt, "pipeline export batch", ALLOCSET_DEFAULT_SIZES);

	/*
	 * See what this transaction wrote so far (a report exports the table its
	 * run just filled), then read through that one snapshot.
	 */
	CommandCounterIncrement();
	PushCopiedSnapshot(GetActiveSnapshot());
	UpdateActiveSnapshotCommandId();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	level = progress_start(PROGRESS_EXPORT, uri);
	PG_TRY();
	{
		if (format == EXPORT_SVG)
		{
			ChartOptions defaults;
			char	   *svg;

			chart_options_init(&defaults);
			svg = chart_svg(query, chart ? chart : &defaults);

			result.rows = 1;
			writer_write(w, svg, strlen(svg), false);
		}
		else
		{
			char	   *sql = format == EXPORT_JSON
				? psprintf("SELECT row_to_json(q)::text FROM (%s\n) q", query)
				: pstrdup(query);
			SPIPlanPtr	plan = SPI_prepare_cursor(sql, 0, NULL, CURSOR_OPT_NO_SCROLL);
			Portal		portal;
			bool		header = format == EXPORT_CSV;

			if (plan == NULL)
				elog(ERROR, "SPI_prepare_cursor failed: %s", SPI_result_code_string(SPI_result));
			portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
			for (;;)
			{
				uint64		i;
				MemoryContext old;

				SPI_cursor_fetch(portal, true, 1000);
				if (SPI_processed == 0)
					break;
				old = MemoryContextSwitchTo(batch_cxt);
				for (i = 0; i < SPI_processed; i++)
				{
					HeapTuple	tup = SPI_tuptable->vals[i];
					TupleDesc	td = SPI_tuptable->tupdesc;
					int			c;

					resetStringInfo(&row);
					if (header)
					{
						for (c = 1; c <= td->natts; c++)
						{
							if (c > 1)
								appendStringInfoChar(&row, ',');
							csv_field(&row, SPI_fname(td, c));
						}
						appendStringInfoChar(&row, '\n');
						header = false;
					}
					for (c = 1; c <= td->natts; c++)
					{
						char	   *v = SPI_getvalue(tup, td, c);

						if (format == EXPORT_JSON)
							appendStringInfoString(&row, v);
						else
						{
							if (c > 1)
								appendStringInfoChar(&row, ',');
							csv_field(&row, v);
						}
					}
					appendStringInfoChar(&row, '\n');
					writer_write(w, row.data, row.len, false);
					result.rows++;
				}
				MemoryContextSwitchTo(old);
				MemoryContextReset(batch_cxt);
				progress_add(0, w->bytes - reported, SPI_processed, 0);
				reported = w->bytes;
				SPI_freetuptable(SPI_tuptable);
			}
			SPI_cursor_close(portal);
		}

		if (result.rows > 0 || allow_empty)
		{
			if (w->gzip)
				writer_write(w, NULL, 0, true);
			/* the last part: what is left, or the only one */
			if (w->part.len > 0 || w->upload_id == NULL)
				flush_part(w);
			/* SPI_finish frees what was allocated after SPI_connect */
			result.uri = MemoryContextStrdup(cxt, uri);
			result.bucket = MemoryContextStrdup(cxt, w->bucket);
			result.key = MemoryContextStrdup(cxt, w->key);
			result.upload_id = MemoryContextStrdup(cxt, w->upload_id);
			{
				MemoryContext old = MemoryContextSwitchTo(cxt);
				ListCell   *lc;

				foreach(lc, w->etags)
					result.etags = lappend(result.etags, pstrdup(lfirst(lc)));
				MemoryContextSwitchTo(old);
			}
		}
		else if (w->upload_id)
		{
			/* cannot happen (parts only come from rows), but never leave one */
			s3_multipart_abort(w->client, w->bucket, w->key, w->upload_id);
			w->upload_id = NULL;
		}
	}
	PG_CATCH();
	{
		/* no half-written upload: abort it, then fail */
		if (w->upload_id)
		{
			char	   *id = w->upload_id;

			w->upload_id = NULL;
			PG_TRY();
			{
				s3_multipart_abort(w->client, w->bucket, w->key, id);
			}
			PG_CATCH();
			{
				/* S3 expires abandoned uploads by lifecycle rules; report the first error */
				FlushErrorState();
			}
			PG_END_TRY();
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	progress_add(0, w->bytes - reported, 0, 0);
	progress_end(level);
	SPI_finish();
	PopActiveSnapshot();
	MemoryContextDelete(batch_cxt);
	result.bytes = w->bytes;
	aws_client_destroy(w->client);
	return result;
}

ExportFormat
export_format_from_name(const char *name)
{
	if (strcmp(name, "json") == 0)
		return EXPORT_JSON;
	if (strcmp(name, "csv") == 0)
		return EXPORT_CSV;
	if (strcmp(name, "svg") == 0)
		return EXPORT_SVG;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid export format \"%s\"", name),
			 errhint("Valid formats are: json, csv, svg.")));
	return EXPORT_JSON;			/* keep the compiler quiet */
}

PG_FUNCTION_INFO_V1(pipeline_export);

/*
 * pipeline.export(query, uri, format, compression, server, allow_empty)
 *	  -> (uri, rows, bytes)
 */
Datum
pipeline_export(PG_FUNCTION_ARGS)
{
	char	   *query;
	char	   *uri;
	char	   *format = PG_ARGISNULL(2) ? "json" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *compression = PG_ARGISNULL(3) ? "gzip" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *server = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	bool		allow_empty = PG_ARGISNULL(5) ? false : PG_GETARG_BOOL(5);
	ExportResult r;
	Oid			serverid;
	TupleDesc	td;
	Datum		values[3];
	bool		nulls[3] = {0};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the query and the uri of an export must not be null")));
	query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	uri = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strcmp(compression, "gzip") != 0 && strcmp(compression, "none") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid compression \"%s\"", compression),
				 errhint("Valid values are: gzip, none.")));

	serverid = export_server(server);
	r = export_query(query, uri, export_format_from_name(format),
					 strcmp(compression, "gzip") == 0, serverid, allow_empty, NULL);
	if (r.uri)
		outbox_add_export(&r, serverid, GetUserId(), 0, NULL);

	if (get_call_result_type(fcinfo, NULL, &td) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (r.uri)
		values[0] = CStringGetTextDatum(r.uri);
	else
		nulls[0] = true;
	values[1] = Int64GetDatum(r.rows);
	values[2] = Int64GetDatum(r.bytes);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(td), values, nulls)));
}
