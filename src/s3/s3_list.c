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

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "lib/stringinfo.h"

#include "s3/s3_call.h"

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

/* Parse one ListObjectsV2 answer into "page". */
static void
list_parse(S3ListCall *lc, S3ListPage *page)
{
	const char *body;
	size_t		len;
	xmlDocPtr	doc;
	xmlNodePtr	root;
	xmlNodePtr	n;
	bool		truncated = false;

	body = http_body(lc->xfer, &len);
	doc = s3_xml_parse(body, len);
	if (doc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not list objects in \"%s\": the answer is not XML",
						lc->call.uri)));
	PG_TRY();
	{
		root = xmlDocGetRootElement(doc);
		for (n = root ? root->children : NULL; n; n = n->next)
		{
			if (n->type != XML_ELEMENT_NODE)
				continue;
			if (strcmp((const char *) n->name, "Contents") == 0)
			{
				S3Object   *o;
				char	   *size;
				char	   *etag;

				o = palloc0(sizeof(S3Object));
				o->bucket = (char *) lc->bucket;
				o->key = s3_xml_child_text(n, "Key");
				if (o->key == NULL)
					continue;
				size = s3_xml_child_text(n, "Size");
				o->size = size ? strtoll(size, NULL, 10) : -1;
				etag = s3_xml_child_text(n, "ETag");
				o->etag = aws_unquote_etag(etag);
				o->last_modified = aws_timestamp(s3_xml_child_text(n, "LastModified"), false);
				/* a "folder" placeholder object holds no records */
				if (o->size == 0 && o->key[0] && o->key[strlen(o->key) - 1] == '/')
					continue;
				page->objects = lappend(page->objects, o);
			}
			else if (strcmp((const char *) n->name, "CommonPrefixes") == 0)
			{
				char	   *prefix = s3_xml_child_text(n, "Prefix");

				if (prefix != NULL)
					page->prefixes = lappend(page->prefixes, prefix);
			}
			else if (strcmp((const char *) n->name, "IsTruncated") == 0)
			{
				xmlChar    *t = xmlNodeGetContent(n);

				truncated = t && strcmp((const char *) t, "true") == 0;
				if (t)
					xmlFree(t);
			}
		}
		page->next_token = truncated ? s3_xml_child_text(root, "NextContinuationToken") : NULL;
		if (page->next_token && page->next_token[0] == '\0')
			page->next_token = NULL;
	}
	PG_FINALLY();
	{
		xmlFreeDoc(doc);
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
