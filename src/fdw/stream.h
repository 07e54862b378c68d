/*-------------------------------------------------------------------------
 *
 * stream.h
 *	  The byte stream of one object, or of one part of an object: a GET
 *	  (s3/) feeding a compressed-bytes buffer, inflated (decode/) or copied
 *	  into the data buffer that the record readers cut records from.
 *
 * An ObjectStream knows nothing of relations or rows.  Everything of one
 * object (its GET, request headers, signature strings, URI) lives in a
 * memory context of its own, created when the GET is started and deleted
 * when the object is done: a scan's memory does not grow with the number
 * of objects it reads.
 *
 * IDENTIFICATION
 *	  src/fdw/stream.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_FDW_STREAM_H
#define PIPELINE_FDW_STREAM_H

#include "decode/inflate.h"
#include "fdw/fdw.h"
#include "s3/s3.h"

/*
 * One thing to read: a whole object, or the part [start, end) of a plain
 * object split across the participants of a parallel scan.  A part starts
 * with the first record that starts in it, and ends with the record that
 * crosses its end.
 */
typedef struct WorkUnit
{
	S3Object	obj;			/* size -1 and last_modified 0 if unknown */
	bool		listed;			/* obj's size and time come from a listing */
	int64		start;			/* first byte of the part (0: whole object) */
	int64		end;			/* byte after the part; -1: whole object */
	int			part;			/* number of the part, -1: whole object */
	int			nparts;
	int			split;			/* split slot of the parallel scan, or -1 */
	bool		split_pending;	/* claimed as a candidate for splitting:
								 * parallel_split must say what became of it */
} WorkUnit;

/* A GET in flight, with the memory context everything of it lives in. */
typedef struct PendingGet
{
	WorkUnit	unit;
	MemoryContext cxt;
	S3Get	   *get;
} PendingGet;

typedef struct ObjectStream
{
	/* set once */
	AwsClient  *client;
	FdwCompression compression;
	size_t		max_record;		/* the data buffer grows up to this */

	/* the object (part) being read */
	PendingGet	cur;			/* cur.get NULL: none */
	char	   *uri;			/* in cur.cxt */
	bool		gzip;
	bool		sniffed;
	bool		get_eof;		/* S3 body ended */
	bool		src_eof;		/* decoded stream ended */
	bool		resync;			/* a part: skip to the first line start */
	bool		at_range_end;	/* a part read all its GET asked for */
	bool		extend;			/* and needs more: ask for the next bytes */
	size_t		prefix_len;		/* bytes put in front of the object's */
	int64		data_offset;	/* offset in the object of data[0] (plain) */
	bool		line_start;		/* the bytes before data[0] end a line (and
								 * blanks): line_records_starts_line */

	/* buffers, kept from object to object */
	Inflater   *z;
	char	   *comp;
	size_t		comp_pos;
	size_t		comp_len;
	char	   *data;			/* JSON_READER_PADDING bytes of slack */
	size_t		data_cap;
	size_t		data_len;

	uint64		bytes_decoded;	/* of this stream, all objects */
	const char *error;			/* why decoding failed, or NULL */
} ObjectStream;

/* Bytes asked of S3 at a time, and read into the compressed buffer. */
#define STREAM_COMP_BUFFER	(256 * 1024)
#define STREAM_GET_BUFFER	(STREAM_COMP_BUFFER * 4)

extern void stream_init(ObjectStream *s, AwsClient *client, FdwCompression compression,
						size_t data_size, size_t max_record);
extern void stream_free(ObjectStream *s);

/* Start a GET of "unit" in a new memory context under "parent". */
extern void stream_start_get(PendingGet *pg, AwsClient *client, const WorkUnit *unit,
							 MemoryContext parent);
extern void stream_cancel_get(PendingGet *pg);

/*
 * Take an opened GET (s3_get_open) as the object to read: reset the
 * buffers.  "prefix" (may be NULL) is put in front of the object's bytes:
 * the CSV header of an object read in parts.
 */
extern void stream_begin(ObjectStream *s, PendingGet *pg, const char *prefix, size_t prefix_len);

/* Bytes read from S3 for the current object so far. */
extern uint64 stream_bytes_read(const ObjectStream *s);

/* Done with the current object: close its GET, free its memory. */
extern void stream_end(ObjectStream *s);

/*
 * Drop the first "consumed" bytes of the data buffer, then decode more
 * after what is left, until it is half full or the object ends.  When
 * what is left fills the whole buffer (one record), the buffer grows, up
 * to max_record: STREAM_FULL beyond.  STREAM_ERROR: the bytes could not
 * be decoded (s->error says why); the stream is then at its end.
 */
typedef enum StreamResult
{
	STREAM_OK,
	STREAM_FULL,
	STREAM_ERROR
} StreamResult;

extern StreamResult stream_refill(ObjectStream *s, size_t consumed);

/* The offset in the object of data[off], -1 for gzip (unknown). */
#define stream_object_offset(s, off) \
	((s)->gzip ? (int64) -1 : (s)->data_offset + (int64) (off))

#endif							/* PIPELINE_FDW_STREAM_H */
