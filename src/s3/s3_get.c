/*-------------------------------------------------------------------------
 *
 * s3_get.c
 *	  Reading objects: HEAD, and streamed GETs (whole objects or byte
 *	  ranges), resumed when they break off.
 *
 * A GET is started while other work is done (several may be in flight),
 * opened when its answer is needed, and read as the caller consumes it.
 * A GET that breaks half-way is resumed from the byte it stopped at,
 * pinned to the object's ETag so that a concurrent overwrite cannot
 * splice two versions together; so are the ranges that read one object in
 * parts.
 *
 * IDENTIFICATION
 *	  src/s3/s3_get.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "utils/timestamp.h"

#include "s3/s3_call.h"
#include "util/settings.h"

struct S3Get
{
	AwsClient  *client;
	MemoryContext cxt;			/* where it lives: it outlives the caller's
								 * per-row contexts */
	S3Call		call;
	HttpTransfer *xfer;
	S3Object	obj;
	int64		start;			/* first byte asked for */
	int64		end;			/* byte after the last asked for; -1: the
								 * object's end */
	int64		expect;			/* body bytes the answer announced, -1 if
								 * it did not say */
	bool		ranged;			/* a Range request pinned to obj.etag */
	uint64		delivered;		/* bytes handed to the caller */
	uint64		received;		/* bytes received, resumed attempts included */
	int			resumes;
};

/* The Last-Modified of an answer; 0 if absent or not a date. */
static TimestampTz
parse_http_date(const char *s)
{
	time_t		t;

	if (s == NULL || s[0] == '\0')
		return 0;
	t = curl_getdate(s, NULL);
	return t < 0 ? 0 : time_t_to_timestamptz((pg_time_t) t);
}

/* Fill an S3Object from the headers of a HEAD or GET answer. */
static void
object_from_headers(S3Object *o, const HttpResponseInfo *info)
{
	o->etag = info->etag[0] ? aws_unquote_etag(info->etag) : NULL;
	o->last_modified = parse_http_date(info->last_modified);
	o->size = info->content_length;
}

S3Object *
s3_head_object(AwsClient *c, const char *bucket, const char *key, bool missing_ok)
{
	S3Call		call = s3_call("HEAD", bucket, key, "find object");
	HttpTransfer *x;
	S3Object   *o;

	x = s3_request(c, &call);
	/* HEAD answers have no body to say why: a GET will tell */
	if (missing_ok && http_info(x)->status >= 400)
	{
		http_finish(x);
		return NULL;
	}
	if (http_info(x)->status != 200)
		s3_raise(c, &call, x);
	o = palloc0(sizeof(S3Object));
	o->bucket = pstrdup(bucket);
	o->key = pstrdup(key);
	object_from_headers(o, http_info(x));
	http_finish(x);
	return o;
}

/*
 * The headers of a GET of bytes [from, g->end): the Range, pinned to the
 * version we started with by If-Match when its ETag is known.
 */
static List *
range_headers(const S3Get *g, int64 from)
{
	List	   *headers;

	if (g->end < 0)
		headers = list_make1(psprintf("Range: bytes=" INT64_FORMAT "-", from));
	else
		headers = list_make1(psprintf("Range: bytes=" INT64_FORMAT "-" INT64_FORMAT,
									  from, g->end - 1));
	if (g->obj.etag)
		headers = lappend(headers, psprintf("If-Match: \"%s\"", g->obj.etag));
	return headers;
}

/*
 * s3_get_start_range: a streamed GET of bytes [start, end) of object "o"
 * (end -1: to its end), pinned to o->etag when it is known: all the
 * pieces of one object read by several requests are of one version.
 * With start 0 and end -1, a plain GET of the whole object, which takes
 * whatever version S3 has (o->etag is then only used to resume).
 * Everything of the GET lives in the current memory context: delete it
 * (after s3_get_close) when the object is done.
 */
S3Get *
s3_get_start_range(AwsClient *c, const S3Object *o, int64 start, int64 end, size_t buffer_size)
{
	S3Get	   *g = palloc0(sizeof(S3Get));

	g->client = c;
	g->cxt = CurrentMemoryContext;
	g->call = s3_call("GET", pstrdup(o->bucket), pstrdup(o->key), "read object");
	g->call.stream_buffer = Max(buffer_size, 64 * 1024);
	g->obj.bucket = (char *) g->call.bucket;
	g->obj.key = (char *) g->call.key;
	g->obj.size = o->size;
	g->obj.etag = o->etag ? pstrdup(o->etag) : NULL;
	g->obj.last_modified = o->last_modified;
	g->start = start;
	g->end = end;
	g->expect = -1;
	g->ranged = start > 0 || end >= 0;
	if (g->ranged)
		g->call.headers = range_headers(g, start);
	g->xfer = s3_send(c, &g->call);
	return g;
}

S3Get *
s3_get_start(AwsClient *c, const char *bucket, const char *key, size_t buffer_size)
{
	S3Object	o;

	memset(&o, 0, sizeof(o));
	o.bucket = (char *) bucket;
	o.key = (char *) key;
	o.size = -1;
	return s3_get_start_range(c, &o, 0, -1, buffer_size);
}

/* 412 on a pinned request: the object is not the version we started with. */
static void
s3_get_changed(S3Get *g)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("object \"%s\" changed while it was being read", g->call.uri),
			 errhint("Run the query again.")));
}

/*
 * s3_get_open: wait for the answer to the GET, retrying as any S3 request
 * is (s3_await).
 */
bool
s3_get_open(S3Get *g, bool missing_ok)
{
	AwsClient  *c = g->client;
	long		status;
	MemoryContext old = MemoryContextSwitchTo(g->cxt);

	s3_await(c, &g->call, &g->xfer);

	status = http_info(g->xfer)->status;
	if (status == 404 && missing_ok)
	{
		http_finish(g->xfer);
		g->xfer = NULL;
		MemoryContextSwitchTo(old);
		return false;
	}
	if (status == 412 && g->ranged)
		s3_get_changed(g);
	if (status != (g->ranged ? 206 : 200))
	{
		HttpTransfer *x = g->xfer;

		g->xfer = NULL;
		s3_raise(c, &g->call, x);
	}
	g->expect = http_info(g->xfer)->content_length;
	if (!g->ranged)
		object_from_headers(&g->obj, http_info(g->xfer));
	else if (g->obj.etag == NULL && http_info(g->xfer)->etag[0])
		g->obj.etag = aws_unquote_etag(http_info(g->xfer)->etag);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * Re-send a GET from byte "delivered" on, pinned to the ETag we started
 * with.  Called after the connection broke mid-body.
 */
static void
s3_get_resume(S3Get *g, const char *why)
{
	AwsClient  *c = g->client;
	HttpTransfer *x;
	long		status;

	if (g->resumes >= pipeline_s3_max_retries)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not read object \"%s\"", g->call.uri),
				 errdetail_internal("The transfer broke off after %llu bytes, %d times: %s",
									(unsigned long long) g->delivered, g->resumes + 1, why)));
	g->received += http_bytes_received(g->xfer);
	http_finish(g->xfer);
	g->xfer = NULL;
	s3_backoff(g->resumes++);

	g->call.headers = range_headers(g, g->start + (int64) g->delivered);
	g->xfer = x = s3_send(c, &g->call);
	if (!http_wait_headers(x))
	{
		s3_get_resume(g, http_error(x) ? http_error(x) : "no answer");
		return;
	}
	status = http_info(x)->status;
	if (status == 412)
		s3_get_changed(g);
	if (s3_status_retryable(status))
	{
		http_wait_done(x);
		s3_get_resume(g, psprintf("HTTP %ld", status));
		return;
	}
	if (status != 206)
	{
		http_wait_done(x);
		g->xfer = NULL;
		s3_raise(c, &g->call, x);
	}
}

/* Bytes the GET is to deliver in all, -1 if unknown. */
static int64
get_total(const S3Get *g)
{
	if (g->ranged)
	{
		int64		end = g->end;

		if (g->obj.size >= 0 && (end < 0 || end > g->obj.size))
			end = g->obj.size;
		return end < 0 ? -1 : end - g->start;
	}
	return g->obj.size >= 0 ? g->obj.size : g->expect;
}

size_t
s3_get_read(S3Get *g, char *dst, size_t len)
{
	for (;;)
	{
		ssize_t		n;
		int64		total = get_total(g);

		if (g->xfer == NULL)
			return 0;
		n = http_read(g->xfer, dst, len);
		if (n > 0)
		{
			g->delivered += n;
			return (size_t) n;
		}
		if (n == 0 && (total < 0 || g->delivered >= (uint64) total))
			return 0;
		{
			MemoryContext old = MemoryContextSwitchTo(g->cxt);

			s3_get_resume(g, n < 0 ? http_error(g->xfer) : "the body ended early");
			MemoryContextSwitchTo(old);
		}
	}
}

/*
 * s3_get_extend: a ranged GET that reached its end goes on to byte
 * "end" (exclusive; -1: the object's end), pinned to the same version.
 * Returns false if there is nothing more to read.
 */
bool
s3_get_extend(S3Get *g, int64 end)
{
	MemoryContext old;
	int64		from = g->start + (int64) g->delivered;

	if (!g->ranged || (g->obj.size >= 0 && from >= g->obj.size) ||
		(end >= 0 && end <= from))
		return false;
	old = MemoryContextSwitchTo(g->cxt);
	if (g->xfer)
	{
		g->received += http_bytes_received(g->xfer);
		http_finish(g->xfer);
		g->xfer = NULL;
	}
	g->end = end;
	g->call.headers = range_headers(g, from);
	g->xfer = s3_send(g->client, &g->call);
	if (!s3_get_open(g, false))
		elog(ERROR, "ranged GET found no object");
	MemoryContextSwitchTo(old);
	return true;
}

const S3Object *
s3_get_object(const S3Get *g)
{
	return &g->obj;
}

uint64
s3_get_delivered(const S3Get *g)
{
	return g->delivered;
}

uint64
s3_get_bytes(const S3Get *g)
{
	return g->received + (g->xfer ? http_bytes_received(g->xfer) : 0);
}

void
s3_get_close(S3Get *g)
{
	if (g->xfer)
		http_finish(g->xfer);
	g->xfer = NULL;
}
