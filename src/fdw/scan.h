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
 *	  budget.c		scan budgets; parallel workers' bytes and requests counted
 *
 * IDENTIFICATION
 *	  src/fdw/scan.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_FDW_SCAN_H
#define PIPELINE_FDW_SCAN_H

#include "executor/tuptable.h"
#include "port/atomics.h"
#include "storage/dsm.h"
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
typedef struct FdwShared FdwShared;

/*
 * What the participants of a parallel scan count together, in its DSM
 * (budget.c): the bytes charged to the scan budget, and what the workers
 * read and asked S3 for (the leader adds those to its own counters).
 */
typedef struct ScanAccount
{
	pg_atomic_uint64 budget_used;	/* the leader's charges before the scan included */
	uint64		budget_limit;	/* 0: none */
	char		budget_report[64];	/* the run's report; "": a statement's limit */
	pg_atomic_uint64 worker_bytes;
	pg_atomic_uint64 worker_get;
	pg_atomic_uint64 worker_list;
	pg_atomic_uint64 worker_put;
	bool		accounted;		/* the leader took the workers' counts */
} ScanAccount;

/* A clause on partition columns only, with the columns it needs. */
typedef struct DirQual
{
	ExprState  *qual;
	Bitmapset  *attnos;			/* attribute numbers */
	Expr	   *expr;			/* the clause (template.c narrows by equality) */
} DirQual;

typedef struct FdwScanState
{
	Oid			relid;
	char	   *relname;
	FdwTableOptions opts;
	struct KeyTemplate *tmpl;	/* opts.key_template parsed, or NULL */
	MemoryContext cxt;			/* everything of this scan */
	MemoryContextCallback cleanup;
	AwsClient  *client;

	/* columns */
	int			natts;
	ColumnSource *source;		/* per attribute: what a column holds */
	ColumnConv *conv;			/* per attribute */
	int		   *field;			/* per attribute: index into values, -1: not read */
	char	  **field_name;		/* per attribute: JSON path or CSV header name */
	int		   *active;			/* the attributes the query needs */
	int			nactive;		/* (the others are left null in each row) */
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
	FdwShared  *shared;
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

	/* budget and accounting of a parallel scan (budget.c), in its DSM */
	ScanAccount *account;
	S3Requests	requests_published; /* of client->requests, added to it */
} FdwScanState;

/* scan.c */
extern FdwScanState *scan_create(Relation rel, Oid userid, List *attrs, MemoryContext parent);
extern bool scan_next(FdwScanState *st, TupleTableSlot *slot);
extern void scan_publish(FdwScanState *st);
extern void scan_progress(FdwScanState *st, bool object_done);

/* objects.c */
extern void objects_init_quals(FdwScanState *st, List *exprs, int ndir, PlanState *ps);
extern void objects_prepare(FdwScanState *st, ExprContext *econtext);
extern bool objects_open_next(FdwScanState *st);
extern void objects_close(FdwScanState *st);
extern void objects_rewind(FdwScanState *st);

/* listing.c */
extern List *listing_tasks(FdwScanState *st, const char *prefix);
extern Lister *lister_create(AwsClient *client, const char *bucket, List *tasks,
							 S3ListPage *head, MemoryContext parent);
extern const S3Object *lister_next(Lister *l);
extern void lister_free(Lister *l);
extern S3ListPage *listing_fetch(AwsClient *client, const char *bucket, const ListTask *task,
								 const char *token, int max_keys);

/* parallel.c */
extern bool parallel_claim(FdwScanState *st, WorkUnit *u);
extern void parallel_split(FdwScanState *st, WorkUnit *u, bool keep);
extern void parallel_part_header(FdwScanState *st, const WorkUnit *u, char **header,
								 size_t *len);
extern void parallel_part_first(FdwScanState *st, const WorkUnit *u, int64 offset);
extern void parallel_part_next(FdwScanState *st, const WorkUnit *u, int64 offset);
extern void parallel_part_done(FdwScanState *st, const WorkUnit *u);

/* budget.c */
extern void scan_account_init(FdwScanState *st, ScanAccount *acc, dsm_segment *seg);
extern void scan_account_attach(FdwScanState *st, ScanAccount *acc);
extern void scan_account_read(FdwScanState *st, uint64 bytes);
extern void scan_account_shutdown(FdwScanState *st);
extern void scan_budget_charge(FdwScanState *st, const WorkUnit *u, const S3Object *o);

/* rows.c */
extern void rows_begin_object(FdwScanState *st);
extern bool rows_next(FdwScanState *st, TupleTableSlot *slot);
extern Datum partition_datum(FdwScanState *st, int i, const char *key, bool *isnull);
extern char *partition_value(const char *key, const char *name);

#endif							/* PIPELINE_FDW_SCAN_H */
