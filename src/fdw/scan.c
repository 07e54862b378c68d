/*-------------------------------------------------------------------------
 *
 * scan.c
 *	  Executing a pipeline_s3 foreign scan: objects -> bytes -> records ->
 *	  rows.
 *
 * For each object: a streamed GET (s3.c) feeds a fixed-size compressed
 * buffer; gzip is inflated (decode/inflate.c) into the data buffer; the
 * record reader (decode/json_reader.cpp or csv_reader.c) cuts records and
 * extracts just the fields the query uses; convert.c makes Datums.  The
 * data buffer keeps the incomplete record at its end and moves it to the
 * front before the next fill, so memory stays flat whatever the object
 * size (it only grows for a single record larger than the buffer).
 *
 * While one object is decoded the next ones are already being fetched
 * (several GETs in flight on one curl multi handle, each paused when its
 * buffer is full).
 *
 * IDENTIFICATION
 *	  src/fdw/scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "access/parallel.h"
#include "commands/vacuum.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "nodes/nodeFuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sampling.h"
#include "utils/timestamp.h"

#include "decode/csv_reader.h"
#include "decode/inflate.h"
#include "decode/json_reader.h"
#include "fdw/fdw.h"
#include "pipeline.h"
#include "report/report.h"
#include "s3/credentials.h"

/* GUCs */
int			pipeline_read_buffer_kb = 256;
int			pipeline_prefetch = 2;
int			pipeline_max_record_mb = 256;

#define COMP_BUFFER_SIZE	(256 * 1024)
#define MAX_PREFETCH		16

typedef struct S3ScanState
{
	Oid			relid;
	char	   *relname;
	S3TableOptions opts;
	MemoryContext cxt;			/* everything of this scan */
	MemoryContextCallback cleanup;
	S3Client   *client;

	/* columns */
	int			natts;
	S3Meta	   *meta;			/* per attribute */
	ColumnConv *conv;			/* per attribute */
	int		   *field;			/* per attribute: index into values, -1: not read */
	char	  **field_name;		/* per attribute: JSON path or CSV header name */
	bool		need_line;

	/* JSON */
	JsonField  *jfields;
	int			nfields;
	JsonValue  *jvalues;
	JsonReader *jr;

	/* CSV */
	CsvReader  *cr;
	int		   *csv_pos;		/* per field: position in the record */
	int			csv_need;		/* fields a record must have: the last
								 * position used, plus one */
	int			csv_header_max; /* header fields kept at most */
	bool		header_pending;

	/* parallel scan: objects are claimed from shared memory */
	struct S3Parallel *pstate;

	/* which objects */
	int			filter_kind;
	ExprState  *filter;
	ExprState  *partition_qual; /* on partition columns only, or NULL */
	TupleTableSlot *partition_slot;
	uint64		objects_pruned;
	char	   *like_prefix;
	List	   *objects;		/* of S3Object */
	bool		objects_ready;
	int			next_prefetch;	/* next to claim (not parallel) */
	S3Get	   *prefetched[MAX_PREFETCH];
	int			nprefetched;

	/* the object being read */
	S3Get	   *get;
	S3Object	obj;
	char	   *uri;
	Datum		uri_datum;
	Datum		key_datum;
	bool		gzip;
	bool		sniffed;
	bool		get_eof;		/* S3 body ended */
	bool		src_eof;		/* decoded stream ended */
	Inflater   *z;
	char	   *comp;
	size_t		comp_pos;
	size_t		comp_len;
	char	   *data;			/* JSON_READER_PADDING bytes of slack */
	size_t		data_cap;
	size_t		data_len;
	int64		record_no;
	int64		line_no;		/* line number at data[line_pos] */
	size_t		line_pos;
	int64		line_start;		/* offset of that line's start (may be < 0) */

	/* statistics, for EXPLAIN ANALYZE */
	uint64		objects_read;
	uint64		bytes_read;
	uint64		bytes_decoded;
	uint64		records;
	uint64		rejected;
	/* all participants' counters of a parallel scan, copied at shutdown */
	uint64		shared_objects_read;
	uint64		shared_bytes_read;
	uint64		shared_bytes_decoded;
	uint64		shared_records;
} S3ScanState;

static void scan_cleanup(void *arg);
static bool partition_matches(S3ScanState *st, const S3Object *o, ExprContext *econtext);

/* ----------------------------------------------------------------
 *		Setting up
 * ----------------------------------------------------------------
 */

/*
 * What the decoders may take besides the data buffer, counted against
 * pipeline.max_record_size: their memory is malloc'd, outside
 * PostgreSQL's accounting, and would otherwise grow with what a record
 * holds rather than with its size (a 64 MB record of 32 million array
 * elements took 2.5 GB; a line of 32 million commas 1.5 GB).
 *	- JSON: the array elements decoded per record (a JsonValue each);
 *	- CSV: the fields kept per record: only those a column reads (the
 *	  first csv_need), and for a header, which is matched by name, as
 *	  many as the budget holds.
 */
static void
decoder_limits(S3ScanState *st)
{
	size_t		budget = (size_t) pipeline_max_record_mb * 1024 * 1024;

	if (st->jr)
		json_reader_set_max_elements(st->jr, budget / sizeof(JsonValue));
	if (st->cr)
	{
		st->csv_header_max = st->nfields == 0 ? 0 :
			(int) Min(budget / csv_reader_field_bytes(), (size_t) INT_MAX - 1);
		/* without a header, columns are the first fields, in order */
		st->csv_need = st->opts.header ? 0 : st->nfields;
		csv_reader_set_max_fields(st->cr, st->csv_need);
	}
}

static int
add_json_field(S3ScanState *st, const char *path, const ColumnConv *cc)
{
	int			i;
	bool		elements;
	JsonWant	want = conv_json_want(cc, &elements);

	for (i = 0; i < st->nfields; i++)
		if (strcmp(st->jfields[i].path, path) == 0 &&
			st->jfields[i].want == want && st->jfields[i].want_elements == elements)
			return i;
	st->jfields[st->nfields].path = pstrdup(path);
	st->jfields[st->nfields].want = want;
	st->jfields[st->nfields].want_elements = elements;
	return st->nfields++;
}

/*
 * scan_create: the state of a scan of "rel" as "userid", reading the
 * columns in "attrs" (attribute numbers; NIL: all of them).  Used by the
 * executor's scans and by ANALYZE's sampling.
 */
static S3ScanState *
scan_create(Relation rel, Oid userid, List *attrs, MemoryContext parent)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	S3ScanState *st;
	S3Config	cfg;
	MemoryContext old;
	int			i;

	st = MemoryContextAllocZero(parent, sizeof(S3ScanState));
	st->cxt = AllocSetContextCreate(parent, "pipeline_s3 scan", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(st->cxt);

	st->relid = RelationGetRelid(rel);
	st->relname = pstrdup(RelationGetRelationName(rel));
	s3_table_options(st->relid, &st->opts);
	s3_server_config(GetForeignTable(st->relid)->serverid, userid, &cfg);
	st->client = s3_client_create(&cfg, st->cxt);

	/* columns */
	st->natts = tupdesc->natts;
	st->meta = palloc0(sizeof(S3Meta) * st->natts);
	st->conv = palloc0(sizeof(ColumnConv) * st->natts);
	st->field = palloc(sizeof(int) * st->natts);
	st->field_name = palloc0(sizeof(char *) * st->natts);
	st->jfields = palloc0(sizeof(JsonField) * Max(st->natts, 1));
	for (i = 0; i < st->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		char	   *path;
		bool		needed = attrs == NIL || list_member_int(attrs, att->attnum);

		st->field[i] = -1;
		if (att->attisdropped)
			continue;
		st->meta[i] = s3_column_meta(st->relid, att->attnum, &path);
		st->field_name[i] = path ? path : pstrdup(NameStr(att->attname));
		conv_init(&st->conv[i], att->atttypid, att->atttypmod, st->opts.skip_errors);
		if (st->meta[i] == S3_META_LINE && needed)
			st->need_line = true;
		if (st->meta[i] != S3_META_NONE || !needed)
			continue;
		if (st->opts.format == S3_FORMAT_JSON)
			st->field[i] = add_json_field(st, st->field_name[i], &st->conv[i]);
		else
			st->field[i] = st->nfields++;
	}

	if (st->opts.format == S3_FORMAT_JSON)
	{
		st->jvalues = palloc0(sizeof(JsonValue) * Max(st->nfields, 1));
		st->jr = json_reader_create(st->jfields, st->nfields);
	}
	else
	{
		st->cr = csv_reader_create(st->opts.delimiter, st->opts.quote);
		st->csv_pos = palloc(sizeof(int) * Max(st->nfields, 1));
	}
	st->z = inflater_create(INFLATE_IMPL_AUTO);
	st->cleanup.func = scan_cleanup;
	st->cleanup.arg = st;
	MemoryContextRegisterResetCallback(st->cxt, &st->cleanup);
	if ((st->opts.format == S3_FORMAT_JSON && st->jr == NULL) ||
		(st->opts.format == S3_FORMAT_CSV && st->cr == NULL) || st->z == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory for the decoders of \"%s\"", st->relname)));
	decoder_limits(st);

	st->comp = palloc(COMP_BUFFER_SIZE);
	st->data_cap = (size_t) pipeline_read_buffer_kb * 1024;
	st->data = palloc(st->data_cap + JSON_READER_PADDING);
	MemoryContextSwitchTo(old);
	return st;
}

void
s3BeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	S3ScanState *st;
	RangeTblEntry *rte;
	Oid			userid;
	List	   *attrs = (List *) lfirst(list_nth_cell(plan->fdw_private, 4));
	List	   *exprs = plan->fdw_exprs;
	MemoryContext old;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	rte = exec_rt_fetch(plan->scan.scanrelid, estate);
	userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	if (list_length(attrs) == 1 && linitial_int(attrs) == -1)
		attrs = NIL;			/* a whole-row reference: every column */
	else if (attrs == NIL)
		attrs = list_make1_int(0);	/* no column at all (count(*)) */
	st = scan_create(node->ss.ss_currentRelation, userid, attrs, estate->es_query_cxt);
	node->fdw_state = st;

	old = MemoryContextSwitchTo(st->cxt);
	st->filter_kind = intVal(linitial(plan->fdw_private));
	st->like_prefix = strVal(lsecond(plan->fdw_private));
	if (st->like_prefix[0] == '\0')
		st->like_prefix = NULL;
	if (st->filter_kind != S3_FILTER_NONE)
	{
		st->filter = ExecInitExpr(linitial(exprs), (PlanState *) node);
		exprs = list_delete_first(list_copy(exprs));
	}
	/* the rest are quals on partition columns: they decide which objects to read */
	if (exprs != NIL)
	{
		st->partition_qual = ExecInitQual(exprs, (PlanState *) node);
		st->partition_slot = MakeSingleTupleTableSlot(RelationGetDescr(node->ss.ss_currentRelation),
													  &TTSOpsVirtual);
	}
	MemoryContextSwitchTo(old);
}

/* Free what the decoders malloc'd, also when the scan ends in an error. */
static void
scan_cleanup(void *arg)
{
	S3ScanState *st = (S3ScanState *) arg;

	if (st->jr)
		json_reader_free(st->jr);
	if (st->cr)
		csv_reader_free(st->cr);
	if (st->z)
		inflater_free(st->z);
	st->jr = NULL;
	st->cr = NULL;
	st->z = NULL;
}

/*
 * Parallel scans: the leader decides which objects to read (the listing,
 * or the filter's objects) and puts them in the DSM segment; every
 * participant, leader included, claims the next object with an atomic
 * counter, so each object is read by exactly one process.  Counters for
 * EXPLAIN ANALYZE are summed there too.
 */
typedef struct S3Parallel
{
	pg_atomic_uint32 next;		/* next object to claim */
	uint32		nobjects;
	pg_atomic_uint64 objects_read;
	pg_atomic_uint64 bytes_read;
	pg_atomic_uint64 bytes_decoded;
	pg_atomic_uint64 records;
	Size		datalen;
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* serialized objects */
} S3Parallel;

/* size, last_modified, key length, key, etag length, etag */
static Size
objects_serialized_size(List *objects)
{
	Size		n = 0;
	ListCell   *lc;

	foreach(lc, objects)
	{
		S3Object   *o = lfirst(lc);

		n += 2 * sizeof(int64) + 2 * sizeof(uint32) + strlen(o->key) +
			(o->etag ? strlen(o->etag) : 0);
	}
	return n;
}

static void
put_bytes(char **p, const void *src, size_t len)
{
	memcpy(*p, src, len);
	*p += len;
}

static void
objects_serialize(List *objects, char *p)
{
	ListCell   *lc;

	foreach(lc, objects)
	{
		S3Object   *o = lfirst(lc);
		uint32		klen = strlen(o->key);
		uint32		elen = o->etag ? strlen(o->etag) : 0;
		int64		lm = o->last_modified;

		put_bytes(&p, &o->size, sizeof(int64));
		put_bytes(&p, &lm, sizeof(int64));
		put_bytes(&p, &klen, sizeof(uint32));
		put_bytes(&p, o->key, klen);
		put_bytes(&p, &elen, sizeof(uint32));
		put_bytes(&p, o->etag ? o->etag : "", elen);
	}
}

static List *
objects_deserialize(const char *p, uint32 n, const char *bucket)
{
	List	   *result = NIL;
	uint32		i;

	for (i = 0; i < n; i++)
	{
		S3Object   *o = palloc0(sizeof(S3Object));
		uint32		klen;
		uint32		elen;
		int64		lm;

		o->bucket = (char *) bucket;
		memcpy(&o->size, p, sizeof(int64));
		p += sizeof(int64);
		memcpy(&lm, p, sizeof(int64));
		o->last_modified = lm;
		p += sizeof(int64);
		memcpy(&klen, p, sizeof(uint32));
		p += sizeof(uint32);
		o->key = pnstrdup(p, klen);
		p += klen;
		memcpy(&elen, p, sizeof(uint32));
		p += sizeof(uint32);
		o->etag = elen ? pnstrdup(p, elen) : NULL;
		p += elen;
		result = lappend(result, o);
	}
	return result;
}

/*
 * The value of Hive-style partition "name" in a key: the "name=value"
 * directory in ".../dt=2026-11-25/hour=10/file.json.gz" (percent-decoded,
 * as Hive writes special characters).  NULL if the key has none.
 */
static char *
partition_value(const char *key, const char *name)
{
	size_t		nlen = strlen(name);
	const char *seg = key;
	const char *last = strrchr(key, '/');

	while (last && seg < last)
	{
		const char *end = strchr(seg, '/');

		if ((size_t) (end - seg) > nlen && seg[nlen] == '=' && strncmp(seg, name, nlen) == 0)
		{
			StringInfoData buf;
			const char *p;

			initStringInfo(&buf);
			for (p = seg + nlen + 1; p < end; p++)
			{
				if (*p == '%' && p + 2 < end && isxdigit((unsigned char) p[1]) &&
					isxdigit((unsigned char) p[2]))
				{
					char		hex[3] = {p[1], p[2], 0};

					appendStringInfoChar(&buf, (char) strtol(hex, NULL, 16));
					p += 2;
				}
				else
					appendStringInfoChar(&buf, *p);
			}
			return buf.data;
		}
		seg = end + 1;
	}
	return NULL;
}

/* The Datum of partition column i for object key "key". */
static Datum
partition_datum(S3ScanState *st, int i, const char *key, bool *isnull)
{
	char	   *v = partition_value(key, st->field_name[i]);
	Datum		d;
	ConvError	err;

	*isnull = v == NULL;
	if (v == NULL)
		return (Datum) 0;
	if (!conv_text(&st->conv[i], v, strlen(v), &d, &err))
		ereport(ERROR,
				(errcode(err.sqlerrcode),
				 errmsg("invalid value for partition column \"%s\" in key \"%s\"",
						st->field_name[i], key),
				 errdetail("%s.", err.message)));
	return d;
}

/* Can object "o" hold rows, judging by its partition values alone? */
static bool
partition_matches(S3ScanState *st, const S3Object *o, ExprContext *econtext)
{
	TupleTableSlot *slot = st->partition_slot;
	MemoryContext old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	bool		result;
	int			i;

	ExecClearTuple(slot);
	for (i = 0; i < st->natts; i++)
	{
		slot->tts_isnull[i] = true;
		slot->tts_values[i] = (Datum) 0;
		if (st->meta[i] == S3_META_PARTITION)
			slot->tts_values[i] = partition_datum(st, i, o->key, &slot->tts_isnull[i]);
	}
	ExecStoreVirtualTuple(slot);
	econtext->ecxt_scantuple = slot;
	result = ExecQual(st->partition_qual, econtext);
	MemoryContextSwitchTo(old);
	ResetExprContext(econtext);
	return result;
}

/*
 * Decide which objects to read: the ones a filter names, or the listing.
 */
static void
prepare_objects(S3ScanState *st, ExprContext *econtext)
{
	MemoryContext old = MemoryContextSwitchTo(st->cxt);

	st->objects = NIL;
	if (st->filter_kind != S3_FILTER_NONE)
	{
		bool		isnull;
		Datum		d = ExecEvalExpr(st->filter, econtext, &isnull);
		Oid			type = exprType((Node *) st->filter->expr);
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			i;
		List	   *keys = NIL;
		ListCell   *lc;

		if (isnull)
			n = 0;
		else if (type_is_array(type))
		{
			deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &n);
		}
		else
		{
			elems = &d;
			nulls = &isnull;
			n = 1;
		}
		for (i = 0; i < n; i++)
		{
			char	   *v;
			char	   *key;

			if (nulls[i])
				continue;
			v = TextDatumGetCString(elems[i]);
			if (st->filter_kind == S3_FILTER_URIS)
			{
				char	   *bucket;

				if (pg_strncasecmp(v, "s3://", 5) != 0)
					continue;	/* cannot be one of ours */
				s3_parse_uri(v, &bucket, &key);
				if (strcmp(bucket, st->opts.bucket) != 0)
					continue;
			}
			else
				key = v;
			/* only objects of this table */
			if (st->opts.is_prefix ? strncmp(key, st->opts.key, strlen(st->opts.key)) != 0
				: strcmp(key, st->opts.key) != 0)
				continue;
			if (key[0] == '\0')
				continue;
			keys = lappend(keys, key);
		}
		list_sort(keys, (list_sort_comparator) pg_qsort_strcmp);
		foreach(lc, keys)
		{
			S3Object   *o;

			if (foreach_current_index(lc) > 0 &&
				strcmp(lfirst(lc), list_nth(keys, foreach_current_index(lc) - 1)) == 0)
				continue;		/* src = ANY('{a,a}') reads a once */
			o = palloc0(sizeof(S3Object));
			o->bucket = st->opts.bucket;
			o->key = lfirst(lc);
			o->size = -1;
			st->objects = lappend(st->objects, o);
		}
	}
	else if (st->opts.is_prefix)
	{
		char	   *prefix = s3_effective_prefix(&st->opts, st->like_prefix);

		if (prefix != NULL)
			st->objects = list_copy(s3_cached_listing(st->relid, st->client,
													  st->opts.bucket, prefix));
	}
	else
	{
		S3Object   *o = palloc0(sizeof(S3Object));

		o->bucket = st->opts.bucket;
		o->key = st->opts.key;
		o->size = -1;
		st->objects = list_make1(o);
	}
	/* partition pruning: objects whose partition values cannot match */
	if (st->partition_qual)
	{
		List	   *kept = NIL;
		ListCell   *lc;

		foreach(lc, st->objects)
		{
			if (partition_matches(st, lfirst(lc), econtext))
				kept = lappend(kept, lfirst(lc));
			else
				st->objects_pruned++;
		}
		st->objects = kept;
	}
	st->next_prefetch = 0;
	st->objects_ready = true;
	MemoryContextSwitchTo(old);
}

/* The next object this process reads, or NULL when none is left. */
static S3Object *
claim_object(S3ScanState *st)
{
	uint32		i;

	if (st->pstate)
		i = pg_atomic_fetch_add_u32(&st->pstate->next, 1);
	else
		i = st->next_prefetch++;
	if (i >= (uint32) list_length(st->objects))
		return NULL;
	return list_nth(st->objects, i);
}

/*
 * Keep pipeline.prefetch GETs in flight besides the one being read: while
 * one object is decoded, the next ones are already on their way.
 */
static void
top_up_prefetch(S3ScanState *st, int depth)
{
	depth = Min(depth, MAX_PREFETCH);
	while (st->nprefetched < depth)
	{
		S3Object   *o = claim_object(st);
		MemoryContext old;

		if (o == NULL)
			break;
		old = MemoryContextSwitchTo(st->cxt);
		st->prefetched[st->nprefetched++] =
			s3_get_start(st->client, o->bucket, o->key, COMP_BUFFER_SIZE * 4);
		MemoryContextSwitchTo(old);
	}
}

/* Reset the decoders for a new object. */
static void
start_object(S3ScanState *st)
{
	const S3Object *o = s3_get_object(st->get);
	MemoryContext old = MemoryContextSwitchTo(st->cxt);

	st->obj = *o;
	st->uri = s3_make_uri(o->bucket, o->key);
	st->uri_datum = CStringGetTextDatum(st->uri);
	st->key_datum = CStringGetTextDatum(o->key);
	MemoryContextSwitchTo(old);

	st->sniffed = false;
	st->gzip = false;
	st->get_eof = false;
	st->src_eof = false;
	st->comp_pos = st->comp_len = 0;
	st->data_len = 0;
	st->record_no = 0;
	st->line_no = 1;
	st->line_pos = 0;
	st->line_start = 0;
	st->header_pending = st->opts.format == S3_FORMAT_CSV && st->opts.header;
	inflater_reset(st->z);
	if (st->jr)
	{
		json_reader_reset(st->jr);
		json_reader_feed(st->jr, st->data, 0, false);
	}
	if (st->cr)
	{
		csv_reader_reset(st->cr);
		/* each object's header says where the columns are */
		if (st->header_pending)
			csv_reader_set_max_fields(st->cr, st->csv_header_max);
		csv_reader_feed(st->cr, st->data, 0, false);
	}
	st->objects_read++;
}

/*
 * Open the next object that exists.  Objects listed a moment ago may be
 * gone, and objects named by a filter may never have existed: neither has
 * rows, neither is an error.
 */
static bool
open_next_object(S3ScanState *st)
{
	for (;;)
	{
		S3Get	   *get;

		top_up_prefetch(st, 1);
		if (st->nprefetched == 0)
			return false;
		get = st->prefetched[0];
		memmove(&st->prefetched[0], &st->prefetched[1],
				sizeof(S3Get *) * (st->nprefetched - 1));
		st->nprefetched--;
		top_up_prefetch(st, pipeline_prefetch);

		if (!s3_get_open(get, true))
			continue;
		st->get = get;
		start_object(st);
		return true;
	}
}

static void
close_object(S3ScanState *st)
{
	if (st->get)
	{
		uint64		n = s3_get_bytes(st->get);

		st->bytes_read += n;
		pipeline_scan_bytes += n;
		s3_get_close(st->get);
	}
	st->get = NULL;
}

/* Add this process's counters to the shared ones (parallel scans). */
static void
publish_counters(S3ScanState *st)
{
	if (st->pstate == NULL)
		return;
	pg_atomic_fetch_add_u64(&st->pstate->objects_read, st->objects_read);
	pg_atomic_fetch_add_u64(&st->pstate->bytes_read, st->bytes_read);
	pg_atomic_fetch_add_u64(&st->pstate->bytes_decoded, st->bytes_decoded);
	pg_atomic_fetch_add_u64(&st->pstate->records, st->records);
	st->objects_read = st->bytes_read = st->bytes_decoded = st->records = 0;
}

/* ----------------------------------------------------------------
 *		Lines, for error messages and the "line" metadata column
 * ----------------------------------------------------------------
 */

/*
 * Newlines in p[0..n).  Every decoded byte passes here (error messages name
 * lines), so 16 bytes at a time where SSE2 is there (every x86-64).
 */
static size_t
count_newlines(const char *p, size_t n)
{
	size_t		count = 0;
	size_t		i = 0;

#ifdef __SSE2__
	const __m128i nl = _mm_set1_epi8('\n');
	const __m128i zero = _mm_setzero_si128();

	/*
	 * Byte counters (a match is -1, so subtracting adds 1), folded into
	 * 64-bit sums with SAD before any of them can overflow: no popcount,
	 * which without -mpopcnt is a library call.
	 */
	while (i + 16 <= n)
	{
		__m128i		acc = _mm_setzero_si128();
		__m128i		sums;
		int			k;

		for (k = 0; k < 255 && i + 16 <= n; k++, i += 16)
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *) (p + i)), nl));
		sums = _mm_sad_epu8(acc, zero);
		count += (size_t) _mm_cvtsi128_si64(sums) +
			(size_t) _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
	}
#endif
	for (; i < n; i++)
		count += p[i] == '\n';
	return count;
}

/* Count the lines of the data buffer up to "off" (monotonic). */
static void
advance_lines(S3ScanState *st, size_t off)
{
	const char *p = st->data + st->line_pos;
	size_t		n;
	size_t		lines;

	if (off <= st->line_pos)
		return;
	n = off - st->line_pos;
	lines = count_newlines(p, n);
	if (lines > 0)
	{
		st->line_no += lines;
		st->line_start = ((const char *) memrchr(p, '\n', n) - st->data) + 1;
	}
	st->line_pos = off;
}

static int64
line_at(S3ScanState *st, size_t off)
{
	advance_lines(st, off);
	return st->line_no;
}

static int64
column_at(S3ScanState *st, size_t off)
{
	advance_lines(st, off);
	return (int64) off - st->line_start + 1;
}

/* ----------------------------------------------------------------
 *		Filling the data buffer
 * ----------------------------------------------------------------
 */

static size_t
reader_consumed(S3ScanState *st)
{
	return st->jr ? json_reader_consumed(st->jr) : csv_reader_consumed(st->cr);
}

static void
reader_feed(S3ScanState *st)
{
	if (st->jr)
		json_reader_feed(st->jr, st->data, st->data_len, st->src_eof);
	else
		csv_reader_feed(st->cr, st->data, st->data_len, st->src_eof);
}

/* The object could not be decoded; stop, or skip the rest of it. */
static void
stream_error(S3ScanState *st, const char *what, const char *why)
{
	if (!st->opts.skip_errors)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not %s \"%s\"", what, st->uri),
				 errdetail_internal("%s", why)));
	st->rejected++;
	s3_reject_remember(st->relid, st->uri, st->record_no + 1, st->line_no,
					   psprintf("could not %s the rest of the object: %s", what, why),
					   NULL, 0);
	st->src_eof = true;
	st->data_len = 0;
}

/* Read compressed (or plain) bytes from S3 into the comp buffer. */
static void
read_comp(S3ScanState *st)
{
	size_t		n;

	st->comp_pos = 0;
	st->comp_len = 0;
	if (st->get_eof)
		return;
	n = s3_get_read(st->get, st->comp, COMP_BUFFER_SIZE);
	st->comp_len = n;
	if (n == 0)
		st->get_eof = true;
}

/*
 * refill: keep the unconsumed tail of the data buffer, add decoded bytes
 * after it, and hand the buffer to the reader again.
 */
static void
refill(S3ScanState *st)
{
	size_t		consumed = reader_consumed(st);
	size_t		target;

	/* move the incomplete record to the front */
	advance_lines(st, consumed);
	if (consumed > 0)
	{
		memmove(st->data, st->data + consumed, st->data_len - consumed);
		st->data_len -= consumed;
		st->line_pos -= consumed;
		st->line_start -= (int64) consumed;
	}

	/* one record fills the whole buffer: make room for more of it */
	if (st->data_len == st->data_cap)
	{
		size_t		max = (size_t) pipeline_max_record_mb * 1024 * 1024;

		if (st->data_cap >= max)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("record %lld of \"%s\" is larger than %d MB",
							(long long) st->record_no + 1, st->uri, pipeline_max_record_mb),
					 errhint("Raise pipeline.max_record_size, or check that the object holds JSON records.")));
		st->data_cap = Min(st->data_cap * 2, max);
		st->data = repalloc(st->data, st->data_cap + JSON_READER_PADDING);
	}

	/* decode until the buffer is half full, or the object ends */
	target = Max(st->data_len + 1, st->data_cap / 2);
	while (!st->src_eof && st->data_len < target)
	{
		if (st->comp_pos == st->comp_len)
			read_comp(st);
		if (!st->sniffed)
		{
			st->sniffed = true;
			st->gzip = st->opts.compression == S3_COMPRESSION_GZIP ||
				(st->opts.compression == S3_COMPRESSION_AUTO &&
				 inflate_is_gzip(st->comp, st->comp_len));
		}
		if (st->gzip)
		{
			const uint8_t *in = (const uint8_t *) st->comp + st->comp_pos;
			size_t		inlen = st->comp_len - st->comp_pos;
			size_t		outlen = 0;
			InflateResult r;

			r = inflater_run(st->z, &in, &inlen, st->get_eof,
							 (uint8_t *) st->data + st->data_len,
							 st->data_cap - st->data_len, &outlen);
			st->comp_pos = st->comp_len - inlen;
			st->data_len += outlen;
			st->bytes_decoded += outlen;
			if (r == INFLATE_END)
				st->src_eof = true;
			else if (r == INFLATE_ERROR)
				stream_error(st, "decompress", inflater_error(st->z));
		}
		else
		{
			size_t		n = Min(st->comp_len - st->comp_pos, st->data_cap - st->data_len);

			memcpy(st->data + st->data_len, st->comp + st->comp_pos, n);
			st->comp_pos += n;
			st->data_len += n;
			st->bytes_decoded += n;
			if (st->get_eof && st->comp_pos == st->comp_len)
				st->src_eof = true;
		}
	}
	reader_feed(st);
}

/* ----------------------------------------------------------------
 *		Records -> rows
 * ----------------------------------------------------------------
 */

/* Raw text of the record at "off", for rejects: up to its line's end. */
static void
record_text(S3ScanState *st, size_t off, const char **raw, size_t *len)
{
	const char *start = st->data + off;
	size_t		avail = st->data_len > off ? st->data_len - off : 0;
	const char *nl = memchr(start, '\n', avail);

	*raw = start;
	*len = nl ? (size_t) (nl - start) : avail;
}

/*
 * A bad record: with on_error 'stop' raise an error naming the object,
 * record, line and column; with 'skip' count and remember it.
 */
static void
bad_record(S3ScanState *st, int sqlerrcode, const char *what, size_t rec_off,
		   size_t err_off, const char *colname, const char *why,
		   const char *raw, size_t rawlen, const char *hint)
{
	int64		line = line_at(st, rec_off);
	int64		eline = line_at(st, err_off);
	int64		ecol = column_at(st, err_off);

	if (!st->opts.skip_errors)
	{
		if (colname)
			ereport(ERROR,
					(errcode(sqlerrcode),
					 errmsg("invalid value for column \"%s\" in record %lld of \"%s\"",
							colname, (long long) st->record_no, st->uri),
					 errdetail("Line %lld: %s.", (long long) line, why),
					 errcontext("foreign table \"%s\"", st->relname)));
		else
			ereport(ERROR,
					(errcode(sqlerrcode),
					 errmsg("%s in record %lld of \"%s\"", what,
							(long long) st->record_no, st->uri),
					 errdetail("Line %lld, column %lld: %s.", (long long) eline,
							   (long long) ecol, why),
					 hint ? errhint("%s", hint) : 0,
					 errcontext("foreign table \"%s\"", st->relname)));
	}
	st->rejected++;
	s3_reject_remember(st->relid, st->uri, st->record_no, line,
					   colname ? psprintf("column \"%s\": %s", colname, why)
					   : psprintf("line %lld, column %lld: %s", (long long) eline,
								  (long long) ecol, why),
					   raw, rawlen);
}

/* A metadata value as a Datum of the column's type. */
static bool
meta_datum(S3ScanState *st, int i, Datum *d, bool *isnull)
{
	const ColumnConv *cc = &st->conv[i];
	ConvError	err;
	char	   *text = NULL;

	*isnull = false;
	switch (st->meta[i])
	{
		case S3_META_URI:
			if (cc->kind == CONV_TEXT)
			{
				*d = st->uri_datum;
				return true;
			}
			text = st->uri;
			break;
		case S3_META_KEY:
			if (cc->kind == CONV_TEXT)
			{
				*d = st->key_datum;
				return true;
			}
			text = st->obj.key;
			break;
		case S3_META_SIZE:
			if (st->obj.size < 0)
			{
				*isnull = true;
				return true;
			}
			if (cc->kind == CONV_INT8)
			{
				*d = Int64GetDatum(st->obj.size);
				return true;
			}
			text = psprintf("%lld", (long long) st->obj.size);
			break;
		case S3_META_LAST_MODIFIED:
			if (st->obj.last_modified == 0)
			{
				*isnull = true;
				return true;
			}
			if (cc->kind == CONV_TIMESTAMPTZ)
			{
				*d = TimestampTzGetDatum(st->obj.last_modified);
				return true;
			}
			text = pstrdup(timestamptz_to_str(st->obj.last_modified));
			break;
		case S3_META_LINE:
			if (cc->kind == CONV_INT8)
			{
				*d = Int64GetDatum(st->line_no);
				return true;
			}
			text = psprintf("%lld", (long long) st->line_no);
			break;
		case S3_META_PARTITION:
			*d = partition_datum(st, i, st->obj.key, isnull);
			return true;
		case S3_META_NONE:
			break;
	}
	if (!conv_text(cc, text, strlen(text), d, &err))
		ereport(ERROR,
				(errcode(err.sqlerrcode),
				 errmsg("cannot store metadata \"%s\" in column \"%s\" of type %s",
						s3_meta_name(st->meta[i]), st->field_name[i],
						format_type_be(cc->typid)),
				 errdetail("%s.", err.message)));
	return true;
}

/*
 * Fill the slot from the current record.  Returns false if the record was
 * bad and skipped.
 */
static bool
form_row(S3ScanState *st, TupleTableSlot *slot, size_t rec_off,
		 const CsvField *cf, int ncf)
{
	int			i;
	Datum	   *values = slot->tts_values;
	bool	   *nulls = slot->tts_isnull;

	if (st->need_line)
		advance_lines(st, rec_off);
	for (i = 0; i < st->natts; i++)
	{
		ConvError	err;
		bool		ok;

		if (st->meta[i] != S3_META_NONE)
		{
			meta_datum(st, i, &values[i], &nulls[i]);
			continue;
		}
		if (st->field[i] < 0)
		{
			values[i] = (Datum) 0;
			nulls[i] = true;
			continue;
		}
		if (st->jr)
			ok = conv_json(&st->conv[i], &st->jvalues[st->field[i]], &values[i], &nulls[i], &err);
		else
		{
			const CsvField *f = &cf[st->csv_pos[st->field[i]]];

			if (!f->quoted && f->len == strlen(st->opts.null_string) &&
				memcmp(f->str, st->opts.null_string, f->len) == 0)
			{
				nulls[i] = true;
				values[i] = (Datum) 0;
				continue;
			}
			nulls[i] = false;
			ok = conv_text(&st->conv[i], f->str, f->len, &values[i], &err);
		}
		if (!ok)
		{
			const char *raw;
			size_t		rawlen;

			record_text(st, rec_off, &raw, &rawlen);
			bad_record(st, err.sqlerrcode, NULL, rec_off, rec_off,
					   NameStr(TupleDescAttr(slot->tts_tupleDescriptor, i)->attname),
					   err.message, raw, rawlen, NULL);
			return false;
		}
	}
	ExecStoreVirtualTuple(slot);
	return true;
}

/*
 * Map the CSV header of the current object to our columns; from then on
 * the reader keeps only the fields up to the last one a column reads.
 */
static void
csv_header(S3ScanState *st, const CsvField *f, int n)
{
	int			i;

	if (csv_reader_fields_seen(st->cr) > n && st->nfields > 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the header of \"%s\" has too many fields", st->uri),
				 errdetail("It has %lld fields; at most %d fit in pipeline.max_record_size (%d MB).",
						   (long long) csv_reader_fields_seen(st->cr), n, pipeline_max_record_mb),
				 errhint("Raise pipeline.max_record_size, or use header 'false' to map columns by position."),
				 errcontext("foreign table \"%s\"", st->relname)));
	st->csv_need = 0;
	for (i = 0; i < st->natts; i++)
	{
		int			j;

		if (st->field[i] < 0)
			continue;
		for (j = 0; j < n; j++)
			if (f[j].len == strlen(st->field_name[i]) &&
				memcmp(f[j].str, st->field_name[i], f[j].len) == 0)
				break;
		if (j == n)
			for (j = 0; j < n; j++)
				if (f[j].len == strlen(st->field_name[i]) &&
					pg_strncasecmp(f[j].str, st->field_name[i], f[j].len) == 0)
					break;
		if (j == n)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" is not in the header of \"%s\"",
							st->field_name[i], st->uri),
					 errhint("Name the CSV column with OPTIONS (field '...'), or use header 'false' to map columns by position.")));
		st->csv_pos[st->field[i]] = j;
		st->csv_need = Max(st->csv_need, j + 1);
	}
	csv_reader_set_max_fields(st->cr, st->csv_need);
}

/* The next row of a CSV object; false at its end. */
static bool
next_csv_row(S3ScanState *st, TupleTableSlot *slot)
{
	for (;;)
	{
		const CsvField *f;
		int			n;
		CsvResult	rc = csv_reader_next(st->cr, &f, &n);
		size_t		off = csv_reader_record_offset(st->cr);

		switch (rc)
		{
			case CSV_RECORD:
				if (st->header_pending)
				{
					st->header_pending = false;
					csv_header(st, f, n);
					continue;
				}
				st->record_no++;
				st->records++;
				if (!st->opts.header && st->record_no == 1)
				{
					int			i;

					for (i = 0; i < st->nfields; i++)
						st->csv_pos[i] = i;
				}
				if (n < st->csv_need)
				{
					const char *raw;
					size_t		rawlen;

					record_text(st, off, &raw, &rawlen);
					bad_record(st, ERRCODE_BAD_COPY_FILE_FORMAT, "missing fields", off, off, NULL,
							   psprintf("the record has %d fields, %d are needed", n, st->csv_need),
							   raw, rawlen, NULL);
					continue;
				}
				if (form_row(st, slot, off, f, n))
					return true;
				continue;
			case CSV_BAD_RECORD:
				st->record_no++;
				{
					const char *raw;
					size_t		rawlen;

					record_text(st, off, &raw, &rawlen);
					bad_record(st, ERRCODE_BAD_COPY_FILE_FORMAT, "invalid CSV", off, off, NULL,
							   csv_reader_error(st->cr), raw, rawlen, NULL);
				}
				continue;
			case CSV_NEED_MORE:
				refill(st);
				continue;
			case CSV_FATAL:
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory reading \"%s\"", st->uri),
						 errdetail_internal("%s", csv_reader_error(st->cr))));
				break;
			case CSV_END:
				return false;
		}
	}
}

/* The next row of a JSON object; false at its end. */
static bool
next_json_row(S3ScanState *st, TupleTableSlot *slot)
{
	for (;;)
	{
		JsonResult	rc = json_reader_next(st->jr, st->jvalues);

		switch (rc)
		{
			case JSON_RECORD:
				st->record_no++;
				st->records++;
				if (form_row(st, slot, json_reader_record_offset(st->jr), NULL, 0))
					return true;
				continue;
			case JSON_BAD_RECORD:
				{
					const JsonError *e = json_reader_error(st->jr);

					st->record_no++;
					if (e->too_large)
						bad_record(st, ERRCODE_PROGRAM_LIMIT_EXCEEDED, "too many array elements",
								   e->record_offset, e->error_offset, NULL,
								   psprintf("%s, which take more than pipeline.max_record_size (%d MB) to decode",
											e->message, pipeline_max_record_mb),
								   e->record_text, e->record_len,
								   "Raise pipeline.max_record_size, or read the array as json or text.");
					else
						bad_record(st, ERRCODE_INVALID_JSON_TEXT, "invalid JSON",
								   e->record_offset, e->error_offset, NULL, e->message,
								   e->record_text, e->record_len, NULL);
				}
				continue;
			case JSON_NEED_MORE:
				refill(st);
				continue;
			case JSON_FATAL:
				stream_error(st, "decode", json_reader_error(st->jr)->message);
				reader_feed(st);
				continue;
			case JSON_END:
				return false;
		}
	}
}

/*
 * scan_next: the next row into "slot" (values in the current memory
 * context); false when every object has been read.
 */
static bool
scan_next(S3ScanState *st, TupleTableSlot *slot)
{
	for (;;)
	{
		if (st->get == NULL && !open_next_object(st))
		{
			publish_counters(st);
			return false;
		}
		if (st->jr ? next_json_row(st, slot) : next_csv_row(st, slot))
			return true;
		close_object(st);
	}
}

TupleTableSlot *
s3IterateForeignScan(ForeignScanState *node)
{
	S3ScanState *st = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext old;

	ExecClearTuple(slot);
	if (!st->objects_ready)
		prepare_objects(st, node->ss.ps.ps_ExprContext);

	/* values are made in the per-tuple context, reset for every row */
	old = MemoryContextSwitchTo(node->ss.ps.ps_ExprContext->ecxt_per_tuple_memory);
	(void) scan_next(st, slot);
	MemoryContextSwitchTo(old);
	return slot;
}

void
s3ReScanForeignScan(ForeignScanState *node)
{
	S3ScanState *st = node->fdw_state;
	int			i;

	close_object(st);
	for (i = 0; i < st->nprefetched; i++)
		s3_get_close(st->prefetched[i]);
	st->nprefetched = 0;
	/* a parallel scan's objects stay; ReInitializeDSM rewinds the counter */
	if (st->pstate == NULL)
		st->objects_ready = false;
	st->next_prefetch = 0;
}

void
s3EndForeignScan(ForeignScanState *node)
{
	S3ScanState *st = node->fdw_state;

	if (st == NULL)
		return;
	close_object(st);
	if (st->partition_slot)
		ExecDropSingleTupleTableSlot(st->partition_slot);
	st->partition_slot = NULL;
	if (st->rejected > 0)
		ereport(WARNING,
				(errmsg_plural("skipped %llu bad record of foreign table \"%s\"",
							   "skipped %llu bad records of foreign table \"%s\"",
							   st->rejected,
							   (unsigned long long) st->rejected, st->relname),
				 errhint("SELECT * FROM pipeline.rejects() shows them and why.")));
	MemoryContextDelete(st->cxt);
	node->fdw_state = NULL;
}

void
s3ExplainScanStats(ForeignScanState *node, ExplainState *es)
{
	S3ScanState *st = node->fdw_state;

	if (st == NULL)
		return;
	ExplainPropertyUInteger("Objects Read", NULL, st->objects_read + st->shared_objects_read, es);
	ExplainPropertyUInteger("Bytes Read", "bytes", st->bytes_read + st->shared_bytes_read, es);
	ExplainPropertyUInteger("Bytes Decoded", "bytes", st->bytes_decoded + st->shared_bytes_decoded, es);
	ExplainPropertyUInteger("Records", NULL, st->records + st->shared_records, es);
	ExplainPropertyUInteger("Rejected Records", NULL, st->rejected, es);
	if (st->partition_qual)
		ExplainPropertyUInteger("Objects Pruned", NULL, st->objects_pruned, es);
}

/* ----------------------------------------------------------------
 *		Parallel scan callbacks
 * ----------------------------------------------------------------
 */

Size
s3EstimateDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt)
{
	S3ScanState *st = node->fdw_state;

	/* the leader lists (or evaluates the filter) once, for everyone */
	if (!st->objects_ready)
		prepare_objects(st, node->ss.ps.ps_ExprContext);
	return add_size(offsetof(S3Parallel, data), objects_serialized_size(st->objects));
}

void
s3InitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt, void *coordinate)
{
	S3ScanState *st = node->fdw_state;
	S3Parallel *ps = (S3Parallel *) coordinate;

	pg_atomic_init_u32(&ps->next, 0);
	pg_atomic_init_u64(&ps->objects_read, 0);
	pg_atomic_init_u64(&ps->bytes_read, 0);
	pg_atomic_init_u64(&ps->bytes_decoded, 0);
	pg_atomic_init_u64(&ps->records, 0);
	ps->nobjects = list_length(st->objects);
	ps->datalen = objects_serialized_size(st->objects);
	objects_serialize(st->objects, ps->data);
	st->pstate = ps;
}

void
s3ReInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt, void *coordinate)
{
	S3Parallel *ps = (S3Parallel *) coordinate;

	pg_atomic_write_u32(&ps->next, 0);
}

void
s3InitializeWorkerForeignScan(ForeignScanState *node, shm_toc *toc, void *coordinate)
{
	S3ScanState *st = node->fdw_state;
	S3Parallel *ps = (S3Parallel *) coordinate;
	MemoryContext old = MemoryContextSwitchTo(st->cxt);

	st->objects = objects_deserialize(ps->data, ps->nobjects, st->opts.bucket);
	MemoryContextSwitchTo(old);
	st->objects_ready = true;
	st->pstate = ps;
}

/* Before the DSM segment goes: keep everyone's counters for EXPLAIN ANALYZE. */
void
s3ShutdownForeignScan(ForeignScanState *node)
{
	S3ScanState *st = node->fdw_state;

	if (st == NULL || st->pstate == NULL)
		return;
	publish_counters(st);
	st->shared_objects_read = pg_atomic_read_u64(&st->pstate->objects_read);
	st->shared_bytes_read = pg_atomic_read_u64(&st->pstate->bytes_read);
	st->shared_bytes_decoded = pg_atomic_read_u64(&st->pstate->bytes_decoded);
	st->shared_records = pg_atomic_read_u64(&st->pstate->records);
	st->pstate = NULL;
}

/* ----------------------------------------------------------------
 *		ANALYZE: a sample of rows from a sample of objects
 * ----------------------------------------------------------------
 */

int			pipeline_analyze_objects = 16;

static int
s3_acquire_sample_rows(Relation rel, int elevel, HeapTuple *rows, int targrows,
					   double *totalrows, double *totaldeadrows);

/* the objects ANALYZE looked at, from its set-up to its sampling */
static List *analyze_listing = NIL;
static double analyze_bytes = 0;

/*
 * s3_analyze_setup: list the objects; their compressed bytes, as 8 kB
 * pages, become relpages, so that the planner scales the rows per page
 * ANALYZE found to the bytes it lists at planning time.
 */
bool
s3_analyze_setup(Relation rel, AcquireSampleRowsFunc *func, BlockNumber *totalpages)
{
	S3TableOptions opts;
	S3Config	cfg;
	S3Client   *client;
	ListCell   *lc;

	s3_table_options(RelationGetRelid(rel), &opts);
	s3_server_config(GetForeignTable(RelationGetRelid(rel))->serverid, GetUserId(), &cfg);
	client = s3_client_create(&cfg, CurrentMemoryContext);
	analyze_listing = NIL;
	if (opts.is_prefix)
		analyze_listing = list_copy(s3_list_objects(client, opts.bucket, opts.key));
	else
	{
		S3Object   *o = s3_head_object(client, opts.bucket, opts.key, true);

		if (o)
			analyze_listing = list_make1(o);
	}
	http_client_destroy(client->http);
	analyze_bytes = 0;
	foreach(lc, analyze_listing)
		analyze_bytes += Max(((S3Object *) lfirst(lc))->size, 0);
	*totalpages = (BlockNumber) Max(1.0, ceil(analyze_bytes / BLCKSZ));
	*func = s3_acquire_sample_rows;
	return true;
}

static int
s3_acquire_sample_rows(Relation rel, int elevel, HeapTuple *rows, int targrows,
					   double *totalrows, double *totaldeadrows)
{
	S3ScanState *st = scan_create(rel, GetUserId(), NIL, CurrentMemoryContext);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline_s3 analyze row",
												  ALLOCSET_DEFAULT_SIZES);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
	ReservoirStateData rstate;
	List	   *all = list_copy(analyze_listing);
	double		total_bytes = analyze_bytes;
	double		seen = 0;
	double		rowstoskip = -1;
	int			numrows = 0;
	int			n;

	/* a random sample of the objects */
	n = list_length(all);
	for (int i = 0; i < n - 1; i++)
	{
		int			j = i + (int) pg_prng_uint64_range(&pg_global_prng_state, 0, n - 1 - i);
		void	   *t = all->elements[i].ptr_value;

		all->elements[i].ptr_value = all->elements[j].ptr_value;
		all->elements[j].ptr_value = t;
	}
	st->objects = list_truncate(all, Min(n, pipeline_analyze_objects));
	st->objects_ready = true;

	reservoir_init_selection_state(&rstate, targrows);
	for (;;)
	{
		MemoryContext old;
		bool		found;

		vacuum_delay_point();
		MemoryContextReset(rowcxt);
		old = MemoryContextSwitchTo(rowcxt);
		ExecClearTuple(slot);
		found = scan_next(st, slot);
		MemoryContextSwitchTo(old);
		if (!found)
			break;

		/* Vitter's reservoir sampling, as file_fdw does */
		if (numrows < targrows)
			rows[numrows++] = heap_form_tuple(slot->tts_tupleDescriptor, slot->tts_values,
											  slot->tts_isnull);
		else
		{
			if (rowstoskip < 0)
				rowstoskip = reservoir_get_next_S(&rstate, seen, targrows);
			if (rowstoskip <= 0)
			{
				int			k = (int) (targrows * sampler_random_fract(&rstate.randstate));

				heap_freetuple(rows[k]);
				rows[k] = heap_form_tuple(slot->tts_tupleDescriptor, slot->tts_values,
										  slot->tts_isnull);
			}
			rowstoskip -= 1;
		}
		seen += 1;
	}

	/* extrapolate by bytes: the sample's rows per byte, times all bytes */
	*totalrows = st->bytes_read > 0 ? seen * total_bytes / (double) st->bytes_read : seen;
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": read %d of %d objects, %.0f rows; %d rows in sample, %.0f estimated total rows",
					RelationGetRelationName(rel), list_length(st->objects), n, seen, numrows,
					*totalrows)));
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(st->cxt);
	return numrows;
}
