/*-------------------------------------------------------------------------
 *
 * aws_text.c
 *	  AWS's texts read the same way everywhere: ISO-8601 times (a listing's
 *	  LastModified, an event's eventTime) and quoted ETags.
 *
 * Apart from aws.c (the signed requests) because event messages use them
 * too: with these alone, src/s3/event.c is built outside the server for
 * its fuzzer (test/fuzz/fuzz_event.c, test/fuzz/backend_shim.c).
 *
 * IDENTIFICATION
 *	  src/s3/aws_text.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "decode/iso8601.h"
#include "s3/aws.h"

/* aws_timestamp: an ISO-8601 time of AWS's as a timestamptz (see aws.h). */
TimestampTz
aws_timestamp(const char *s, bool need_offset)
{
	Iso8601		t;

	if (s == NULL || !iso8601_parse(s, strlen(s), &t) || (need_offset && !t.has_offset))
		return 0;
	return (TimestampTz) iso8601_epoch_usecs(&t) -
		(TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
}

/* aws_unquote_etag: strip the quotes S3 puts around ETags (NULL stays NULL). */
char *
aws_unquote_etag(const char *etag)
{
	size_t		len;

	if (etag == NULL)
		return NULL;
	len = strlen(etag);
	if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"')
		return pnstrdup(etag + 1, len - 2);
	return pstrdup(etag);
}
