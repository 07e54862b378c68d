/*-------------------------------------------------------------------------
 *
 * scan.h
 *	  The state of a pipeline_s3 scan, shared by the files that execute it:
 *
 *	  scan.c		setting up, the executor's callbacks, EXPLAIN ANALYZE
 *	  objects.c		which objects: filters, listing, object quals, prefetch
 *	  listing.c		ListObjectsV2 page by page, partition directories
 *	  parallel.c	objects and parts of objects handed out through the DSM
 *	  stream.c		an object's bytes (stream.h)
 *	  rows.c		records -> rows, line numbers, bad records
 *	  analyze.c		ANALYZE's sample
 *
 * IDENTIFICATION
 *	  src/fdw/scan.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_FDW_SCAN_H
#define PIPELINE_FDW_SCAN_H

#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"

#include "decode/csv_reader.h"
#include "decode/json_reader.h"
#include "fdw/fdw.h"
#include "fdw/stream.h"
#include "fdw/template.h"

#define MAX_PREFETCH		16

/* One listing to make: every key under a prefix, or only those right in it. */
typedef struct ListTask
{
	char	   *prefix;
	bool		direct;			/* only the objects right under the prefix
								 * (delimiter '/'), not in its directories */
} ListTask;

typedef struct Lister Lister;
typedef struct S3Shared S3Shared;

/* A clause on partition columns only, with the columns it needs. */
typedef struct DirQual
{
	ExprState  *qual;
	Bitmapset  *attnos;			/* attribute numbers */
	Expr	   *expr;			/* the clause (template.c narrows by equality) */
} DirQual;

typedef struct S3ScanState
{
	Oid			relid;
	char	   *relname;
	S3TableOptions opts;
	struct KeyTemplate *tmpl;	/* opts.key_template parsed, or NULL */
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

	/* which objects (objects.c) */
	int			filter_kind;
	ExprState  *filter;
	char	   *like_prefix;
	List	   *dir_quals;		/* of DirQual */
	ExprState  *object_qual;	/* all object quals, or NULL */
	bool		qual_needs_meta;	/* they use size or last_modified */
	TupleTableSlot *object_slot;
	ExprContext *econtext;
	bool		objects_ready;
	List	   *named;			/* of WorkUnit: named or single objects */
	int			named_next;
	List	   *tasks;			/* of ListTask */
	Lister	   *lister;
	PendingGet	prefetched[MAX_PREFETCH];
	int			nprefetched;

	/* parallel scan: objects and parts claimed through shared memory */
	S3Shared   *shared;
	bool		can_split;		/* plain objects may be read in parts */

	/* the object (or part) being read */
	ObjectStream stream;
	bool		reading;
	Datum		uri_datum;
	Datum		key_datum;
	int64		record_no;
	int64		line_no;		/* line number at data[line_pos] */
	size_t		line_pos;
	int64		line_start;		/* offset of that line's start (may be < 0) */
	bool		part_started;	/* the part's first record was reported */

	/* statistics, for EXPLAIN ANALYZE */
	uint64		objects_read;
	uint64		parts_read;
	uint64		bytes_read;
	uint64		records;
	uint64		rejected;
	uint64		objects_pruned;
	uint64		dirs_pruned;
	uint64		objects_listed;
	double		bytes_listed;
	uint64		bytes_published;	/* of bytes_read, added to the DSM's */
	bool		listing_complete;	/* every listing task was listed to its end */
	/* what pipeline.progress was told (scan_progress) */
	int			progress_level; /* -1: not shown */
	uint64		progress_records;
	uint64		progress_bytes;
	uint64		progress_rejected;
	int			progress_countdown; /* records until the next report */
	/* all participants' counters of a parallel scan, copied at shutdown */
	uint64		shared_objects_read;
	uint64		shared_parts_read;
	uint64		shared_bytes_read;
	uint64		shared_bytes_decoded;
	uint64		shared_records;
	uint64		shared_objects_pruned;
} S3ScanState;

/* scan.c */
extern S3ScanState *scan_create(Relation rel, Oid userid, List *attrs, MemoryContext parent);
extern bool scan_next(S3ScanState *st, TupleTableSlot *slot);
extern void scan_publish(S3ScanState *st);
extern void scan_progress(S3ScanState *st, bool object_done);

/* objects.c */
extern void objects_init_quals(S3ScanState *st, List *exprs, int ndir, PlanState *ps);
extern void objects_prepare(S3ScanState *st, ExprContext *econtext);
extern bool objects_open_next(S3ScanState *st);
extern void objects_close(S3ScanState *st);
extern void objects_rewind(S3ScanState *st);
extern bool objects_keep(S3ScanState *st, const WorkUnit *u);

/* listing.c */
extern List *listing_tasks(S3ScanState *st, const char *prefix);
extern Lister *lister_create(S3Client *client, const char *bucket, List *tasks,
							 S3ListPage *head, MemoryContext parent);
extern const S3Object *lister_next(Lister *l);
extern bool lister_complete(const Lister *l);
extern void lister_free(Lister *l);
extern S3ListPage *listing_fetch(S3Client *client, const char *bucket, const ListTask *task,
								 const char *token, int max_keys);

/* parallel.c */
extern bool parallel_claim(S3ScanState *st, WorkUnit *u);
extern void parallel_split(S3ScanState *st, WorkUnit *u, bool keep);
extern void parallel_part_header(S3ScanState *st, const WorkUnit *u, char **header,
								 size_t *len);
extern void parallel_part_first(S3ScanState *st, const WorkUnit *u, int64 offset);
extern void parallel_part_next(S3ScanState *st, const WorkUnit *u, int64 offset);
extern void parallel_part_done(S3ScanState *st, const WorkUnit *u);

/* rows.c */
extern void rows_begin_object(S3ScanState *st);
extern bool rows_next(S3ScanState *st, TupleTableSlot *slot);
extern Datum partition_datum(S3ScanState *st, int i, const char *key, bool *isnull);
extern char *partition_value(const char *key, const char *name);

#endif							/* PIPELINE_FDW_SCAN_H */
