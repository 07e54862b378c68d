/*-------------------------------------------------------------------------
 *
 * sqs.c
 *	  SQS client, JSON protocol: POST / with X-Amz-Target and a JSON body,
 *	  signed for the "sqs" service.
 *
 * Receives are started and finished separately so that the worker can
 * long-poll all its queues at once on one curl multi handle and wait for
 * whichever answers first, together with its latch.
 *
 * Bodies are built and parsed with jansson (small control documents; the
 * record decoder is elsewhere).  jansson's values are malloc'd: they are
 * always released before anything can raise an error.
 *
 * IDENTIFICATION
 *	  src/s3/sqs.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "s3/sqs.h"
#include "s3/url.h"

/*
 * A request in flight owns a small memory context: its body (which libcurl
 * sends from our memory), headers and signature, and the struct itself.  The
 * worker polls for its whole life, so a request's memory goes when the
 * request is finished or cancelled, never later.
 */
struct SqsReceive
{
	MemoryContext cxt;
	AwsClient  *client;
	char	   *queue_url;
	HttpTransfer *xfer;
};

/*
 * Where SQS requests go: the server's endpoint, or the queue URL's host.
 * Parsed by libcurl (url.c), and the request is built from what it parsed:
 * the host pipeline.add_queue checked is the host connected to, and a URL
 * with user information never gets here.
 */
static void
sqs_locate(AwsClient *c, const char *queue_url, const char **scheme, char **host)
{
	const char *url = c->cfg.endpoint ? c->cfg.endpoint : queue_url;
	Url			parsed;
	UrlStatus	st = url_parse(url, &parsed);

	if (st != URL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 st == URL_USERINFO ? errmsg("invalid SQS queue URL or endpoint") :
				 c->cfg.endpoint ? errmsg("invalid endpoint \"%s\"", url) :
				 errmsg("invalid SQS queue URL \"%s\"", url),
				 errdetail("%s", url_status_message(st))));
	*scheme = pstrdup(parsed.scheme);
	*host = pstrdup(parsed.authority);
	url_free(&parsed);
}

/* Sign and start one SQS action with a jansson body (which we consume). */
static HttpTransfer *
sqs_start(AwsClient *c, const char *queue_url, const char *action, json_t *body)
{
	const char *scheme;
	char	   *host;
	char	   *text = json_dumps(body, JSON_COMPACT);
	char	   *copy;
	List	   *headers;

	json_decref(body);
	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building an SQS request")));
	copy = pstrdup(text);
	free(text);

	sqs_locate(c, queue_url, &scheme, &host);
	headers = list_make2(pstrdup("Content-Type: application/x-amz-json-1.0"),
						 psprintf("X-Amz-Target: AmazonSQS.%s", action));
	return aws_start(c, "sqs", "POST", scheme, host, "/", NULL, headers,
					 copy, strlen(copy), 0);
}

/* The error of a failed SQS exchange, as one line. */
static char *
sqs_error(HttpTransfer *x)
{
	const char *terr = http_error(x);
	size_t		len;
	const char *body;
	json_t	   *doc;
	char	   *result = NULL;

	if (terr)
		return pstrdup(terr);
	body = http_body(x, &len);
	doc = json_loadb(body, len, 0, NULL);
	if (doc)
	{
		const char *type = json_string_value(json_object_get(doc, "__type"));
		const char *msg = json_string_value(json_object_get(doc, "message"));

		if (msg == NULL)
			msg = json_string_value(json_object_get(doc, "Message"));
		if (type && strchr(type, '#'))
			type = strchr(type, '#') + 1;
		result = psprintf("%s%s%s (HTTP %ld)", type ? type : "error",
						  msg ? ": " : "", msg ? msg : "", http_info(x)->status);
		json_decref(doc);
	}
	if (result == NULL)
		result = psprintf("HTTP %ld", http_info(x)->status);
	return result;
}

SqsReceive *
sqs_receive_start(AwsClient *c, const char *queue_url, int max_messages,
				  int wait_seconds, int visibility_timeout)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "SQS receive",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	SqsReceive *r = palloc0(sizeof(SqsReceive));
	json_t	   *body = json_pack("{s:s, s:i, s:i, s:[s], s:[s]}",
								 "QueueUrl", queue_url,
								 "MaxNumberOfMessages", max_messages,
								 "WaitTimeSeconds", wait_seconds,
								 "AttributeNames", "All",
								 "MessageSystemAttributeNames", "All");

	if (body == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building an SQS request")));
	if (visibility_timeout > 0)
		json_object_set_new(body, "VisibilityTimeout", json_integer(visibility_timeout));
	r->cxt = cxt;
	r->client = c;
	r->queue_url = pstrdup(queue_url);
	r->xfer = sqs_start(c, queue_url, "ReceiveMessage", body);
	MemoryContextSwitchTo(old);
	return r;
}

bool
sqs_receive_done(const SqsReceive *r)
{
	return http_done(r->xfer);
}

/*
 * Abandon a receive in flight (its messages come back after the visibility
 * timeout); r is gone afterwards.
 */
void
sqs_receive_cancel(SqsReceive *r)
{
	if (r->xfer)
		http_finish(r->xfer);
	MemoryContextDelete(r->cxt);
}

List *
sqs_receive_finish(SqsReceive *r, char **error)
{
	HttpTransfer *x = r->xfer;
	List	   *volatile result = NIL;
	json_t	   *volatile doc = NULL;

	/* whatever happens, the transfer leaves the shared client */
	r->xfer = NULL;
	*error = NULL;
	PG_TRY();
	{
		size_t		len;
		const char *text;
		json_t	   *msgs;
		size_t		i;

		if (!http_wait_done(x) || http_info(x)->status != 200)
			*error = sqs_error(x);
		else
		{
			text = http_body(x, &len);
			doc = json_loadb(text, len, 0, NULL);
			if (doc == NULL)
				*error = pstrdup("the answer to ReceiveMessage is not JSON");
		}
		msgs = doc ? json_object_get(doc, "Messages") : NULL;
		for (i = 0; json_is_array(msgs) && i < json_array_size(msgs); i++)
		{
			json_t	   *m = json_array_get(msgs, i);
			const char *id = json_string_value(json_object_get(m, "MessageId"));
			const char *rh = json_string_value(json_object_get(m, "ReceiptHandle"));
			const char *b = json_string_value(json_object_get(m, "Body"));
			json_t	   *attrs = json_object_get(m, "Attributes");
			const char *cnt = json_string_value(json_object_get(attrs, "ApproximateReceiveCount"));
			const char *sent = json_string_value(json_object_get(attrs, "SentTimestamp"));
			SqsMessage *sm;

			if (rh == NULL)
				continue;
			sm = palloc0(sizeof(SqsMessage));
			sm->message_id = pstrdup(id ? id : "");
			sm->receipt_handle = pstrdup(rh);
			sm->body = pstrdup(b ? b : "");
			sm->receive_count = cnt ? atoi(cnt) : 1;
			sm->sent = sent ? time_t_to_timestamptz(strtoll(sent, NULL, 10) / 1000) : 0;
			result = lappend(result, sm);
		}
	}
	PG_FINALLY();
	{
		if (doc)
			json_decref(doc);
		http_finish(x);
		MemoryContextDelete(r->cxt);
	}
	PG_END_TRY();
	return result;
}


struct SqsDelete
{
	MemoryContext cxt;			/* as a receive's */
	HttpTransfer *xfer;
	int			count;
};

/*
 * sqs_delete_start: DeleteMessageBatch (at most 10 receipts), started
 * without waiting, like a receive: a queue that hangs delays nothing.
 *
 * The HTTP client is the worker's, shared by every queue and kept for the
 * worker's life: a transfer left in it would be "done" forever, and
 * http_wait_any() would return at once on every later wait.  So every
 * delete ends in sqs_delete_finish or sqs_delete_cancel, whatever happens.
 */
SqsDelete *
sqs_delete_start(AwsClient *c, const char *queue_url, List *receipts)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "SQS delete",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	SqsDelete  *d = palloc0(sizeof(SqsDelete));
	json_t	   *entries = json_array();
	json_t	   *body;
	ListCell   *lc;

	Assert(list_length(receipts) <= 10);
	foreach(lc, receipts)
		json_array_append_new(entries,
							  json_pack("{s:s, s:s}", "Id",
										psprintf("m%d", foreach_current_index(lc)),
										"ReceiptHandle", (char *) lfirst(lc)));
	body = json_pack("{s:s, s:o}", "QueueUrl", queue_url, "Entries", entries);
	if (body == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building an SQS request")));
	d->cxt = cxt;
	d->count = list_length(receipts);
	d->xfer = sqs_start(c, queue_url, "DeleteMessageBatch", body);
	MemoryContextSwitchTo(old);
	return d;
}

bool
sqs_delete_done(const SqsDelete *d)
{
	return http_done(d->xfer);
}

/* Drive the delete (and the client's other transfers) for at most timeout_ms. */
bool
sqs_delete_wait(SqsDelete *d, int timeout_ms)
{
	return http_wait_done_until(d->xfer,
								TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms));
}

/* Abandon a delete in flight (the messages come back by themselves); d is gone. */
void
sqs_delete_cancel(SqsDelete *d)
{
	if (d->xfer)
		http_finish(d->xfer);
	MemoryContextDelete(d->cxt);
}

/*
 * sqs_delete_finish: how many messages were deleted; on failure of the
 * whole request, -1 and *error.  d is gone afterwards.
 */
int
sqs_delete_finish(SqsDelete *d, char **error)
{
	HttpTransfer *x = d->xfer;
	int			count = d->count;
	volatile int failed = -1;

	*error = NULL;
	PG_TRY();
	{
		if (!http_wait_done(x) || http_info(x)->status != 200)
			*error = sqs_error(x);
		else
		{
			size_t		len;
			const char *text = http_body(x, &len);
			json_t	   *doc = json_loadb(text, len, 0, NULL);

			if (doc == NULL)
				*error = pstrdup("the answer to DeleteMessageBatch is not JSON");
			else
			{
				failed = (int) json_array_size(json_object_get(doc, "Failed"));
				json_decref(doc);
			}
		}
	}
	PG_FINALLY();
	{
		/* whatever happens, the transfer leaves the shared client */
		http_finish(x);
		MemoryContextDelete(d->cxt);
	}
	PG_END_TRY();
	return failed < 0 ? -1 : count - failed;
}
