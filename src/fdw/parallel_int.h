/*-------------------------------------------------------------------------
 *
 * parallel_int.h
 *	  The parallel scan's shared state, for parallel.c (the queue of objects,
 *	  the DSM callbacks) and parallel_parts.c (objects read in parts).
 *
 * IDENTIFICATION
 *	  src/fdw/parallel_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_PARALLEL_INT_H
#define PIPELINE_PARALLEL_INT_H

#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"

#include "fdw/counters.h"
#include "fdw/scan.h"

#define SHARED_SLOTS	1024	/* listed objects queued at most */
#define KEY_MAX			1024	/* S3's longest key */
#define ETAG_MAX		128
#define TOKEN_MAX		4096	/* longest continuation token we keep */
#define MAX_SPLITS		4		/* objects split at once */
#define MAX_PARTS		1024	/* parts of one object at most */
#define HEADER_MAX		8192	/* longest CSV header of a split object */
#define SNIFF_BYTES		(256 * 1024)

/* An object in shared memory. */
typedef struct SharedEntry
{
	int64		size;
	TimestampTz last_modified;
	uint16		klen;
	uint16		elen;
	bool		listed;
	char		text[KEY_MAX + ETAG_MAX];	/* key, then ETag */
} SharedEntry;

/* An object being read in parts. */
typedef struct SplitSlot
{
	bool		in_use;
	int			nparts;
	int			next_part;		/* next to claim */
	int			parts_done;
	int64		part_size;
	SharedEntry obj;
	uint32		header_len;		/* CSV: the header line, for parts > 0 */
	char		header[HEADER_MAX];
	int64		first[MAX_PARTS];	/* by part p: where its first record starts */
	int64		after[MAX_PARTS];	/* by part p - 1: where the first record
									 * after it starts (index p) */
	/* a gzip object: parts start at restart points (gzsplit.c) */
	bool		gzip;
	int64		gz_out[MAX_PARTS + 1];	/* decompressed offset of point p; [nparts]: size */
	int64		gz_comp[MAX_PARTS]; /* compressed offset of point p */
	int64		gz_first[MAX_PARTS];	/* first byte a part's GET asks for */
} SplitSlot;

struct FdwShared
{
	slock_t		mutex;
	ConditionVariable cv;
	bool		named;			/* objects put in by the leader, no listing */
	int			ntasks;			/* listing tasks */
	int			task;			/* the task being listed */
	bool		task_started;	/* token continues it */
	bool		lister_busy;	/* somebody is listing a page */
	bool		listing_done;
	int			splits_pending; /* objects claimed that may become split */
	uint64		head;			/* queue: entries [head, tail) */
	uint64		tail;
	int			nslots;
	char		token[TOKEN_MAX];
	SplitSlot	split[MAX_SPLITS];
	pg_atomic_uint64 objects_read;
	pg_atomic_uint64 parts_read;
	pg_atomic_uint64 bytes_read;
	pg_atomic_uint64 bytes_decoded;
	pg_atomic_uint64 records;
	pg_atomic_uint64 objects_pruned;
	uint64		part_readers;	/* bit n: participant n - 1 (-1: the leader) read a part */
	ScanAccount account;		/* budget, workers' bytes and requests */
	Size		slots_off;		/* offsets in data[] */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* tasks, then slots */
};

#define shared_slot(sh, i) \
	((SharedEntry *) ((sh)->data + (sh)->slots_off) + (i) % (sh)->nslots)

extern void parallel_entry_put(SharedEntry *e, const S3Object *o, bool listed);
extern bool parallel_split_plain(FdwScanState *st, int64 size);

#endif							/* PIPELINE_PARALLEL_INT_H */
