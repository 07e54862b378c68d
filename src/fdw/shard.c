/*-------------------------------------------------------------------------
 *
 * shard.c
 *	  The "shard 'k/n'" option of a pipeline_s3 table: the table reads only
 *	  the objects whose key hashes to share k of n, so that n servers (or n
 *	  partitions of a postgres_fdw coordinator) each scan a deterministic,
 *	  disjoint part of one prefix, and together all of it.
 *
 * The hash is PostgreSQL's own (hash_bytes_extended, the one hash
 * partitioning uses, stable across releases) of the object's key, seeded,
 * modulo n: every server of a fleet puts a key in the same share, whatever
 * the bucket is called or the order the listing comes in.
 *
 * IDENTIFICATION
 *	  src/fdw/shard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"

#include "fdw/fdw.h"

/* (any fixed seed; changing it would move every key to another share) */
#define SHARD_SEED	UINT64CONST(0x7069706531)

/* Most shares a prefix can be cut in. */
#define SHARD_MAX	4096

static void
bad_shard(const char *value, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"shard\": \"%s\"", value),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("Write the share and the number of shares, from 1/n to n/n, e.g. OPTIONS (shard '2/3').")));
}

/* fdw_shard_parse: "k/n" -> k, n (1 <= k <= n <= SHARD_MAX), or an error. */
void
fdw_shard_parse(const char *value, int *k, int *n)
{
	const char *p = value;
	long		kk;
	long		nn;
	char	   *end;

	if (!isdigit((unsigned char) *p))
		bad_shard(value, NULL);
	errno = 0;
	kk = strtol(p, &end, 10);
	if (errno != 0 || *end != '/' || !isdigit((unsigned char) end[1]))
		bad_shard(value, NULL);
	nn = strtol(end + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		bad_shard(value, NULL);
	if (nn < 1 || nn > SHARD_MAX)
		bad_shard(value, psprintf("The number of shares must be between 1 and %d.", SHARD_MAX));
	if (kk < 1 || kk > nn)
		bad_shard(value, psprintf("The share must be between 1 and %ld.", nn));
	*k = (int) kk;
	*n = (int) nn;
}

/* fdw_shard_mine: does the object with this key belong to share k of n? */
bool
fdw_shard_mine(const char *key, int k, int n)
{
	uint64		h;

	if (n <= 1)
		return true;
	h = hash_bytes_extended((const unsigned char *) key, (int) strlen(key), SHARD_SEED);
	return (int) (h % (uint64) n) == k - 1;
}
