/*-------------------------------------------------------------------------
 *
 * split_driver.h
 *	  The input-splitting driver the record reader harnesses share
 *	  (fuzz_json_reader.c, fuzz_csv_reader.c): read the input whole, again
 *	  on the reset reader, cut at two chosen places and in chunks, and
 *	  check that every reading gives the whole one's transcript; then the
 *	  cuts at which parallel workers' parts are tried.
 *
 * IDENTIFICATION
 *	  test/fuzz/split_driver.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_SPLIT_DRIVER_H
#define PIPELINE_SPLIT_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A harness's reading of its input, fed in pieces ending at "bounds"
 * (ascending, the last the input's length), with the bytes after the fed
 * buffer chosen by "pattern", checked against the reference if "oracle":
 * the transcript (malloc'd).
 */
typedef char *(*SplitTranscript) (void *arg, const size_t *bounds, int nbounds, int pattern,
								  bool oracle);

/* A failed property unless "got" is "want" (both printed if not). */
extern void check_same(const char *what, const char *got, const char *want);

/*
 * Read the input of "n" bytes whole (against the reference), again after
 * a reset, cut at c1 and c2 (modulo n + 1), and, when n <= 4096, in chunks
 * of (chunk % max_step) + 1 bytes; patterns chunk to chunk + 3.  Every
 * transcript must be the whole one's.  Returns the whole transcript
 * (malloc'd) and the two cuts, ascending, in cuts[0..1].
 */
extern char *split_check_feeds(SplitTranscript read, void *arg, size_t n, uint8_t chunk,
							   int max_step, uint16_t c1, uint16_t c2, size_t cuts[2]);

/*
 * The cuts of "cuts" at which an input of "n" bytes is read in parts:
 * inside it, distinct.  Returns how many (0 to 2), in parts[].
 */
extern int	split_part_cuts(const size_t cuts[2], size_t n, size_t parts[2]);

#endif							/* PIPELINE_SPLIT_DRIVER_H */
