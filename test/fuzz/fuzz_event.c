/*-------------------------------------------------------------------------
 *
 * fuzz_event.c
 *	  libFuzzer harness of the event message parser (src/s3/event.c): S3
 *	  event notifications as SQS delivers them, bare, in an SNS envelope or
 *	  as EventBridge events.  Anyone who can send to the queue writes these
 *	  bytes.  event.c is backend code: it is built against the server's
 *	  headers with backend_shim.c (palloc on malloc, lappend) and
 *	  PostgreSQL's libpgcommon (StringInfo, the UTF-8 check).
 *
 * An input is 4 option bytes and then data.  The first option bit says
 * what the data is:
 *
 *	- a message body as it comes (mutations of the seeds).  Checked: the
 *	  kind is one of the three; objects come only with EVENT_OBJECTS, and
 *	  then each has a bucket, a key that is valid UTF-8 without a NUL byte,
 *	  an event name, a sequencer that is hexadecimal of 1 to 64 digits or
 *	  none, and a version (event_object_version) that is not NULL; a
 *	  normalised sequencer is upper case without trailing zeros; otherwise
 *	  there is a reason; parsing again gives the same answer;
 *	- or the object key of a message to write here: any bytes, form-URL-
 *	  encoded as S3 does (each byte literal, %XX in upper or lower case, or
 *	  '+' for a space, as the option bytes choose) in a record among
 *	  records of other event names, bare or in an SNS envelope, or written
 *	  as is into an EventBridge event.  The key read must be the bytes
 *	  written when they are UTF-8 without NUL, and the message invalid
 *	  otherwise; size, ETag (without its quotes), sequencer and time must
 *	  be those written.
 *
 * IDENTIFICATION
 *	  test/fuzz/fuzz_event.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/timestamp.h"

#include "fuzz.h"
#include "backend_shim.h"
#include "s3/event.h"

static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
static bool
valid_utf8(const unsigned char *s, size_t n)
{
	size_t		i = 0;

	while (i < n)
	{
		unsigned char c = s[i];
		size_t		len;
		uint32_t	cp;

		if (c == 0)
			return false;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (size_t j = 1; j < len; j++)
		{
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
			(cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += len;
	}
	return true;
}

static bool
valid_sequencer(const char *s)
{
	size_t		len = strlen(s);

	return len > 0 && len <= 64 && strspn(s, "0123456789abcdefABCDEF") == len;
}

/* Properties of any answer; the objects as text, to compare two answers. */
static void
check_answer(EventKind k, List *objects, const char *reason, Str *out)
{
	ListCell   *lc;

	CHECK(k == EVENT_OBJECTS || k == EVENT_IGNORED || k == EVENT_INVALID);
	str_addf(out, "kind %d\n", (int) k);
	if (k != EVENT_OBJECTS)
	{
		CHECK(reason != NULL);
		str_add(out, reason, strlen(reason));
		return;
	}
	CHECK(objects != NIL && list_length(objects) > 0);
	foreach(lc, objects)
	{
		EventObject *o = lfirst(lc);
		const char *v;

		CHECK(o->bucket != NULL && o->key != NULL && o->event_name != NULL);
		CHECK(valid_utf8((const unsigned char *) o->key, strlen(o->key)));
		CHECK(o->sequencer == NULL || valid_sequencer(o->sequencer));
		v = event_object_version(o);
		CHECK(v != NULL);
		if (o->sequencer)
		{
			char	   *norm = event_sequencer_norm(o->sequencer);
			size_t		len = strlen(norm);

			CHECK(len > 0 && len <= strlen(o->sequencer));
			CHECK(strspn(norm, "0123456789ABCDEF") == len);
			CHECK(len == 1 || norm[len - 1] != '0');
		}
		str_addf(out, "%s\x1f%s\x1f%lld\x1f%s\x1f%s\x1f%s\x1f%s\x1f%lld\x1f%s\n",
				 o->bucket, o->key, (long long) o->size, o->etag ? o->etag : "-",
				 o->sequencer ? o->sequencer : "-", o->version_id ? o->version_id : "-",
				 o->event_name, (long long) o->event_time, v);
	}
}

static void
fuzz_raw(const uint8_t *p, size_t n)
{
	/* as the callers give it: a NUL-terminated body, its length strlen */
	char	   *body = malloc(n + 1);
	List	   *objects;
	char	   *reason;
	EventKind	k;
	Str			a = {0},
				b = {0};

	CHECK(body != NULL);
	if (n)
		memcpy(body, p, n);
	body[n] = '\0';
	k = event_parse(body, strlen(body), &objects, &reason);
	check_answer(k, objects, reason, &a);
	k = event_parse(body, strlen(body), &objects, &reason);
	check_answer(k, objects, reason, &b);
	CHECK(a.len == b.len && memcmp(a.s, b.s, a.len) == 0);
	str_free(&a);
	str_free(&b);
	free(body);
}

/* ----------------------------------------------------------------
 * Generated messages
 * ----------------------------------------------------------------
 */

/* bytes as the inside of a JSON string (UTF-8 is kept as is) */
static void
json_escape(Str *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			str_add(out, "\\", 1);
			str_add(out, &c, 1);
		}
		else if (c < 0x20)
			str_addf(out, "\\u%04x", c);
		else
			str_add(out, &c, 1);
	}
}

static void
form_encode(Str *out, const uint8_t *s, size_t n, FuzzIn *how, bool raw_high)
{
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = s[i];
		uint8_t		h = take_u8(how);
		bool		plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || (c != 0 && strchr("-_.*/!~'()", c) != NULL);

		if (c == ' ' && !(h & 1))
			str_add(out, "+", 1);
		else if (plain && !(h & 2))
			str_add(out, &c, 1);
		else if (c >= 0x80 && raw_high)
			str_add(out, &c, 1);	/* raw UTF-8, as some writers send */
		else
			str_addf(out, (h & 8) ? "%%%02x" : "%%%02X", c);
	}
}

static void
fuzz_generated(uint8_t o1, uint8_t o2, uint8_t o3, const uint8_t *p, size_t n)
{
	FuzzIn		how = {p, n};
	Str			rec = {0};
	Str			msg = {0};
	Str			t = {0};
	bool		key_ok = valid_utf8(p, n);
	bool		bridge = (o1 & 3) == 3;
	bool		sns = (o1 & 3) == 1;
	int			before = (o1 >> 2) & 3;
	char		seq[24];
	int64		size = (int64) o2 * 1000 + o3;
	const char *etag = "0123456789abcdef0123456789abcdef";
	List	   *objects;
	char	   *reason;
	EventKind	k;
	EventObject *o;

	snprintf(seq, sizeof(seq), "%02X%02x%02X00", o1, o2, o3);
	if (bridge)
	{
		/* EventBridge keys are not form-encoded: only valid JSON text */
		if (!key_ok)
			return;
		str_lit(&msg, "{\"version\":\"0\",\"detail-type\":\"Object Created\",\"source\":\"aws.s3\","
				"\"time\":\"2026-11-25T10:00:00Z\",\"detail\":{\"bucket\":{\"name\":\"b\"},"
				"\"object\":{\"key\":\"");
		json_escape(&msg, (const char *) p, n);
		str_addf(&msg, "\",\"size\":%lld,\"etag\":\"%s\",\"sequencer\":\"%s\"}}}",
				 (long long) size, etag, seq);
	}
	else
	{
		str_lit(&rec, "{\"Records\":[");
		for (int i = 0; i < before; i++)
			str_lit(&rec, "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectRemoved:Delete\","
					"\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"%ZZ\"}}},");
		str_lit(&rec, "{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\","
				"\"eventTime\":\"2026-11-25T10:00:00.000Z\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
				"\"object\":{\"key\":\"");
		form_encode(&t, p, n, &how, key_ok && (o1 & 16));
		json_escape(&rec, t.s ? t.s : "", t.len);
		str_addf(&rec, "\",\"size\":%lld,\"eTag\":\"\\\"%s\\\"\",\"sequencer\":\"%s\"}}}]}",
				 (long long) size, etag, seq);
		if (sns)
		{
			str_lit(&msg, "{\"Type\":\"Notification\",\"MessageId\":\"m\",\"Message\":\"");
			json_escape(&msg, rec.s, rec.len);
			str_lit(&msg, "\"}");
		}
		else
			str_add(&msg, rec.s, rec.len);
	}

	k = event_parse(msg.s, msg.len, &objects, &reason);
	if (!key_ok)
	{
		CHECK(k == EVENT_INVALID);
		if (strstr(reason, "key") == NULL)
			fprintf(stderr, "%s\n%s\n", msg.s, reason);
		CHECK(strstr(reason, "key") != NULL);
	}
	else
	{
		if (k != EVENT_OBJECTS)
			fprintf(stderr, "%s\n%s\n", msg.s, reason);
		CHECK(k == EVENT_OBJECTS);
		CHECK(list_length(objects) == 1);
		o = linitial(objects);
		CHECK(strcmp(o->bucket, "b") == 0);
		CHECK(strlen(o->key) == n && memcmp(o->key, p, n) == 0);
		CHECK(o->size == size);
		CHECK(same_str(o->etag, etag));
		CHECK(same_str(o->sequencer, seq));
		CHECK(o->event_time == (TimestampTz) (INT64CONST(1795600800) * USECS_PER_SEC -
											   (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY));
	}
	str_free(&rec);
	str_free(&msg);
	str_free(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzIn		in = {data, size};
	uint8_t		o0 = take_u8(&in);
	uint8_t		o1 = take_u8(&in);
	uint8_t		o2 = take_u8(&in);
	uint8_t		o3 = take_u8(&in);

	if (o0 & 1)
		fuzz_generated(o1, o2, o3, in.p, in.len);
	else
		fuzz_raw(in.p, in.len);
	shim_reset();
	return 0;
}
