/*-------------------------------------------------------------------------
 *
 * parallel_parts.c
 *	  One large object read in parts by the participants of a parallel scan
 *	  (see parallel.c for the whole picture): the claimer sniffs the object's
 *	  first bytes (records one per line; a gzip object's restart index),
 *	  publishes its parts in a split slot, and every part reports where its
 *	  first record starts and where the next part's does, which must agree.
 *
 * IDENTIFICATION
 *	  src/fdw/parallel_parts.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "decode/inflate.h"
#include "decode/line_records.h"
#include "fdw/gzsplit.h"
#include "fdw/parallel_int.h"
#include "util/settings.h"

/* Are these bytes (the object's first, maybe cut anywhere) records one per line? */
static bool
lines_ok(FdwScanState *st, const char *buf, size_t len, size_t *header_len)
{
	return line_records_check(st->opts.format == FDW_FORMAT_CSV, buf, len,
							  st->opts.delimiter, st->opts.quote,
							  st->opts.format == FDW_FORMAT_CSV &&
							  (st->opts.header || st->opts.header_skip),
							  header_len);
}

/*
 * A gzip object's start, "buf": true if it has an index of at least two
 * points in the cache (*ix, malloc'd) and its first decompressed bytes
 * (*out) hold one record per line.
 */
static bool
sniff_gzip(FdwScanState *st, const WorkUnit *u, const char *buf, size_t len,
		   char **out, size_t *out_len, size_t *header_len, GzIndex **ix)
{
	*ix = gzsplit_sniff(&st->stream, &u->obj, buf, len, SNIFF_BYTES, out, out_len);
	if (*ix == NULL)
		return false;
	if ((*ix)->npoints < 2 || (*ix)->npoints > MAX_PARTS)
		return false;			/* (freed by the caller) */
	return lines_ok(st, *out, *out_len, header_len);
}

/*
 * Read the first bytes of an object: true if they are plain (or gzip with
 * an index: *ix) and hold one record per line.  The CSV header line goes
 * to *header.
 */
static bool
sniff(FdwScanState *st, const WorkUnit *u, char **header, size_t *header_len, GzIndex **ix)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline_s3 sniff",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	char	   *buf = palloc(SNIFF_BYTES + JSON_READER_PADDING);
	size_t		len = 0;
	S3Get	   *g;
	bool		ok = false;

	*ix = NULL;
	g = s3_get_start_range(st->client, &u->obj, 0, SNIFF_BYTES, SNIFF_BYTES);
	if (s3_get_open(g, true))
	{
		size_t		n;
		char	   *text = buf;
		bool		gz;

		while (len < SNIFF_BYTES &&
			   (n = s3_get_read(g, buf + len, SNIFF_BYTES - len)) > 0)
			len += n;
		st->bytes_read += s3_get_bytes(g);
		pipeline_scan_bytes += s3_get_bytes(g);
		scan_account_read(st, s3_get_bytes(g));
		gz = st->opts.compression != FDW_COMPRESSION_NONE && inflate_is_gzip(buf, len);
		if (gz)
			ok = sniff_gzip(st, u, buf, len, &text, &len, header_len, ix);
		else if (st->opts.compression != FDW_COMPRESSION_GZIP)
			ok = parallel_split_plain(st, u->obj.size) && lines_ok(st, buf, len, header_len);
		if (ok && *header_len > HEADER_MAX)
			ok = false;
		if (ok && *header_len > 0)
		{
			*header = MemoryContextAlloc(old, *header_len);
			memcpy(*header, text, *header_len);
		}
	}
	s3_get_close(g);
	if (!ok && *ix)
	{
		gzindex_free(*ix);
		*ix = NULL;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return ok;
}

/*
 * parallel_split: settle a unit claimed as a candidate for splitting: if
 * "keep" (it is to be read) and it is fit, make it a split object and the
 * unit its first part.  Wakes up whoever waits for the outcome.
 */
void
parallel_split(FdwScanState *st, WorkUnit *u, bool keep)
{
	FdwShared  *sh = st->shared;
	char	   *header = NULL;
	size_t		header_len = 0;
	int			slot = -1;
	GzIndex    *ix = NULL;

	u->split_pending = false;
	if (keep && sniff(st, u, &header, &header_len, &ix))
	{
		int64		part_size = Max((int64) pipeline_split_kb * 1024,
									(u->obj.size + MAX_PARTS - 1) / MAX_PARTS);
		int			nparts = ix ? (int) ix->npoints : (int) ((u->obj.size + part_size - 1) / part_size);
		int			i;

		SpinLockAcquire(&sh->mutex);
		for (i = 0; i < MAX_SPLITS; i++)
			if (!sh->split[i].in_use)
			{
				SplitSlot  *s = &sh->split[i];

				slot = i;
				s->in_use = true;
				s->nparts = nparts;
				s->next_part = 1;	/* part 0 is ours */
				s->parts_done = 0;
				s->part_size = part_size;
				parallel_entry_put(&s->obj, &u->obj, u->listed);
				s->header_len = (uint32) header_len;
				if (header_len)
					memcpy(s->header, header, header_len);
				memset(s->first, 0xff, sizeof(int64) * nparts);	/* -1: not yet */
				memset(s->after, 0xff, sizeof(int64) * nparts);
				s->gzip = ix != NULL;
				if (ix)
				{
					for (int p = 0; p < nparts; p++)
					{
						const GzPoint *pt = &ix->points[p];

						s->gz_out[p] = (int64) pt->out;
						s->gz_comp[p] = (int64) pt->comp;
						s->gz_first[p] = (int64) pt->comp - (pt->bits ? 1 : 0);
					}
					s->gz_out[nparts] = (int64) ix->out_size;
				}
				break;
			}
		if (slot >= 0)
		{
			SplitSlot  *s = &sh->split[slot];

			sh->part_readers |= UINT64CONST(1) << ((ParallelWorkerNumber + 1) % 64);

			u->split = slot;
			u->part = 0;
			u->nparts = nparts;
			u->start = 0;
			u->end = part_size;
			if (s->gzip)
			{
				u->gz_part = true;
				u->gz_point = 0;
				u->end = s->gz_out[1];
				u->comp_start = 0;
				u->comp_end = s->gz_comp[1];
				u->out_size = s->gz_out[nparts];
			}
		}
		sh->splits_pending--;
		SpinLockRelease(&sh->mutex);
		if (ix)
			gzindex_free(ix);
	}
	else
	{
		SpinLockAcquire(&sh->mutex);
		sh->splits_pending--;
		SpinLockRelease(&sh->mutex);
	}
	ConditionVariableBroadcast(&sh->cv);
}

/* The CSV header of a split object, for its later parts. */
void
parallel_part_header(FdwScanState *st, const WorkUnit *u, char **header, size_t *len)
{
	SplitSlot  *s = &st->shared->split[u->split];

	/* set before any part but the first was handed out, and fixed since */
	*header = s->header;
	*len = s->header_len;
}

/* Part p's first record and the record after part p - 1 must be the same. */
static void
check_boundary(FdwScanState *st, const WorkUnit *u, int p, int64 first, int64 after)
{
	if (first >= 0 && after >= 0 && first != after)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not read \"%s\" in parts: its records are not one per line",
						s3_make_uri(u->obj.bucket, u->obj.key)),
				 errdetail("Part %d begins with the record at byte %lld, but the part before it found the next record at byte %lld.",
						   p + 1, (long long) first, (long long) after),
				 errhint("Set pipeline.split_size to 0 to read such objects whole.")));
}

/* parallel_part_first: where the first record of a part starts. */
void
parallel_part_first(FdwScanState *st, const WorkUnit *u, int64 offset)
{
	SplitSlot  *s = &st->shared->split[u->split];
	int64		after;

	if (u->part == 0)
		return;
	SpinLockAcquire(&st->shared->mutex);
	s->first[u->part] = offset;
	after = s->after[u->part];
	SpinLockRelease(&st->shared->mutex);
	check_boundary(st, u, u->part, offset, after);
}

/* parallel_part_next: where the first record after a part starts. */
void
parallel_part_next(FdwScanState *st, const WorkUnit *u, int64 offset)
{
	SplitSlot  *s = &st->shared->split[u->split];
	int64		first;
	int			p = u->part + 1;

	if (p >= u->nparts)
		return;
	SpinLockAcquire(&st->shared->mutex);
	s->after[p] = offset;
	first = s->first[p];
	SpinLockRelease(&st->shared->mutex);
	check_boundary(st, u, p, first, offset);
}

/* parallel_part_done: a part is read; the last one frees the slot. */
void
parallel_part_done(FdwScanState *st, const WorkUnit *u)
{
	SplitSlot  *s = &st->shared->split[u->split];

	SpinLockAcquire(&st->shared->mutex);
	if (++s->parts_done == s->nparts)
		s->in_use = false;
	SpinLockRelease(&st->shared->mutex);
}
