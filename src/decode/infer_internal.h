/*-------------------------------------------------------------------------
 *
 * infer_internal.h
 *	  What the files of schema inference share: the tree of key paths and
 *	  the state of an inference (infer.c: the tree, values, CSV;
 *	  infer_json.c: walking JSON records; infer_result.c: names and types).
 *
 * IDENTIFICATION
 *	  src/decode/infer_internal.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_INFER_INTERNAL_H
#define PIPELINE_INFER_INTERNAL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"

#define DEFAULT_MAX_DEPTH	4
#define DEFAULT_MAX_KEYS	100
#define DEFAULT_MAX_COLUMNS 1000
#define MAX_KEY_BYTES		1024	/* longer keys are not columns */
#define MAX_NOTES			20
#define MAX_WALK_DEPTH		1100	/* more than the JSON reader lets through */

/* Kinds of values, as bits. */
#define K_BOOL		0x01
#define K_NUM		0x02
#define K_STR		0x04
#define K_OBJ		0x08
#define K_ARR		0x10

typedef struct Node
{
	char	   *key;			/* as first met (unescaped) */
	size_t		keylen;
	int			parent;			/* -1: the root */
	int			depth;			/* the root's children: 1 */
	int			first_child;
	int			last_child;
	int			next;			/* sibling */
	int			nchildren;
	uint32_t	gen;			/* the record it was last met in */
	bool		map;			/* too many keys or too deep: kept whole */
	bool		unnamable;		/* a '.' in its key (or an ancestor's) */

	unsigned	kinds;
	int64_t		n_nonnull;
	/* numbers */
	int64_t		n_int;
	int64_t		n_big;			/* integers beyond bigint */
	int64_t		n_float;
	int64_t		n_precise;		/* more than 15 significant digits */
	int64_t		imin;
	int64_t		imax;
	bool		epoch_ok[4];	/* every number an instant of 2000-2100 in s/ms/us/ns */
	/* strings */
	int64_t		n_str;
	int64_t		n_tstz;
	int64_t		n_ts;
	int64_t		n_date;
	/* CSV text that reads as a boolean, integer, number */
	int64_t		n_text_bool;
	/* array elements */
	unsigned	elem_kinds;
	int64_t		e_int;
	int64_t		e_float;
	int64_t		e_other;		/* nested arrays and objects */
	int64_t		emin;
	int64_t		emax;
} Node;

struct Infer
{
	InferOptions opt;
	Node	   *nodes;
	int			nnodes;
	int			cap;
	int		   *hash;			/* node index + 1, 0: empty */
	int			hash_size;		/* a power of two */
	int			max_nodes;
	uint32_t	gen;
	int64_t		records;
	bool		oom;
	bool		csv;
	int		   *csv_nodes;		/* CSV: the node of each header field, -1: none */
	int			csv_n;
	char		keybuf[MAX_KEY_BYTES + 1];
	char	   *notes[MAX_NOTES];
	int			nnotes;
	int64_t		dropped;		/* keys past the limits */
	InferColumn *cols;
	int			ncols;
	char	   *paths;			/* the columns' paths, one buffer */
};

/* "epoch_s", "epoch_ms", "epoch_us", "epoch_ns" */
extern const char *const infer_epoch_formats[4];

/* A note; "fmt" has one %s, for a[0..alen) (a key, shown as far as printable). */
extern void infer_note(Infer *inf, const char *fmt, const char *a, size_t alen);
/* The node of key k[0..len) under node "parent", made if new; -1 past the limits. */
extern int	infer_child(Infer *inf, int parent, const char *k, size_t len);
/* A JSON number's text: integer? fits int64? its value, significant digits. */
extern bool infer_read_number(const char *s, size_t len, bool *is_int, bool *fits, int64_t *value,
							  int *sig);
/* Count a number / a string (unescaped) met at node n. */
extern void infer_count_number(Node *n, const char *s, size_t len);
extern void infer_count_string(Node *n, const char *s, size_t len);

#endif							/* PIPELINE_INFER_INTERNAL_H */
