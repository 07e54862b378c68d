/*-------------------------------------------------------------------------
 *
 * http.h
 *	  HTTP transfers over libcurl's multi interface, waiting on the process
 *	  latch so that query cancel, statement_timeout, SIGTERM and postmaster
 *	  death interrupt a transfer at once.
 *
 * An HttpClient owns a curl multi handle and any number of concurrent
 * transfers (several GETs in flight while one is being decoded).  It
 * belongs to a memory context: resetting or deleting that context (which
 * is what an error does) removes every transfer and frees libcurl's
 * malloc'd memory, so an ereport anywhere leaks nothing.
 *
 * A client that outlives errors (the worker's, which lives as long as the
 * process) gets no such clean-up: there, every path out of a request,
 * errors included, must http_finish() its transfer.  A finished transfer
 * left behind makes every later http_wait_any() return at once.
 *
 * Nothing in this file knows S3; s3.c builds, signs and retries requests.
 *
 * IDENTIFICATION
 *	  src/s3/http.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_HTTP_H
#define PIPELINE_HTTP_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "s3/http_header.h"		/* HttpResponseInfo */

typedef struct HttpClient HttpClient;
typedef struct HttpTransfer HttpTransfer;

/* What one request looks like. */
typedef struct HttpRequest
{
	const char *method;			/* GET, PUT, POST, HEAD, DELETE */
	const char *url;
	List	   *headers;		/* of char *, "Name: value" */
	const char *body;			/* request body or NULL; not copied, must
								 * outlive the transfer */
	size_t		body_len;
	size_t		stream_buffer;	/* > 0: stream the response body through a
								 * buffer of this size (see http_read);
								 * 0: collect the whole body */
	long		timeout_ms;		/* > 0: give up on the whole exchange after
								 * this long */
	bool		path_as_is;		/* send the path exactly as given: no
								 * removal of "./" and "../" segments (the
								 * path was signed, and is an S3 key) */
} HttpRequest;

extern HttpClient *http_client_create(MemoryContext mcxt);
extern void http_client_destroy(HttpClient *client);

/* Start a transfer; it makes progress whenever the client is waited on. */
extern HttpTransfer *http_start(HttpClient *client, const HttpRequest *req);

/* Remove a transfer (finished or not) and free it. */
extern void http_finish(HttpTransfer *xfer);

/*
 * Wait until the transfer has completed, collecting the whole body.
 * Returns true if the HTTP exchange completed (any status), false on a
 * transport error (connection refused, reset, timeout); the reason is in
 * http_error().
 */
extern bool http_wait_done(HttpTransfer *xfer);

/*
 * Streaming: copy up to "len" bytes of response body into "dst", waiting
 * for data if none is buffered.  Returns the number of bytes copied, 0 at
 * the end of the body.  Returns -1 on a transport error (http_error()).
 * Only for 2xx responses of streaming transfers; check http_info() first.
 */
extern ssize_t http_read(HttpTransfer *xfer, char *dst, size_t len);

/* Wait until the transfer is done (true), or the deadline passed (false). */
extern bool http_wait_done_until(HttpTransfer *xfer, TimestampTz deadline);

/* Wait until the status line and headers of the response are in. */
extern bool http_wait_headers(HttpTransfer *xfer);

/* Wait until any transfer of the client is done, the latch is set, or timeout. */
extern void http_wait_any(HttpClient *client, long timeout_ms);
extern bool http_done(const HttpTransfer *xfer);

extern const HttpResponseInfo *http_info(const HttpTransfer *xfer);

/* The collected body (non-streaming transfers, or an error body). */
extern const char *http_body(const HttpTransfer *xfer, size_t *len);

/* Transport error text, or NULL. */
extern const char *http_error(const HttpTransfer *xfer);

/* Bytes of body received so far (compressed bytes, for EXPLAIN ANALYZE). */
extern uint64 http_bytes_received(const HttpTransfer *xfer);

/* Sleep for "ms" milliseconds on the latch (interruptible). */
extern void http_sleep(long ms);

#endif							/* PIPELINE_HTTP_H */
