/*-------------------------------------------------------------------------
 *
 * s3_list.c
 *	  Listing objects (ListObjectsV2), a page at a time.
 *
 * A page is requested (s3_list_start) while the caller waits on other
 * transfers of the client, and collected (s3_list_finish) with the
 * retries of any S3 request (s3.c).
 *
 * IDENTIFICATION
 *	  src/s3/s3_list.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/timestamp.h"

#include "s3/s3_call.h"
#include "s3/s3_xml.h"

/* One ListObjectsV2 request in flight (s3_list_start). */
struct S3ListCall
{
	AwsClient  *client;
	MemoryContext cxt;
	S3Call		call;
	HttpTransfer *xfer;
	const char *bucket;
};

/*
 * s3_list_start: send one ListObjectsV2 request (a page of at most
 * "max_keys" keys, 0: S3's default of 1000) for the keys under "prefix"
 * after continuation "token" (NULL: from the start), grouped by
 * "delimiter" if not NULL.  The request proceeds while the caller waits
 * on other transfers of the client; s3_list_finish collects the page.
 * Everything lives in the current memory context.
 */
S3ListCall *
s3_list_start(AwsClient *c, const char *bucket, const char *prefix, const char *delimiter,
			  const char *token, int max_keys)
{
	S3ListCall *lc = palloc0(sizeof(S3ListCall));
	StringInfoData q;

	lc->client = c;
	lc->cxt = CurrentMemoryContext;
	lc->bucket = pstrdup(bucket);
	lc->call = s3_call("GET", lc->bucket, NULL, "list objects in");
	/* named in errors by the prefix listed */
	lc->call.uri = s3_make_uri(bucket, prefix);

	/* parameters in canonical (sorted) order */
	initStringInfo(&q);
	if (token)
		s3_query_param(&q, "continuation-token", token);
	if (delimiter)
		s3_query_param(&q, "delimiter", delimiter);
	s3_query_param(&q, "list-type", "2");
	if (max_keys > 0 && max_keys < 1000)
		s3_query_param(&q, "max-keys", psprintf("%d", max_keys));
	if (prefix[0])
		s3_query_param(&q, "prefix", prefix);
	lc->call.query = q.data;
	lc->xfer = s3_send(c, &lc->call);
	return lc;
}

/*
 * Parse one ListObjectsV2 answer into "page": s3_xml.c reads it (the code
 * the fuzzer runs); its malloc'd results are copied here and freed
 * whatever happens.
 */
static void
list_parse(S3ListCall *lc, S3ListPage *page)
{
	const char *body;
	size_t		len;
	S3XmlList	list;

	body = http_body(lc->xfer, &len);
	if (!s3xml_parse_list(body, len, &list))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not list objects in \"%s\": the answer is not XML",
						lc->call.uri)));
	PG_TRY();
	{
		int			i;

		for (i = 0; i < list.nobjects; i++)
		{
			const S3XmlObject *x = &list.objects[i];
			S3Object   *o = palloc0(sizeof(S3Object));

			o->bucket = (char *) lc->bucket;
			o->key = pstrdup(x->key);
			o->size = x->size;
			o->etag = x->etag ? pstrdup(x->etag) : NULL;
			if (x->has_time)
				o->last_modified = (TimestampTz) x->last_modified -
					(TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
			page->objects = lappend(page->objects, o);
		}
		for (i = 0; i < list.nprefixes; i++)
			page->prefixes = lappend(page->prefixes, pstrdup(list.prefixes[i]));
		page->next_token = list.next_token ? pstrdup(list.next_token) : NULL;
	}
	PG_FINALLY();
	{
		s3xml_list_free(&list);
	}
	PG_END_TRY();
}

/*
 * s3_list_finish: wait for the page of s3_list_start (retrying as S3
 * asks), and return it.  Errors are raised.
 */
S3ListPage *
s3_list_finish(S3ListCall *lc)
{
	AwsClient  *c = lc->client;
	MemoryContext old = MemoryContextSwitchTo(lc->cxt);
	S3ListPage *page = palloc0(sizeof(S3ListPage));

	s3_await(c, &lc->call, &lc->xfer);
	if (http_info(lc->xfer)->status != 200)
	{
		HttpTransfer *x = lc->xfer;

		lc->xfer = NULL;
		s3_raise(c, &lc->call, x);
	}
	PG_TRY();
	{
		list_parse(lc, page);
	}
	PG_FINALLY();
	{
		http_finish(lc->xfer);
		lc->xfer = NULL;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	return page;
}

/* Abandon a listing request that is still in flight. */
void
s3_list_cancel(S3ListCall *lc)
{
	if (lc->xfer)
		http_finish(lc->xfer);
	lc->xfer = NULL;
}

/* s3_list_page: one page of a listing, waited for. */
S3ListPage *
s3_list_page(AwsClient *c, const char *bucket, const char *prefix, const char *delimiter,
			 const char *token, int max_keys)
{
	return s3_list_finish(s3_list_start(c, bucket, prefix, delimiter, token, max_keys));
}
