/*-------------------------------------------------------------------------
 *
 * inflate.h
 *	  Streaming gzip decompression: several gzip members back to back (as
 *	  concatenated Firehose flushes are), ISA-L when built with it, zlib
 *	  otherwise.
 *
 * Pure C, no backend calls; memory is malloc'd and released by
 * inflater_free().
 *
 * IDENTIFICATION
 *	  src/decode/inflate.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_INFLATE_H
#define PIPELINE_INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* true if the bytes start with the gzip magic number (1f 8b) */
#define inflate_is_gzip(p, n) \
	((n) >= 2 && ((const uint8_t *) (p))[0] == 0x1f && ((const uint8_t *) (p))[1] == 0x8b)

typedef enum InflateResult
{
	INFLATE_OK,					/* progress made; call again */
	INFLATE_END,				/* input ended (at_eof) exactly after a
								 * complete member */
	INFLATE_ERROR				/* corrupt or truncated; see inflater_error() */
} InflateResult;

typedef struct Inflater Inflater;

typedef enum InflateImpl
{
	INFLATE_IMPL_AUTO,			/* ISA-L if built with it, else zlib */
	INFLATE_IMPL_ZLIB,
	INFLATE_IMPL_ISAL
} InflateImpl;

/* NULL when out of memory, or INFLATE_IMPL_ISAL in a build without it. */
extern Inflater *inflater_create(InflateImpl impl);
extern void inflater_free(Inflater *z);
extern void inflater_reset(Inflater *z);

/*
 * Decompress.  Consumes from *in / *in_len (advancing them) and writes at
 * most out_cap bytes to out, setting *out_len.  at_eof says the input given
 * is the last: a member that is not complete by then is an error
 * ("unexpected end of compressed data").  Trailing bytes after a member
 * that are not another gzip member are an error too.
 *
 * INFLATE_OK with *in_len == 0 (and not at_eof) asks for more input; with
 * input left it means the output buffer is full.  INFLATE_END always comes
 * with *out_len == 0, after everything was handed out, so a loop may stop
 * at END without looking at *out_len.  Input may be cut anywhere, even
 * inside a gzip header.  ISA-L wants large output buffers: 256 KiB or more
 * (the benchmark's figures are with 256 KiB).
 */
extern InflateResult inflater_run(Inflater *z,
								  const uint8_t **in, size_t *in_len, bool at_eof,
								  uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Resume in the middle of a gzip member, at a restart point of a gzip index
 * (gzindex.h).  The input given to inflater_run from then on starts at the
 * point's compressed offset "comp", or, when bits > 0, at the byte before
 * it (comp - 1), whose high "bits" bits are the first to decode.
 * window/wlen are the (at most 32 KiB) decompressed bytes before the point;
 * member_crc and member_len the CRC-32 and length of the member's
 * decompressed bytes before it.  The rest of the member is decoded as raw
 * deflate, its CRC-32 continued from member_crc, and its trailer checked
 * against both; later members are read as usual.  false: impossible
 * arguments (the decoder is then failed).
 */
extern bool inflater_resume(Inflater *z, uint64_t comp, int bits,
							const uint8_t *window, size_t wlen,
							uint32_t member_crc, uint64_t member_len);

/*
 * The next restart point, to be checked on the way (after inflater_resume,
 * or inflater_reset for a part that starts at a member's start): the
 * decoder must reach it in member "member" (0: the one resumed or first
 * started) at "member_len" bytes of that member (0: at its start), after
 * "out" bytes of output, and the member's CRC-32 there must be member_crc;
 * or inflater_run fails, and fails too if the input ends or the member ends
 * first.  So what a part of an object decodes is checked against the index
 * built from a whole, verified read, even where the part does not reach
 * the member's trailer.
 */
extern void inflater_expect(Inflater *z, uint32_t member, uint64_t member_len,
							uint32_t member_crc, uint64_t out);

/* Human-readable reason of the last INFLATE_ERROR, and the compressed offset. */
extern const char *inflater_error(const Inflater *z);
extern uint64_t inflater_total_in(const Inflater *z);

/* Name of the implementation in use ("isa-l" or "zlib"), for EXPLAIN. */
extern const char *inflater_impl(const Inflater *z);

/* Whether this build has ISA-L. */
extern bool inflater_have_isal(void);

#endif							/* PIPELINE_INFLATE_H */
