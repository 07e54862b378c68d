/*-------------------------------------------------------------------------
 *
 * fdw.h
 *	  Private declarations of the pipeline_s3 foreign data wrapper:
 *	  options, what planning hands to execution, the callbacks, estimates,
 *	  value conversion, rejects.  The scan's own state is in scan.h.
 *
 * IDENTIFICATION
 *	  src/fdw/fdw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_FDW_H
#define PIPELINE_FDW_H

#include "access/parallel.h"
#include "access/tupdesc.h"
#include "commands/explain.h"
#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "nodes/execnodes.h"
#include "nodes/pg_list.h"

#include "decode/json_reader.h"
#include "s3/s3.h"

typedef enum FdwFormat
{
	FDW_FORMAT_JSON,
	FDW_FORMAT_CSV
} FdwFormat;

typedef enum FdwCompression
{
	FDW_COMPRESSION_AUTO,
	FDW_COMPRESSION_GZIP,
	FDW_COMPRESSION_NONE
} FdwCompression;

/*
 * Where a column's values come from: a field of each record (a JSON key or
 * dotted path, a CSV column), the object's metadata, or a Hive-style
 * partition directory of its key.
 */
typedef enum ColumnSource
{
	COLUMN_FIELD = 0,			/* OPTIONS (field '...'), or the column name */
	COLUMN_URI,					/* OPTIONS (metadata '...') */
	COLUMN_KEY,
	COLUMN_SIZE,
	COLUMN_LAST_MODIFIED,
	COLUMN_LINE,
	COLUMN_PARTITION,			/* a Hive-style "name=value" directory of the key */
	COLUMN_TEMPLATE				/* a part of the key, by the table's key_template */
} ColumnSource;

/* Options of a foreign table, validated. */
typedef struct FdwTableOptions
{
	char	   *uri;
	char	   *bucket;
	char	   *key;			/* the object, or the listing prefix */
	bool		is_prefix;		/* uri names every object under a prefix */
	FdwFormat	format;
	FdwCompression compression;
	bool		skip_errors;	/* on_error 'skip' */
	/* CSV */
	char		delimiter;
	char		quote;
	bool		header;
	bool		header_skip;	/* header 'skip': a first line, not read (Athena's
								 * skip.header.line.count); columns by position */
	char	   *null_string;
	/* shard 'k/n': only the objects whose key hashes to share k (0: all) */
	int			shard_k;
	int			shard_n;
	char	   *key_template;	/* key_template, or NULL (template.c) */
	bool		case_insensitive;	/* JSON keys match whatever their case */
} FdwTableOptions;

/* option.c */
extern void fdw_table_options(Oid relid, FdwTableOptions *opts);
extern ColumnSource fdw_column_source(Oid relid, AttrNumber attnum, char **name);
extern const char *column_source_name(ColumnSource source);
extern int64 fdw_column_epoch_unit(Oid relid, AttrNumber attnum);

/* shard.c: the shard 'k/n' option */
extern void fdw_shard_parse(const char *value, int *k, int *n);
extern bool fdw_shard_mine(const char *key, int k, int n);

/* How a column's values are made (convert.c). */
typedef enum ConvKind
{
	CONV_TEXT,
	CONV_INT2,
	CONV_INT4,
	CONV_INT8,
	CONV_FLOAT4,
	CONV_FLOAT8,
	CONV_NUMERIC,
	CONV_BOOL,
	CONV_DATE,
	CONV_TIMESTAMP,
	CONV_TIMESTAMPTZ,
	CONV_JSON,
	CONV_JSONB,
	CONV_ARRAY,
	CONV_OTHER					/* the type's input function */
} ConvKind;

typedef struct ColumnConv
{
	ConvKind	kind;
	Oid			typid;
	int32		typmod;
	FmgrInfo	infunc;
	Oid			ioparam;
	bool		soft;			/* on_error 'skip': catch input errors */
	int64		epoch_unit;		/* format 'epoch_*': numbers are instants in
								 * units of 1/epoch_unit s (0: ISO-8601 text) */
	/* arrays */
	struct ColumnConv *elem;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
} ColumnConv;

/* A conversion failure, for on_error handling. */
typedef struct ConvError
{
	char	   *message;		/* full sentence(s) */
	int			sqlerrcode;
} ConvError;

extern void conv_init(ColumnConv *cc, Oid typid, int32 typmod, bool soft);
extern JsonWant conv_json_want(const ColumnConv *cc, bool *elements);

/*
 * Convert one value.  On success returns true with *d / *isnull set.  On a
 * bad value returns false with *err filled (never throws for bad data when
 * cc->soft; otherwise bad data may also raise the type's own error).
 */
extern bool conv_json(const ColumnConv *cc, const JsonValue *v, Datum *d, bool *isnull,
					  ConvError *err);
extern bool conv_text(const ColumnConv *cc, const char *s, size_t len, Datum *d,
					  ConvError *err);

/*
 * What planning hands to execution in ForeignScan.fdw_private: a list
 * indexed by FdwScanPrivateIndex, as postgres_fdw does.
 */
enum FdwScanPrivateIndex
{
	/* Integer: FDW_FILTER_*, which objects a filter on uri or key names */
	FdwScanPrivateFilterKind,
	/* String: the listing prefix a LIKE on uri or key narrows to ("": none) */
	FdwScanPrivateLikePrefix,
	/* Float: estimated objects, and their bytes */
	FdwScanPrivateObjects,
	FdwScanPrivateBytes,
	/* List of Integer: the attributes read; (-1) for all (a whole-row Var) */
	FdwScanPrivateAttrs,
	/* Integer: how many object quals are on partition columns only */
	FdwScanPrivateNumDirQuals
};

/*
 * ForeignScan.fdw_exprs: the filter's expression (FDW_FILTER_URIS / KEYS:
 * a text or text[] value), if any, then the object quals: clauses that
 * only look at metadata known before an object is read (partitions, uri,
 * key, size, last_modified), those on partition columns only first.
 * They stay in the plan's quals too: deciding objects by them only
 * changes what is read, never what is returned.
 */
#define FDW_FILTER_NONE	0
#define FDW_FILTER_URIS	1		/* the filter gives s3:// URIs */
#define FDW_FILTER_KEYS	2		/* the filter gives keys */

/* scan.c: the executor's callbacks */
extern void s3BeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *s3IterateForeignScan(ForeignScanState *node);
extern void s3ReScanForeignScan(ForeignScanState *node);
extern void s3EndForeignScan(ForeignScanState *node);
extern void s3ExplainScanStats(ForeignScanState *node, ExplainState *es);

/* parallel.c */
extern Size s3EstimateDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt);
extern void s3InitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
									   void *coordinate);
extern void s3ReInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
										 void *coordinate);
extern void s3InitializeWorkerForeignScan(ForeignScanState *node, shm_toc *toc,
										  void *coordinate);
extern void s3ShutdownForeignScan(ForeignScanState *node);

/* import.c: IMPORT FOREIGN SCHEMA */
extern List *s3ImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);

/* analyze.c */
extern bool fdw_analyze_setup(Relation rel, AcquireSampleRowsFunc *func, BlockNumber *totalpages);

/*
 * listing.c: the listing prefix after a LIKE filter (NULL if nothing can
 * match), and the first page of a listing, shared by the planning and the
 * execution of one statement.
 */
extern char *fdw_effective_prefix(const FdwTableOptions *opts, const char *like_prefix);
extern S3ListPage *fdw_listing_head(Oid relid, AwsClient *client, const char *bucket,
								   const char *prefix);

/*
 * estimate.c: what planning knows of a table without listing it all:
 * the first page of its listing, what the last complete listing and scan
 * of this session saw, ANALYZE's figures, and a sample of records.
 */
typedef struct FdwEstimate
{
	double		objects;
	double		bytes;
	double		bytes_per_row;	/* <= 0: unknown */
	bool		complete;		/* objects and bytes are exact (a listing
								 * that fitted in its first page) */
} FdwEstimate;

extern void fdw_estimate(Oid relid, AwsClient *client, const FdwTableOptions *opts,
						const char *prefix, FdwEstimate *est, double analyzed_bytes);
extern double fdw_estimate_bytes_per_row(Oid relid, AwsClient *client,
										const FdwTableOptions *opts, const S3Object *sample);
extern void fdw_stats_remember_listing(Oid relid, const char *bucket, const char *prefix,
									  double objects, double bytes);
extern void fdw_stats_remember_rows(Oid relid, double bytes, double rows);

/* rejects.c: rejected records of on_error 'skip' scans (pipeline.max_rejects) */
typedef void (*FdwRejectFn) (void *arg, const char *uri, int64 record, int64 line,
							 const char *error, const char *raw);
extern void fdw_rejects_reset(void);
extern int64 fdw_rejects_foreach(FdwRejectFn fn, void *arg);
extern void fdw_reject_remember(Oid relid, const char *uri, int64 record, int64 line,
							   const char *error, const char *raw, size_t rawlen);

#endif							/* PIPELINE_FDW_H */
