/*-------------------------------------------------------------------------
 *
 * gzsplit.c
 *	  One large gzip object read in parts: the restart index (built on a
 *	  whole read, kept in a cache under the data directory) and the
 *	  stream's hooks that build it and resume at its points.
 *
 * Building.  A whole read, by a participant of a parallel scan of a table
 * of one object (uri names an object, not a prefix), of a gzip object of at
 * least a quarter of pipeline.split_size (compressed), with an ETag, that
 * has no index in the cache, is decoded by the index builder (zlib, block
 * by block: about half ISA-L's speed for that read) instead of the usual
 * decoder.  Only such scans build indexes: a serial scan cannot use one,
 * and a scan of a prefix has its objects to share among the participants;
 * neither should pay the slower decoder for nothing (a report run reads
 * each new object once).  Any parallel scan uses an index that is there.
 * When
 * the object has decoded to its end, every member's CRC checked, the index
 * (a restart point about every pipeline.split_size of decompressed bytes)
 * is written to the cache, atomically (a temporary file renamed), and the
 * cache is trimmed to pipeline.gzip_index_cache_size, oldest first.  A read
 * that stops early (LIMIT) or fails writes nothing.
 *
 * Reading in parts (parallel.c).  A participant that claims a gzip object
 * with an index in the cache reads the index (every field checked, else
 * the object is read whole as before) and the object becomes a split
 * object of one part per restart point.  Each part is a ranged GET of the
 * compressed bytes from its point (with If-Match on the ETag, its own
 * credentials), decoded from the point's bit position with the point's
 * 32 KiB window as the dictionary, and decompressed offsets play the role
 * byte offsets play for plain objects: a part holds the records that start
 * in it, the part before finishes the record that crosses into it, and
 * neighbours must agree on where that is.
 *
 * Integrity.  A part does not read its member from the start, so the
 * decoder cannot check the member's CRC-32 by itself.  The index carries,
 * at each point, the CRC-32 and length of the member's decompressed bytes
 * before it, computed on the whole read that built it (itself checked
 * against every trailer): a part continues that CRC and checks it at the
 * member's trailer, and checks it at the next point too (member, length,
 * output and CRC: inflater_expect), which every part reaches.  So every
 * byte a part hands out is checked against the verified whole read, like
 * gzip -d checks a member (the rows may come before the check fails, then
 * the statement fails, as with a corrupt member read whole).  The index
 * file itself has a CRC-32 and is checked field by field when read; one
 * that does not fit (another object, version or size, torn, corrupt) is
 * ignored and the object read whole (and indexed again).
 *
 * Who may use an index.  An index holds decompressed bytes (the windows).
 * It is keyed by the role whose user mapping reads the object, the
 * server's endpoint and region, bucket, key, ETag and size, so no role
 * ever decodes with another role's windows: a role that could not read the
 * object cannot have made its index, and a role that can reads its own.
 * The cache is in the data directory (the server's OS user only).
 *
 * IDENTIFICATION
 *	  src/fdw/gzsplit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "fdw/gzsplit.h"
#include "util/settings.h"

#define INDEX_FILE_MAX	((Size) 64 * 1024 * 1024)	/* 1,024 windows fit */

struct GzSplit
{
	GzIndexBuilder *builder;	/* this whole read builds an index */
	char	   *build_identity; /* in the object's context */
	bool		want_build;

	GzIndex    *ix;				/* the last index loaded (malloc'd) */
	char	   *ix_identity;	/* its identity (in the scan's context) */
};

/* ----------------------------------------------------------------
 *		The cache
 * ----------------------------------------------------------------
 */

static char *
identity_of(const ObjectStream *s, const S3Object *o)
{
	if (o->etag == NULL || o->etag[0] == '\0' || o->size < 0 || s->client == NULL)
		return NULL;
	return psprintf("pipeline gzip index 1\nrole %u\nendpoint %s\nregion %s\nbucket %s\nkey %s\netag %s\nsize %lld",
					s->role, s->client->cfg.endpoint ? s->client->cfg.endpoint : "aws",
					s->client->cfg.region ? s->client->cfg.region : "",
					o->bucket, o->key, o->etag, (long long) o->size);
}

static char *
path_of(const char *identity)
{
	uint64		h = hash_bytes_extended((const unsigned char *) identity, strlen(identity), 0);

	return psprintf("%s/%016llx.gzi", GZSPLIT_CACHE_DIR, (unsigned long long) h);
}

bool
gzsplit_worth_indexing(int64 size)
{
	return pipeline_gzip_index_cache_kb > 0 && pipeline_split_kb > 0 &&
		size >= (int64) pipeline_split_kb * 1024 / 4;
}

bool
gzsplit_cached(const ObjectStream *s, const S3Object *o)
{
	char	   *id;
	struct stat st;
	bool		found;

	if (pipeline_gzip_index_cache_kb <= 0 || (id = identity_of(s, o)) == NULL)
		return false;
	found = stat(path_of(id), &st) == 0 && S_ISREG(st.st_mode);
	pfree(id);
	return found;
}

GzIndex *
gzsplit_load(const ObjectStream *s, const S3Object *o, char **why)
{
	char	   *id = identity_of(s, o);
	char	   *path;
	int			fd;
	struct stat st;
	uint8	   *buf;
	Size		got = 0;
	GzIndex    *ix;
	char		reason[128];

	if (why)
		*why = NULL;
	if (pipeline_gzip_index_cache_kb <= 0 || id == NULL)
		return NULL;
	path = path_of(id);
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || (Size) st.st_size > INDEX_FILE_MAX)
	{
		CloseTransientFile(fd);
		if (why)
			*why = psprintf("%s: not a file of a possible size", path);
		return NULL;
	}
	buf = palloc((Size) st.st_size);
	while (got < (Size) st.st_size)
	{
		ssize_t		n = read(fd, buf + got, (Size) st.st_size - got);

		if (n <= 0)
			break;
		got += (Size) n;
	}
	CloseTransientFile(fd);
	ix = got == (Size) st.st_size ?
		gzindex_parse(buf, got, id, (uint64_t) o->size, reason) : NULL;
	if (ix == NULL && why)
		*why = psprintf("%s: %s", path, got == (Size) st.st_size ? reason : "short read");
	pfree(buf);
	return ix;
}

GzIndex *
gzsplit_sniff(const ObjectStream *s, const S3Object *o, const char *buf, size_t len,
			  size_t cap, char **out, size_t *out_len)
{
	char	   *why = NULL;
	GzIndex    *ix = gzsplit_load(s, o, &why);
	Inflater   *z;
	const uint8_t *in = (const uint8_t *) buf;
	size_t		in_len = len;
	InflateResult r = INFLATE_OK;

	if (ix == NULL)
	{
		if (why)
			ereport(DEBUG1, (errmsg_internal("gzip index of \"%s\" not used: %s",
											 s3_make_uri(o->bucket, o->key), why)));
		return NULL;
	}
	/* the first decompressed bytes, as many as fit */
	z = inflater_create(INFLATE_IMPL_AUTO);
	*out = palloc(cap);
	*out_len = 0;
	while (z && r == INFLATE_OK && *out_len < cap && in_len > 0)
	{
		size_t		n = 0;

		r = inflater_run(z, &in, &in_len, (int64) len >= o->size,
						 (uint8_t *) *out + *out_len, cap - *out_len, &n);
		*out_len += n;
	}
	if (z == NULL || r == INFLATE_ERROR || *out_len == 0)
	{
		if (z)
			inflater_free(z);
		gzindex_free(ix);
		return NULL;
	}
	inflater_free(z);
	return ix;
}

/* Keep the cache at most pipeline.gzip_index_cache_size: the oldest go first. */
static void
trim_cache(void)
{
	typedef struct Entry
	{
		char		name[64];
		time_t		mtime;
		off_t		size;
	} Entry;
	DIR		   *dir;
	struct dirent *de;
	Entry	   *e = NULL;
	int			n = 0,
				cap = 0;
	int64		total = 0;
	int64		limit = (int64) pipeline_gzip_index_cache_kb * 1024;

	dir = AllocateDir(GZSPLIT_CACHE_DIR);
	if (dir == NULL)
		return;
	while ((de = ReadDirExtended(dir, GZSPLIT_CACHE_DIR, LOG)) != NULL)
	{
		char		path[MAXPGPATH];
		struct stat st;

		if (strlen(de->d_name) >= 64 || strchr(de->d_name, '.') == NULL ||
			strcmp(strrchr(de->d_name, '.'), ".gzi") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", GZSPLIT_CACHE_DIR, de->d_name);
		if (stat(path, &st) != 0)
			continue;
		if (n == cap)
		{
			cap = cap ? cap * 2 : 64;
			e = e ? repalloc(e, sizeof(Entry) * cap) : palloc(sizeof(Entry) * cap);
		}
		strlcpy(e[n].name, de->d_name, sizeof(e[n].name));
		e[n].mtime = st.st_mtime;
		e[n].size = st.st_size;
		total += st.st_size;
		n++;
	}
	FreeDir(dir);
	while (total > limit && n > 0)
	{
		int			oldest = 0;
		char		path[MAXPGPATH];

		for (int i = 1; i < n; i++)
			if (e[i].mtime < e[oldest].mtime)
				oldest = i;
		snprintf(path, sizeof(path), "%s/%s", GZSPLIT_CACHE_DIR, e[oldest].name);
		if (unlink(path) != 0 && errno != ENOENT)
			ereport(LOG, (errcode_for_file_access(),
						  errmsg("could not remove file \"%s\": %m", path)));
		total -= e[oldest].size;
		e[oldest] = e[--n];
	}
	if (e)
		pfree(e);
}

/* Write an index to the cache, atomically; a failure is logged, not raised. */
static void
store(const char *identity, const GzIndex *ix)
{
	size_t		len;
	uint8_t    *buf;
	char	   *path = path_of(identity);
	char	   *tmp = psprintf("%s.%d.tmp", path, MyProcPid);
	int			fd;
	bool		ok = false;

	buf = gzindex_serialize(ix, identity, &len);
	if (buf == NULL)
		return;
	if ((int64) len > (int64) pipeline_gzip_index_cache_kb * 1024)
	{
		free(buf);				/* it would not fit the cache anyway */
		return;
	}
	if (MakePGDirectory(GZSPLIT_CACHE_DIR) != 0 && errno != EEXIST)
	{
		ereport(LOG, (errcode_for_file_access(),
					  errmsg("could not create directory \"%s\": %m", GZSPLIT_CACHE_DIR)));
		free(buf);
		return;
	}
	fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd >= 0)
	{
		ok = write(fd, buf, len) == (ssize_t) len;
		if (CloseTransientFile(fd) != 0)
			ok = false;
	}
	free(buf);
	if (ok && rename(tmp, path) == 0)
		trim_cache();
	else
	{
		ereport(LOG, (errcode_for_file_access(),
					  errmsg("could not write gzip index \"%s\": %m", path)));
		unlink(tmp);
	}
}

/* ----------------------------------------------------------------
 *		The stream's hooks
 * ----------------------------------------------------------------
 */

static struct GzSplit *
gz_of(ObjectStream *s)
{
	if (s->gz == NULL)
		s->gz = MemoryContextAllocZero(GetMemoryChunkContext(s->comp), sizeof(struct GzSplit));
	return s->gz;
}

static void
drop_builder(struct GzSplit *gz)
{
	if (gz->builder)
		gzindex_builder_free(gz->builder);
	gz->builder = NULL;
	gz->want_build = false;
	gz->build_identity = NULL;	/* in the object's context */
}

/*
 * The part's index: the one loaded last if it is this object's, else read
 * from the cache.  It must be there and agree with what the part was
 * handed (parallel.c took it from the same file a moment ago).
 */
static const GzIndex *
part_index(ObjectStream *s, struct GzSplit *gz)
{
	const WorkUnit *u = &s->cur.unit;
	char	   *id = identity_of(s, &u->obj);
	char	   *why = NULL;

	if (id && gz->ix && gz->ix_identity && strcmp(id, gz->ix_identity) == 0)
		return gz->ix;
	if (gz->ix)
		gzindex_free(gz->ix);
	gz->ix = NULL;
	if (gz->ix_identity)
		pfree(gz->ix_identity);
	gz->ix_identity = NULL;
	gz->ix = id ? gzsplit_load(s, &u->obj, &why) : NULL;
	if (gz->ix == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the gzip index of \"%s\" went away during the scan", s->uri),
				 why ? errdetail("%s", why) : 0));
	gz->ix_identity = MemoryContextStrdup(GetMemoryChunkContext(gz), id);
	return gz->ix;
}

/*
 * Is there a usable index of the object?  One that is there but not valid
 * for it (torn, corrupt, another object's) is removed, so that this read
 * writes a good one.
 */
static bool
index_usable(ObjectStream *s, const S3Object *o)
{
	GzIndex    *ix;
	char	   *id;

	if (!gzsplit_cached(s, o))
		return false;
	ix = gzsplit_load(s, o, NULL);
	if (ix)
	{
		gzindex_free(ix);
		return true;
	}
	if ((id = identity_of(s, o)) != NULL)
		(void) unlink(path_of(id));
	return false;
}

/*
 * gzsplit_begin: after stream_begin: a gzip part resumes at its point; a
 * whole read of a large object without an index will build one (if it
 * turns out to be gzip).
 */
void
gzsplit_begin(ObjectStream *s)
{
	const WorkUnit *u = &s->cur.unit;
	struct GzSplit *gz = gz_of(s);

	drop_builder(gz);
	if (u->gz_part)
	{
		const GzIndex *ix = part_index(s, gz);
		const GzPoint *pt;

		if (u->gz_point < 0 || (uint32) u->gz_point >= ix->npoints ||
			(int64) ix->points[u->gz_point].out != u->start)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the gzip index of \"%s\" changed during the scan", s->uri)));
		pt = &ix->points[u->gz_point];
		s->gzip = true;
		s->sniffed = true;
		if (!pt->member_start &&
			!inflater_resume(s->z, pt->comp, pt->bits, pt->window, pt->wlen,
							 pt->member_crc, pt->member_len))
			elog(ERROR, "could not resume at a restart point of \"%s\": %s", s->uri,
				 inflater_error(s->z));
		if ((uint32) u->gz_point + 1 < ix->npoints)
		{
			const GzPoint *next = pt + 1;

			inflater_expect(s->z, next->member - pt->member, next->member_len,
							next->member_crc, next->out - pt->out);
		}
		/* the byte before the part, so that it begins after its first line end */
		if (u->start > 0)
		{
			s->data[s->data_len++] = (char) pt->window[pt->wlen - 1];
			s->data_offset = u->start - 1 - (int64) s->prefix_len;
		}
		else
			s->data_offset = -(int64) s->prefix_len;
		return;
	}
	if (u->part < 0 && s->gz_build && s->compression != FDW_COMPRESSION_NONE &&
		gzsplit_worth_indexing(u->obj.size) && !index_usable(s, &u->obj))
	{
		MemoryContext old = MemoryContextSwitchTo(s->cur.cxt);

		gz->build_identity = identity_of(s, &u->obj);	/* in the object's context */
		gz->want_build = gz->build_identity != NULL;
		MemoryContextSwitchTo(old);
	}
}

/* gzsplit_decode: inflater_run, or the index builder on a read that builds one. */
InflateResult
gzsplit_decode(ObjectStream *s, const uint8_t **in, size_t *in_len, bool at_eof,
			   uint8_t *out, size_t out_cap, size_t *out_len, const char **error)
{
	struct GzSplit *gz = gz_of(s);
	InflateResult r;

	if (gz->want_build && gz->builder == NULL)
	{
		gz->builder = gzindex_builder_create((uint64_t) pipeline_split_kb * 1024, 0);
		if (gz->builder == NULL)
			gz->want_build = false;
	}
	if (gz->builder == NULL)
	{
		r = inflater_run(s->z, in, in_len, at_eof, out, out_cap, out_len);
		if (r == INFLATE_ERROR)
			*error = inflater_error(s->z);
		return r;
	}
	r = gzindex_builder_run(gz->builder, in, in_len, at_eof, out, out_cap, out_len);
	if (r == INFLATE_ERROR)
		*error = MemoryContextStrdup(s->cur.cxt, gzindex_builder_error(gz->builder));
	else if (r == INFLATE_END)
	{
		GzIndex    *ix = gzindex_builder_finish(gz->builder);

		if (ix && ix->npoints >= 2)
			store(gz->build_identity, ix);
		gzindex_free(ix);
		drop_builder(gz);
	}
	return r;
}

/* gzsplit_end: the object is done (or abandoned): an index not finished is dropped. */
void
gzsplit_end(ObjectStream *s)
{
	if (s->gz)
		drop_builder(s->gz);
}

/* gzsplit_free: release what is malloc'd (also when the scan ends in an error). */
void
gzsplit_free(ObjectStream *s)
{
	if (s->gz == NULL)
		return;
	drop_builder(s->gz);
	if (s->gz->ix)
		gzindex_free(s->gz->ix);
	s->gz->ix = NULL;
}
