/*-------------------------------------------------------------------------
 *
 * event.c
 *	  Queue messages -> the S3 objects they announce.
 *
 * Accepted shapes (parsed with jansson: small control documents):
 *	- S3 event notifications: {"Records":[{"eventSource":"aws:s3",
 *	  "eventName":"ObjectCreated:Put","s3":{"bucket":{"name":..},
 *	  "object":{"key":..,"size":..,"eTag":..,"sequencer":..}}}]},
 *	  several records per message, keys form-URL-encoded;
 *	- the same wrapped in an SNS envelope ({"Type":"Notification",
 *	  "Message":"<the event as a string>"}), or delivered raw by SNS;
 *	- EventBridge "Object Created" events (keys not encoded).
 * s3:TestEvent messages and events other than object creation are
 * acknowledged and ignored; anything else is invalid and goes to the
 * dead letters.
 *
 * IDENTIFICATION
 *	  src/s3/event.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/timestamp.h"

#include "s3/aws.h"
#include "s3/event.h"
#include "s3/url.h"

/*
 * Form-URL-decode an S3 event key ("a+b%2Bc" -> "a b+c") into *out.
 * Returns NULL, or why the key cannot be a key ("" if it is not even
 * form-URL-encoded): S3 keys are UTF-8 without NUL bytes, and a key that is
 * not would end up in pipeline.processed as text that the database should
 * not hold and a restore of pg_dump's output refuses.
 */
static const char *
form_decode(const char *s, char **out)
{
	size_t		len = strlen(s);
	char	   *buf = palloc(len + 1);
	size_t		n;

	*out = NULL;
	switch (url_percent_decode(s, len, true, true, buf, &n))
	{
		case URL_DECODE_OK:
			break;
		case URL_DECODE_MALFORMED:
			return "";			/* malformed: no valid key at all */
		case URL_DECODE_NUL:
			return "decodes to a NUL byte (%00)";
	}
	if (pg_encoding_verifymbstr(PG_UTF8, buf, n) != n)
		return "decodes to invalid UTF-8";
	*out = buf;
	return NULL;
}

static char *
json_str(json_t *obj, const char *name)
{
	const char *v = json_string_value(json_object_get(obj, name));

	return v ? pstrdup(v) : NULL;
}

static int64
json_int(json_t *obj, const char *name)
{
	json_t	   *v = json_object_get(obj, name);

	if (json_is_integer(v))
		return (int64) json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return -1;
}

/* An ISO-8601 event time ("2026-11-25T10:00:00.123Z"); 0 if absent or odd. */
static TimestampTz
json_time(json_t *obj, const char *name)
{
	return aws_timestamp(json_string_value(json_object_get(obj, name)), true);
}

/*
 * A sequencer must look like one (hexadecimal, of a sane length): it
 * decides which of two versions of a key is the newer.
 */
static bool
valid_sequencer(const char *s)
{
	size_t		len = strlen(s);

	return len > 0 && len <= 64 && strspn(s, "0123456789abcdefABCDEF") == len;
}

/* Every palloc'd result is made before the jansson tree is freed. */
static EventKind parse_doc(json_t *doc, int depth, List **objects, char **reason);

static EventKind
parse_records(json_t *records, List **objects, char **reason)
{
	size_t		i;
	int			ignored = 0;

	for (i = 0; i < json_array_size(records); i++)
	{
		json_t	   *rec = json_array_get(records, i);
		const char *source = json_string_value(json_object_get(rec, "eventSource"));
		const char *name = json_string_value(json_object_get(rec, "eventName"));
		json_t	   *s3 = json_object_get(rec, "s3");
		json_t	   *obj = json_object_get(s3, "object");
		EventObject *o;
		char	   *rawkey;
		const char *why;

		if (source == NULL || name == NULL ||
			strlen(source) < 3 || strcmp(source + strlen(source) - 3, ":s3") != 0)
		{
			*reason = psprintf("record %zu is not an S3 event record", i + 1);
			return EVENT_INVALID;
		}
		if (strncmp(name, "ObjectCreated:", 14) != 0)
		{
			ignored++;
			continue;
		}
		o = palloc0(sizeof(EventObject));
		o->bucket = json_str(json_object_get(s3, "bucket"), "name");
		rawkey = json_str(obj, "key");
		if (o->bucket == NULL || rawkey == NULL)
		{
			*reason = psprintf("record %zu has no valid bucket name and object key", i + 1);
			return EVENT_INVALID;
		}
		why = form_decode(rawkey, &o->key);
		if (why != NULL)
		{
			*reason = why[0] ?
				psprintf("the object key of record %zu %s", i + 1, why) :
				psprintf("record %zu has no valid bucket name and object key", i + 1);
			return EVENT_INVALID;
		}
		o->size = json_int(obj, "size");
		o->etag = aws_unquote_etag(json_string_value(json_object_get(obj, "eTag")));
		o->sequencer = json_str(obj, "sequencer");
		o->version_id = json_str(obj, "versionId");
		o->event_name = pstrdup(name);
		o->event_time = json_time(rec, "eventTime");
		if (o->sequencer && !valid_sequencer(o->sequencer))
		{
			*reason = psprintf("record %zu has an invalid sequencer", i + 1);
			return EVENT_INVALID;
		}
		*objects = lappend(*objects, o);
	}
	if (*objects == NIL)
	{
		*reason = ignored ? pstrdup("no ObjectCreated records") : pstrdup("no records");
		return EVENT_IGNORED;
	}
	return EVENT_OBJECTS;
}

static EventKind
parse_eventbridge(json_t *doc, List **objects, char **reason)
{
	const char *type = json_string_value(json_object_get(doc, "detail-type"));
	json_t	   *detail = json_object_get(doc, "detail");
	json_t	   *obj = json_object_get(detail, "object");
	EventObject *o;

	if (type == NULL || strcmp(type, "Object Created") != 0)
	{
		*reason = psprintf("EventBridge event \"%s\" is not \"Object Created\"",
						   type ? type : "");
		return EVENT_IGNORED;
	}
	o = palloc0(sizeof(EventObject));
	o->bucket = json_str(json_object_get(detail, "bucket"), "name");
	o->key = json_str(obj, "key");
	if (o->bucket == NULL || o->key == NULL)
	{
		*reason = pstrdup("the EventBridge event has no bucket name and object key");
		return EVENT_INVALID;
	}
	o->size = json_int(obj, "size");
	o->etag = aws_unquote_etag(json_string_value(json_object_get(obj, "etag")));
	o->sequencer = json_str(obj, "sequencer");
	o->version_id = json_str(obj, "version-id");
	o->event_name = pstrdup("ObjectCreated");
	o->event_time = json_time(doc, "time");
	if (o->sequencer && !valid_sequencer(o->sequencer))
	{
		*reason = pstrdup("the EventBridge event has an invalid sequencer");
		return EVENT_INVALID;
	}
	*objects = lappend(*objects, o);
	return EVENT_OBJECTS;
}

static EventKind
parse_doc(json_t *doc, int depth, List **objects, char **reason)
{
	const char *type;
	const char *event;
	const char *source;
	json_t	   *records;

	if (!json_is_object(doc))
	{
		*reason = pstrdup("the message is not a JSON object");
		return EVENT_INVALID;
	}

	/* SNS envelope: the S3 event is a string inside */
	type = json_string_value(json_object_get(doc, "Type"));
	if (type && strcmp(type, "Notification") == 0 && depth == 0)
	{
		const char *msg = json_string_value(json_object_get(doc, "Message"));
		json_error_t err;
		json_t	   *inner;
		EventKind	k;

		if (msg == NULL)
		{
			*reason = pstrdup("the SNS notification has no Message");
			return EVENT_INVALID;
		}
		inner = json_loads(msg, 0, &err);
		if (inner == NULL)
		{
			*reason = psprintf("the SNS Message is not JSON: %s (line %d, column %d)",
							   err.text, err.line, err.column);
			return EVENT_INVALID;
		}
		k = parse_doc(inner, depth + 1, objects, reason);
		json_decref(inner);
		return k;
	}
	if (type && strcmp(type, "SubscriptionConfirmation") == 0)
	{
		*reason = pstrdup("SNS subscription confirmation");
		return EVENT_IGNORED;
	}

	event = json_string_value(json_object_get(doc, "Event"));
	if (event && strcmp(event, "s3:TestEvent") == 0)
	{
		*reason = pstrdup("s3:TestEvent");
		return EVENT_IGNORED;
	}

	records = json_object_get(doc, "Records");
	if (json_is_array(records))
		return parse_records(records, objects, reason);

	source = json_string_value(json_object_get(doc, "source"));
	if (source && strcmp(source, "aws.s3") == 0)
		return parse_eventbridge(doc, objects, reason);

	*reason = pstrdup("not an S3 event (no Records, no SNS envelope, no EventBridge event)");
	return EVENT_INVALID;
}

/*
 * event_parse: the objects a message announces.  EVENT_OBJECTS fills
 * *objects; otherwise *reason says why the message is ignored or invalid.
 */
EventKind
event_parse(const char *body, size_t len, List **objects, char **reason)
{
	json_error_t err;
	json_t	   *doc = json_loadb(body, len, 0, &err);
	EventKind	k;

	*objects = NIL;
	*reason = NULL;
	if (doc == NULL)
	{
		*reason = psprintf("the message is not JSON: %s (line %d, column %d)",
						   err.text, err.line, err.column);
		return EVENT_INVALID;
	}
	PG_TRY();
	{
		k = parse_doc(doc, 0, objects, reason);
	}
	PG_FINALLY();
	{
		json_decref(doc);
	}
	PG_END_TRY();
	return k;
}

char *
event_sequencer_norm(const char *sequencer)
{
	char	   *s = pstrdup(sequencer);
	int			len = strlen(s);
	int			i;

	for (i = 0; i < len; i++)
		s[i] = pg_toupper((unsigned char) s[i]);
	while (len > 1 && s[len - 1] == '0')
		s[--len] = '\0';
	return s;
}

char *
event_object_version(const EventObject *o)
{
	if (o->version_id && o->version_id[0])
		return o->version_id;
	if (o->sequencer && o->sequencer[0])
		return event_sequencer_norm(o->sequencer);
	if (o->etag && o->etag[0])
		return o->etag;
	return "";
}
