/*-------------------------------------------------------------------------
 *
 * s3_put.c
 *	  Writing objects: multipart uploads (create, upload a part, complete,
 *	  abort).
 *
 * Exports stage their result as a multipart upload that the worker
 * completes after the run's transaction commits (report/outbox.c), so
 * every write is one of these.
 *
 * IDENTIFICATION
 *	  src/s3/s3_put.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "s3/s3_call.h"
#include "s3/s3_xml.h"

/* Parse an XML answer and return the text of one child of its root. */
static char *
xml_answer_field(AwsClient *c, const S3Call *call, HttpTransfer *x,
				 const char *root_name, const char *field)
{
	const char *body;
	size_t		len;
	char	   *result;

	body = http_body(x, &len);
	result = s3_xml_text(s3xml_child_text(body, len, root_name, field));
	/* S3 may answer 200 with an <Error> body (CompleteMultipartUpload) */
	if (result == NULL)
		s3_raise(c, call, x);
	return result;
}

char *
s3_multipart_create(AwsClient *c, const char *bucket, const char *key,
					const char *content_type)
{
	S3Call		call = s3_call("POST", bucket, key, "start a multipart upload to");
	HttpTransfer *x;
	char	   *id;

	call.query = "uploads=";
	call.body = "";
	call.body_len = 0;
	call.content_type = content_type;
	x = s3_request(c, &call);
	if (http_info(x)->status != 200)
		s3_raise(c, &call, x);
	id = xml_answer_field(c, &call, x, "InitiateMultipartUploadResult", "UploadId");
	http_finish(x);
	return id;
}

char *
s3_multipart_upload_part(AwsClient *c, const char *bucket, const char *key,
						 const char *upload_id, int part_number,
						 const char *data, size_t len)
{
	S3Call		call = s3_call("PUT", bucket, key, "upload a part of");
	HttpTransfer *x;
	StringInfoData q;
	char	   *etag;

	initStringInfo(&q);
	s3_query_param(&q, "partNumber", psprintf("%d", part_number));
	s3_query_param(&q, "uploadId", upload_id);
	call.query = q.data;
	call.body = data;
	call.body_len = len;
	call.content_type = "application/octet-stream";
	x = s3_request(c, &call);
	if (http_info(x)->status != 200 || http_info(x)->etag[0] == '\0')
		s3_raise(c, &call, x);
	etag = aws_unquote_etag(http_info(x)->etag);
	http_finish(x);
	return etag;
}

char *
s3_multipart_complete(AwsClient *c, const char *bucket, const char *key,
					  const char *upload_id, List *etags, bool missing_ok)
{
	S3Call		call = s3_call("POST", bucket, key, "complete the multipart upload of");
	HttpTransfer *x;
	StringInfoData q;
	StringInfoData body;
	ListCell   *lc;
	char	   *etag;

	initStringInfo(&q);
	s3_query_param(&q, "uploadId", upload_id);
	initStringInfo(&body);
	appendStringInfoString(&body, "<CompleteMultipartUpload>");
	foreach(lc, etags)
		appendStringInfo(&body, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>",
						 foreach_current_index(lc) + 1, (char *) lfirst(lc));
	appendStringInfoString(&body, "</CompleteMultipartUpload>");

	call.query = q.data;
	call.body = body.data;
	call.body_len = body.len;
	call.content_type = "application/xml";
	x = s3_request(c, &call);
	if (http_info(x)->status == 404 && missing_ok)
	{
		http_finish(x);
		return NULL;
	}
	if (http_info(x)->status != 200)
		s3_raise(c, &call, x);
	etag = xml_answer_field(c, &call, x, "CompleteMultipartUploadResult", "ETag");
	http_finish(x);
	return aws_unquote_etag(etag);
}

void
s3_multipart_abort(AwsClient *c, const char *bucket, const char *key,
				   const char *upload_id)
{
	S3Call		call = s3_call("DELETE", bucket, key, "abort the multipart upload of");
	HttpTransfer *x;
	StringInfoData q;

	initStringInfo(&q);
	s3_query_param(&q, "uploadId", upload_id);
	call.query = q.data;
	x = s3_request(c, &call);
	if (http_info(x)->status != 204 && http_info(x)->status != 200 &&
		http_info(x)->status != 404)
		s3_raise(c, &call, x);
	http_finish(x);
}
