/*-------------------------------------------------------------------------
 *
 * stream.c
 *	  The byte stream of one object or part: GET -> compressed buffer ->
 *	  inflate (or copy) -> data buffer.
 *
 * The data buffer keeps the incomplete record at its end and moves it to
 * the front before the next fill, so memory stays flat whatever the
 * object's size (it only grows for a single record larger than the
 * buffer).  A part of an object that does not start at its beginning is
 * read from the byte before its start, and everything up to the first
 * line end is dropped: the part's first record is the first one that
 * starts in it.  A part reads past its end as far as the caller asks
 * (the record that crosses the end, and the start of the next one), with
 * further ranged GETs of the same version.
 *
 * IDENTIFICATION
 *	  src/fdw/stream.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "decode/json_reader.h"
#include "decode/line_records.h"
#include "fdw/stream.h"
#include "util/settings.h"

/* The data buffer, with the JSON reader's padding, is one palloc at most. */
StaticAssertDecl((Size) PIPELINE_MAX_BUFFER_KB * 1024 + JSON_READER_PADDING <= MaxAllocSize,
				 "pipeline.read_buffer_size must fit in one palloc");
StaticAssertDecl((Size) PIPELINE_MAX_RECORD_MB * 1024 * 1024 + JSON_READER_PADDING <= MaxAllocSize,
				 "pipeline.max_record_size must fit in one palloc");

/* A part reads this much past its end in its first GET, then this much more at a time. */
#define PART_MARGIN		(64 * 1024)
#define PART_EXTEND		(1024 * 1024)

/*
 * stream_init: buffers for a scan's objects (in the current memory
 * context; the inflater is malloc'd: stream_free releases it).
 */
void
stream_init(ObjectStream *s, AwsClient *client, FdwCompression compression,
			size_t data_size, size_t max_record)
{
	memset(s, 0, sizeof(ObjectStream));
	s->client = client;
	s->compression = compression;
	s->max_record = Max(max_record, data_size);
	s->z = inflater_create(INFLATE_IMPL_AUTO);
	s->comp = palloc(STREAM_COMP_BUFFER);
	s->data_cap = data_size;
	s->data = palloc(s->data_cap + JSON_READER_PADDING);
}

void
stream_free(ObjectStream *s)
{
	if (s->z)
		inflater_free(s->z);
	s->z = NULL;
}

/* The first byte a unit's GET asks for: a part also reads the byte before it. */
static int64
get_first_byte(const WorkUnit *u)
{
	return u->start > 0 ? u->start - 1 : 0;
}

/*
 * stream_start_get: send the GET of a unit.  Its request, and everything
 * later made for it, lives in a context of its own under "parent".
 */
void
stream_start_get(PendingGet *pg, AwsClient *client, const WorkUnit *unit, MemoryContext parent)
{
	MemoryContext old;

	pg->cxt = AllocSetContextCreate(parent, "pipeline_s3 object", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(pg->cxt);
	pg->unit = *unit;
	pg->unit.obj.bucket = pstrdup(unit->obj.bucket);
	pg->unit.obj.key = pstrdup(unit->obj.key);
	pg->unit.obj.etag = unit->obj.etag ? pstrdup(unit->obj.etag) : NULL;
	if (unit->part < 0)
		pg->get = s3_get_start(client, unit->obj.bucket, unit->obj.key, STREAM_GET_BUFFER);
	else
	{
		int64		end = unit->end + PART_MARGIN;

		if (unit->obj.size >= 0 && end > unit->obj.size)
			end = unit->obj.size;
		pg->get = s3_get_start_range(client, &pg->unit.obj, get_first_byte(unit), end,
									 STREAM_GET_BUFFER);
	}
	MemoryContextSwitchTo(old);
}

/* Abandon a GET that was not read: its transfer, then its memory. */
void
stream_cancel_get(PendingGet *pg)
{
	if (pg->get)
		s3_get_close(pg->get);
	pg->get = NULL;
	if (pg->cxt)
		MemoryContextDelete(pg->cxt);
	pg->cxt = NULL;
}

/*
 * stream_begin: read the object of an opened GET from now on.
 */
void
stream_begin(ObjectStream *s, PendingGet *pg, const char *prefix, size_t prefix_len)
{
	const S3Object *o = s3_get_object(pg->get);
	MemoryContext old = MemoryContextSwitchTo(pg->cxt);

	s->cur = *pg;
	/* what the GET's answer said: size, ETag, time (a part keeps the listing's) */
	if (pg->unit.part < 0)
	{
		s->cur.unit.obj.size = o->size;
		s->cur.unit.obj.last_modified = o->last_modified;
		if (o->etag)
			s->cur.unit.obj.etag = o->etag;
	}
	s->uri = s3_make_uri(o->bucket, o->key);
	MemoryContextSwitchTo(old);
	pg->get = NULL;
	pg->cxt = NULL;

	s->sniffed = false;
	s->gzip = false;
	s->get_eof = false;
	s->src_eof = false;
	s->comp_pos = s->comp_len = 0;
	s->data_len = 0;
	s->error = NULL;
	s->at_range_end = false;
	s->extend = false;
	s->resync = s->cur.unit.start > 0;
	s->line_start = true;
	if (prefix_len > s->data_cap / 2)
		elog(ERROR, "a prefix of %zu bytes does not fit the data buffer", prefix_len);
	memcpy(s->data, prefix, prefix_len);
	s->data_len = s->prefix_len = prefix_len;
	s->data_offset = get_first_byte(&s->cur.unit) - (int64) prefix_len;
	inflater_reset(s->z);
}

uint64
stream_bytes_read(const ObjectStream *s)
{
	return s->cur.get ? s3_get_bytes(s->cur.get) : 0;
}

/* stream_end: close the current object's GET and free everything of it. */
void
stream_end(ObjectStream *s)
{
	stream_cancel_get(&s->cur);
	s->uri = NULL;
}

/*
 * Read compressed (or plain) bytes from S3 into the comp buffer.  A part
 * that reaches the end of what its GET asked for goes on reading, as long
 * as the object has more.
 */
static void
read_comp(ObjectStream *s)
{
	size_t		n;

	s->comp_pos = 0;
	s->comp_len = 0;
	if (s->get_eof)
		return;
	for (;;)
	{
		n = s3_get_read(s->cur.get, s->comp, STREAM_COMP_BUFFER);
		if (n > 0 || s->cur.unit.part < 0)
			break;

		/*
		 * A part at the end of what it asked for: the reader may have what it
		 * needs (the next part's first record) already; it asks again if not.
		 */
		if (!s->extend && s->data_len > s->prefix_len)
		{
			s->at_range_end = true;
			return;
		}
		s->extend = false;
		{
			const WorkUnit *u = &s->cur.unit;
			int64		next = get_first_byte(u) + (int64) s3_get_delivered(s->cur.get);
			int64		end = next + PART_EXTEND;

			if (u->obj.size >= 0 && end > u->obj.size)
				end = u->obj.size;
			if (!s3_get_extend(s->cur.get, end))
				break;
		}
	}
	s->comp_len = n;
	if (n == 0)
		s->get_eof = true;
}

/*
 * A part that starts after the object's beginning: drop the bytes up to
 * and including the first line end (after any prefix).  Returns true once
 * it has been found, or the object ended.
 */
static bool
resync(ObjectStream *s)
{
	char	   *p = s->data + s->prefix_len;
	size_t		avail = s->data_len - s->prefix_len;
	char	   *nl = memchr(p, '\n', avail);
	size_t		drop = nl ? (size_t) (nl - p) + 1 : avail;

	if (s->prefix_len == 0)
		s->line_start = line_records_starts_line(p, drop, s->line_start);
	memmove(p, p + drop, avail - drop);
	s->data_len -= drop;
	s->data_offset += (int64) drop;
	if (nl)
		s->resync = false;
	return nl != NULL || s->src_eof;
}

StreamResult
stream_refill(ObjectStream *s, size_t consumed)
{
	size_t		target;

	/* called again after the range's end: the reader needs more of the object */
	if (s->at_range_end)
	{
		s->at_range_end = false;
		s->extend = true;
	}

	/* move the incomplete record to the front */
	if (consumed > 0)
	{
		s->line_start = line_records_starts_line(s->data, consumed, s->line_start);
		memmove(s->data, s->data + consumed, s->data_len - consumed);
		s->data_len -= consumed;
		s->data_offset += (int64) consumed;
	}

	/* one record fills the whole buffer: make room for more of it */
	if (s->data_len == s->data_cap)
	{
		if (s->data_cap >= s->max_record)
			return STREAM_FULL;
		s->data_cap = Min(s->data_cap * 2, s->max_record);
		s->data = repalloc(s->data, s->data_cap + JSON_READER_PADDING);
	}

	/* decode until the buffer is half full, or the object (or range) ends */
	target = Max(s->data_len + 1, s->data_cap / 2);
	while (!s->src_eof && (s->data_len < target || s->resync))
	{
		if (s->at_range_end && s->comp_pos == s->comp_len && !s->resync)
			break;			/* what the range held is decoded */
		if (s->resync && s->data_len > s->prefix_len && resync(s))
			continue;
		if (s->comp_pos == s->comp_len)
			read_comp(s);
		if (!s->sniffed)
		{
			s->sniffed = true;
			s->gzip = s->compression == FDW_COMPRESSION_GZIP ||
				(s->compression == FDW_COMPRESSION_AUTO && s->cur.unit.part < 0 &&
				 inflate_is_gzip(s->comp, s->comp_len));
		}
		if (s->gzip)
		{
			const uint8_t *in = (const uint8_t *) s->comp + s->comp_pos;
			size_t		inlen = s->comp_len - s->comp_pos;
			size_t		outlen = 0;
			InflateResult r;

			r = inflater_run(s->z, &in, &inlen, s->get_eof,
							 (uint8_t *) s->data + s->data_len,
							 s->data_cap - s->data_len, &outlen);
			s->comp_pos = s->comp_len - inlen;
			s->data_len += outlen;
			s->bytes_decoded += outlen;
			if (r == INFLATE_END)
				s->src_eof = true;
			else if (r == INFLATE_ERROR)
			{
				s->error = inflater_error(s->z);
				s->src_eof = true;
				s->data_len = 0;
				return STREAM_ERROR;
			}
		}
		else
		{
			size_t		n = Min(s->comp_len - s->comp_pos, s->data_cap - s->data_len);

			memcpy(s->data + s->data_len, s->comp + s->comp_pos, n);
			s->comp_pos += n;
			s->data_len += n;
			s->bytes_decoded += n;
			if (s->get_eof && s->comp_pos == s->comp_len)
				s->src_eof = true;
		}
	}
	if (s->resync)
		(void) resync(s);		/* the object ended: nothing of it is ours */
	return STREAM_OK;
}
