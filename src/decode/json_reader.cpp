/*-------------------------------------------------------------------------
 *
 * json_reader.cpp
 *	  Streaming JSON record reader: finds records and extracts the requested
 *	  fields, in one pass of our own over each record.
 *
 * Two steps per record:
 *
 *	1. The boundary scanner (json_scan.h; AVX2 or SSE2, 64 bytes at a
 *	   time) finds where the record ends and checks what every record must
 *	   satisfy, requested fields or not: strings end, brackets match (with
 *	   their kinds: "[}" is caught), nesting is at most 1024 deep, no raw
 *	   control character is inside a string.  It also tells whether the
 *	   record has any byte >= 0x80; only such records (a few percent in
 *	   practice) pay for simdjson's UTF-8 validator.
 *	2. The walker goes through the record's object left to right, converts
 *	   the values the path trie asks for and skips the others, and stops as
 *	   soon as every requested key has been met.
 *
 * Step 2 used to be simdjson's On-Demand parser, one iterate() per record.
 * Its stage 1 went over every byte of the record a second time (to index
 * it), and the walk always went to the record's end.  Measured on 1M IoT
 * records (bench/decode_bench, reader alone, medians): no fields
 * (count(*)) 0.145 s -> 0.057 s, two early fields 0.168 s -> 0.068 s, all
 * 11 fields 0.342 s -> 0.212 s; in the extension, on the 37 MB gzip
 * object, SELECT * 0.72 s -> 0.58 s and sum(battery) 0.41 s -> 0.30 s.
 * It also fixed values that simdjson 3.0.1 got wrong (decimals with more
 * than 19 digits, such as -0.9670670930297359979979168901, which it read
 * as -1.1e-09), records it accepted although its iterator had stopped on
 * an error, and the check of requested containers: On-Demand's raw_json()
 * of an object checks only its first field, and json columns rely on
 * valid JSON.  simdjson's iterate_many() had been measured before and
 * rejected: an error stops its stream for good, a batch must end exactly
 * after a record, and around mismatched brackets its document boundaries
 * differ from any scan that does not track bracket kinds.
 *
 * What is checked: requested values in full (strings and their escapes,
 * the number grammar, literals, and containers all the way down when
 * their text is asked for; the whole record when "" is requested), and the
 * syntax of every object the walk goes through, as far as it goes.  What
 * is not: values nobody asked for are skipped like On-Demand parsers skip
 * them (a malformed number or literal there passes), and nothing after the
 * last requested key of an object.  Every record is checked by the
 * scanner as above, whatever is requested, and records stay isolated:
 * errors never leak into the next record, and the same records come out
 * wherever the caller's buffer boundaries fall (the walker never depends
 * on a byte past the record's end, see the walker's section).
 *
 * The requested fields (keys or dotted paths) are compiled into a small
 * trie.  Records of one stream nearly always have the same keys in the
 * same order, so each trie node remembers the keys of the last object it
 * saw by position (ShapeSlot): a key is then recognized, wanted or not,
 * with one comparison.
 *
 * This file must stay free of PostgreSQL backend calls and of C++
 * exceptions: it is built with -fno-exceptions and also linked into the
 * unit tests and the benchmark.  Allocation is malloc/realloc so that an
 * out-of-memory condition is an error code, not std::terminate().
 *
 * IDENTIFICATION
 *	  src/decode/json_reader.cpp
 *
 *-------------------------------------------------------------------------
 */
#ifndef SIMDJSON_EXCEPTIONS
#define SIMDJSON_EXCEPTIONS 0
#endif
/* for validate_utf8() and the error messages that rejects have always had */
#include <simdjson.h>

#include <charconv>
#include <climits>
#include <new>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "json_reader.h"

/*
 * The scanner reads up to 63 bytes past the end of the data, the walker up
 * to 15 past a closing quote inside a record.
 */
static_assert(JSON_READER_PADDING >= 64, "JSON_READER_PADDING must cover the scanner's reads");

/* Nesting limit (simdjson's too, so that rejects read as they always did). */
#define JR_MAX_DEPTH 1024L

#define JR_NONE ((size_t) -1)

/* How many requested fields may name the same path (see Target arrays). */
#define JR_MAX_SAME_PATH 8

/* One edge of the path trie: a key leading to a child node. */
typedef struct TrieEdge
{
	char	   *key;
	size_t		len;
	int			child;
	bool		fast;			/* exactly one field ends here, nothing goes
								 * deeper: convert_one() may take it */
	int			field;			/* that field */
	JsonWant	want;			/* and its want */
	uint64_t	seen;			/* JsonReader.record_gen of the last record
								 * in which this key was met */
} TrieEdge;

/* Keys longer than this are not remembered in a shape (see ShapeSlot). */
#define JR_SHAPE_KEY 24

/* Members of an object whose keys are remembered. */
#define JR_SHAPE_MAX 64

/*
 * The key that the last object at this node had at one position, and what
 * it means: records of one stream nearly always list the same keys in the
 * same order, so one comparison with it usually tells both where the key
 * ends and which edge it is (or that nobody wants it), without measuring
 * the key or searching the trie.  Only keys without escapes are kept.
 */
typedef struct ShapeSlot
{
	char		key[JR_SHAPE_KEY + 8];	/* raw key, zero-padded for key_eq */
	int			len;			/* -1: nothing remembered */
	struct TrieEdge *edge;		/* the key's edge, or NULL: not wanted */
} ShapeSlot;

/*
 * A node of the path trie.  The root is the record; a node is reached by a
 * key path.  "leaf" lists the fields whose path ends here.
 */
typedef struct TrieNode
{
	TrieEdge   *edges;
	int			nedges;
	int			guess;			/* edge to try first in trie_match */
	int		   *leaf;
	int			nleaf;
	ShapeSlot  *shape;			/* JR_SHAPE_MAX slots, when nedges > 0 */
	uint64_t	first[4];		/* bit c: some edge's key starts with byte c
								 * (or may, once unescaped) */
} TrieNode;

/* Where one converted value goes. */
typedef struct Target
{
	int			field;			/* index into fields[] */
	JsonValue  *out;
} Target;

/* State of the top-level array we are streaming through, if any. */
typedef enum ArrayState
{
	ARR_NONE,					/* not inside a top-level array */
	ARR_FIRST,					/* after '[': element or ']' */
	ARR_AFTER_ELEM,				/* after an element: ',' or ']' */
	ARR_NEED_ELEM				/* after ',': an element */
} ArrayState;

struct JsonReader
{
	JsonField  *fields;
	int			nfields;
	int		   *whole;			/* fields with path "" */
	int			nwhole;

	TrieNode   *nodes;			/* nodes[0] is the root */
	int			nnodes;

	JsonValue **elems;			/* per field: element buffer */
	int		   *elems_cap;		/* per field: usable slots (see elem_slot) */
	int			nelemfields;	/* fields that split arrays */
	size_t		max_elems;		/* elements per record, all fields */
	size_t		max_field_elems;	/* a field's share of them */
	bool		elems_over;		/* elem_slot refused: more than the share */

	char	   *sbuf;			/* unescaped strings of the current record */
	size_t		sbuf_cap;		/* (never more than the record's length) */

	/* the fed buffer */
	const char *buf;
	size_t		len;
	bool		at_eof;

	size_t		pos;			/* next byte to look at */
	size_t		rec_offset;		/* start of the last record returned */
	ArrayState	arr;
	bool		started;		/* past a possible byte order mark */
	bool		multiline_seen; /* a good record spanned lines */
	uint64_t	records_ok;
	uint64_t	record_gen;		/* counts parse_record calls: TrieEdge.seen */
	bool		fatal;

	JsonError	err;
	char		errbuf[256];
};

/* ----------------------------------------------------------------
 * Record boundary scanner
 * ----------------------------------------------------------------
 */

/* What the scanner found for the container starting at some offset. */
typedef struct ScanOut
{
	bool		complete;		/* the matching close bracket was found */
	bool		too_deep;		/* nesting deeper than JR_MAX_DEPTH */
	bool		mismatched;		/* a ']' closed a '{' or a '}' a '[' */
	size_t		end;			/* one past the close bracket, if complete */
	size_t		first_nl;		/* first '\n' outside strings, or JR_NONE */
	size_t		broken_line;	/* a line break that ends a broken record
								 * (see scan_container), or JR_NONE */
	bool		broken_in_string;	/* ... and it was inside a string */
	bool		nonascii;		/* complete: a byte >= 0x80 (so its UTF-8
								 * must be checked) */
	bool		ctrl_in_string;	/* complete: a raw control character inside
								 * a string */
} ScanOut;

/* Bit masks of interesting bytes in a 64-byte block (bit i = byte i). */
typedef struct BlockMasks
{
	uint64_t	quote;
	uint64_t	backslash;
	uint64_t	open;			/* '{' or '[' */
	uint64_t	close;			/* '}' or ']' */
	uint64_t	newline;
	uint64_t	square;			/* bit 5 clear: among brackets, '[' or ']' */
	uint64_t	high;			/* bytes >= 0x80 */
	uint64_t	ctrl;			/* bytes < 0x20 */
} BlockMasks;

#if defined(__SSE2__)
static inline uint64_t
eq_mask(__m128i v, char c)
{
	return (uint32_t) _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)));
}

/*
 * SSE2 is part of every x86-64 CPU, so this needs no runtime dispatch.
 * OR-ing 0x20 folds '[' (0x5b) onto '{' (0x7b) and ']' onto '}', and no
 * other byte lands on those two, so each pair is a single compare.
 */
static inline void
classify_block(const uint8_t *p, BlockMasks *m)
{
	const __m128i lower = _mm_set1_epi8(0x20);
	const __m128i c1f = _mm_set1_epi8(0x1F);

	m->quote = m->backslash = m->open = m->close = m->newline = m->square = 0;
	m->high = m->ctrl = 0;
	for (int k = 0; k < 4; k++)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) (p + 16 * k));
		__m128i		f = _mm_or_si128(v, lower);
		int			sh = 16 * k;

		m->high |= (uint64_t) (uint32_t) _mm_movemask_epi8(v) << sh;
		/* unsigned v <= 0x1F */
		m->ctrl |= (uint64_t) (uint32_t) _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v)) << sh;

		m->quote |= eq_mask(v, '"') << sh;
		m->backslash |= eq_mask(v, '\\') << sh;
		m->open |= eq_mask(f, '{') << sh;
		m->close |= eq_mask(f, '}') << sh;
		m->newline |= eq_mask(v, '\n') << sh;
		/* bit 5 of each byte, shifted into bit 7 for movemask */
		m->square |= (uint64_t) (uint32_t) _mm_movemask_epi8(_mm_slli_epi16(v, 2)) << sh;
	}
	m->square = ~m->square;
}
#else
static inline void
classify_block(const uint8_t *p, BlockMasks *m)
{
	m->quote = m->backslash = m->open = m->close = m->newline = m->square = 0;
	m->high = m->ctrl = 0;
	for (int i = 0; i < 64; i++)
	{
		uint64_t	bit = UINT64_C(1) << i;

		if (p[i] >= 0x80)
			m->high |= bit;
		if (p[i] < 0x20)
			m->ctrl |= bit;
		switch (p[i])
		{
			case '"':
				m->quote |= bit;
				break;
			case '\\':
				m->backslash |= bit;
				break;
			case '{':
				m->open |= bit;
				break;
			case '[':
				m->open |= bit;
				m->square |= bit;
				break;
			case '}':
				m->close |= bit;
				break;
			case ']':
				m->close |= bit;
				m->square |= bit;
				break;
			case '\n':
				m->newline |= bit;
				break;
		}
	}
}
#endif

/* Inclusive prefix XOR: bit i = XOR of bits 0..i (string interiors). */
static inline uint64_t
prefix_xor(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

/*
 * Bracket depth and, for the first JR_MAX_DEPTH levels, the kind of each
 * open container (bit set: '['), so that "[}" is caught here: simdjson does
 * not check the brackets of values it skips.
 */
typedef struct Brackets
{
	long		depth;
	uint64_t	kind[JR_MAX_DEPTH / 64];
} Brackets;

/*
 * Apply the open and close brackets of a block (bit masks, outside
 * strings) in order.  True when the depth returns to zero: so->end is set
 * and the record complete.
 */
static inline bool
brackets(Brackets *br, uint64_t op, uint64_t cl, uint64_t square, size_t i, ScanOut *so)
{
	uint64_t	all = op | cl;

	while (all)
	{
		int			k = __builtin_ctzll(all);
		uint64_t	sq = (square >> k) & 1;

		all &= all - 1;
		if ((op >> k) & 1)
		{
			long		d = br->depth++;

			if (d < JR_MAX_DEPTH)
				br->kind[d / 64] = (br->kind[d / 64] & ~(UINT64_C(1) << (d % 64))) |
					(sq << (d % 64));
			else
				so->too_deep = true;
		}
		else
		{
			long		d = --br->depth;

			if (d >= 0 && d < JR_MAX_DEPTH && ((br->kind[d / 64] >> (d % 64)) & 1) != sq)
				so->mismatched = true;
			if (d == 0)
			{
				so->complete = true;
				so->end = i + k + 1;
				if (so->first_nl != JR_NONE && so->first_nl >= so->end)
					so->first_nl = JR_NONE;
				return true;
			}
		}
	}
	return false;
}

/* The scanner for any x86-64 (SSE2) or other CPU. */
#define SCAN_FUNCTION scan_container_base
#define SCAN_CLASSIFY classify_block
#define SCAN_PREFIX_XOR prefix_xor
#include "json_scan.h"
#undef SCAN_FUNCTION
#undef SCAN_CLASSIFY
#undef SCAN_PREFIX_XOR

#if defined(__x86_64__) && defined(__GNUC__)
#define JR_HAVE_AVX2_SCAN 1

/*
 * The same scanner for AVX2 CPUs (nearly all x86-64 servers of the last
 * ten years): 32 bytes per compare instead of 16, and the string mask with
 * one carry-less multiply instead of six shifts.  Compiled for AVX2 here
 * only, and only called when the CPU has it (see json_reader_create), so
 * the extension still runs on any x86-64.
 */
#if defined(__clang__)
/* (clang: the fuzzer's compiler, test/fuzz) */
#include <immintrin.h>
#pragma clang attribute push (__attribute__((target("avx2,bmi,bmi2,popcnt,pclmul"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,bmi,bmi2,popcnt,pclmul")
#include <immintrin.h>
#endif

static inline uint64_t
eq_mask256(__m256i v, char c)
{
	return (uint32_t) _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(c)));
}

static inline void
classify_block_avx2(const uint8_t *p, BlockMasks *m)
{
	const __m256i lower = _mm256_set1_epi8(0x20);
	__m256i		v0 = _mm256_loadu_si256((const __m256i *) p);
	__m256i		v1 = _mm256_loadu_si256((const __m256i *) (p + 32));
	__m256i		f0 = _mm256_or_si256(v0, lower);
	__m256i		f1 = _mm256_or_si256(v1, lower);

	m->quote = eq_mask256(v0, '"') | (eq_mask256(v1, '"') << 32);
	m->backslash = eq_mask256(v0, '\\') | (eq_mask256(v1, '\\') << 32);
	m->open = eq_mask256(f0, '{') | (eq_mask256(f1, '{') << 32);
	m->close = eq_mask256(f0, '}') | (eq_mask256(f1, '}') << 32);
	m->newline = eq_mask256(v0, '\n') | (eq_mask256(v1, '\n') << 32);
	m->square = ~((uint64_t) (uint32_t) _mm256_movemask_epi8(_mm256_slli_epi16(v0, 2)) |
				  ((uint64_t) (uint32_t) _mm256_movemask_epi8(_mm256_slli_epi16(v1, 2)) << 32));
	m->high = (uint64_t) (uint32_t) _mm256_movemask_epi8(v0) |
		((uint64_t) (uint32_t) _mm256_movemask_epi8(v1) << 32);
	{
		const __m256i c1f = _mm256_set1_epi8(0x1F);

		/* unsigned v <= 0x1F */
		m->ctrl = (uint64_t) (uint32_t) _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(v0, c1f), v0)) |
			((uint64_t) (uint32_t) _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(v1, c1f), v1)) << 32);
	}
}

/* Prefix XOR as a carry-less multiply by all ones. */
static inline uint64_t
prefix_xor_clmul(uint64_t x)
{
	__m128i		r = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long) x),
										 _mm_set1_epi8((char) 0xFF), 0);

	return (uint64_t) _mm_cvtsi128_si64(r);
}

#define SCAN_FUNCTION scan_container_avx2
#define SCAN_CLASSIFY classify_block_avx2
#define SCAN_PREFIX_XOR prefix_xor_clmul
#include "json_scan.h"
#undef SCAN_FUNCTION
#undef SCAN_CLASSIFY
#undef SCAN_PREFIX_XOR

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif							/* AVX2 scanner */

typedef void (*ScanFunction) (const char *buf, size_t start, size_t len, ScanOut *so);

/* The scanner for this CPU; set by json_reader_create. */
static ScanFunction scan_container = scan_container_base;
static bool force_baseline = false;

static bool
cpu_has_avx2(void)
{
#ifdef JR_HAVE_AVX2_SCAN
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
		__builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt") &&
		__builtin_cpu_supports("pclmul");
#else
	return false;
#endif
}

static void
choose_scanner(void)
{
#ifdef JR_HAVE_AVX2_SCAN
	if (!force_baseline && cpu_has_avx2())
	{
		scan_container = scan_container_avx2;
		return;
	}
#endif
	scan_container = scan_container_base;
}

extern "C" const char *
json_reader_simd(void)
{
	choose_scanner();
#ifdef JR_HAVE_AVX2_SCAN
	if (scan_container == scan_container_avx2)
		return "avx2";
#endif
#if defined(__SSE2__)
	return "sse2";
#else
	return "scalar";
#endif
}

extern "C" void
json_reader_force_baseline(bool on)
{
	force_baseline = on;
	choose_scanner();
}

/*
 * End of a JSON string that starts with the quote at buf[start]: one past
 * the closing quote, or JR_NONE if it does not end before len (or a raw
 * line break interrupts it; *nl then says where).  Only used on the rare
 * paths (a string where a record should be).
 */
static size_t
scan_string_end(const char *buf, size_t start, size_t len, size_t *nl)
{
	*nl = JR_NONE;
	for (size_t i = start + 1; i < len; i++)
	{
		if (buf[i] == '\\')
			i++;
		else if (buf[i] == '"')
			return i + 1;
		else if (buf[i] == '\n')
		{
			*nl = i;
			return JR_NONE;
		}
	}
	return JR_NONE;
}

static inline bool
is_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* A byte that ends a bare token (number, literal or garbage). */
static inline bool
is_token_end(char c)
{
	return is_ws(c) || c == ',' || c == ']' || c == '}' || c == '[' ||
		c == '{' || c == '"';
}

/* ----------------------------------------------------------------
 * Path trie
 * ----------------------------------------------------------------
 */

/* Append v to a malloc'd int array; false on out of memory. */
static bool
int_push(int **arr, int *n, int v)
{
	int		   *a = (int *) realloc(*arr, sizeof(int) * (*n + 1));

	if (a == NULL)
		return false;
	a[(*n)++] = v;
	*arr = a;
	return true;
}

static int
trie_new_node(JsonReader *r)
{
	TrieNode   *n = (TrieNode *) realloc(r->nodes, sizeof(TrieNode) * (r->nnodes + 1));

	if (n == NULL)
		return -1;
	r->nodes = n;
	memset(&n[r->nnodes], 0, sizeof(TrieNode));
	return r->nnodes++;
}

/* Add the path of field fi; false on out of memory. */
static bool
trie_add(JsonReader *r, int fi)
{
	const char *path = r->fields[fi].path;
	int			node = 0;

	if (path[0] == '\0')
		return int_push(&r->whole, &r->nwhole, fi);

	for (;;)
	{
		const char *dot = strchr(path, '.');
		size_t		klen = dot ? (size_t) (dot - path) : strlen(path);
		int			child = -1;
		TrieNode   *n = &r->nodes[node];

		for (int e = 0; e < n->nedges; e++)
		{
			if (n->edges[e].len == klen && memcmp(n->edges[e].key, path, klen) == 0)
			{
				child = n->edges[e].child;
				break;
			}
		}
		if (child < 0)
		{
			TrieEdge   *edges;
			char	   *key;

			child = trie_new_node(r);
			if (child < 0)
				return false;
			n = &r->nodes[node];	/* nodes may have moved */
			/* zero padding lets key_eq() compare 8 bytes at a time */
			key = (char *) calloc(1, klen + 8);
			edges = (TrieEdge *) realloc(n->edges, sizeof(TrieEdge) * (n->nedges + 1));
			if (key == NULL || edges == NULL)
			{
				free(key);
				if (edges)
					n->edges = edges;
				return false;
			}
			memcpy(key, path, klen);
			key[klen] = '\0';
			n->edges = edges;
			{
				/* an empty key's raw form starts with its closing quote */
				unsigned char c0 = klen ? (unsigned char) key[0] : '"';

				n->first[c0 / 64] |= UINT64_C(1) << (c0 % 64);
				/* and any key may start with an escape */
				n->first['\\' / 64] |= UINT64_C(1) << ('\\' % 64);
			}
			n->edges[n->nedges].key = key;
			n->edges[n->nedges].len = klen;
			n->edges[n->nedges].child = child;
			n->edges[n->nedges].seen = 0;
			n->nedges++;
		}
		if (dot == NULL)
			return int_push(&r->nodes[child].leaf, &r->nodes[child].nleaf, fi);
		node = child;
		path = dot + 1;
	}
}

/*
 * Length of a raw key (the bytes before its closing quote), and whether it
 * has escapes, i.e. a backslash comes first.  8 bytes at a time: the
 * classic "has a zero byte" test on the word XOR-ed with each character.
 * The lowest flagged byte is always exact (false positives can only occur
 * above a true one).  Reads up to 7 bytes past the quote, which the
 * record and its padding cover.
 */
static inline size_t
key_length(const char *k, bool *escaped)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t highs = UINT64_C(0x8080808080808080);

	for (size_t i = 0;; i += 8)
	{
		uint64_t	w;
		uint64_t	q;
		uint64_t	b;
		uint64_t	hit;

		memcpy(&w, k + i, 8);
		q = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		hit = ((q - ones) & ~q & highs) | ((b - ones) & ~b & highs);
		if (hit)
		{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			size_t		j = i + __builtin_ctzll(hit) / 8;
#else
			size_t		j = i;

			while (k[j] != '"' && k[j] != '\\')
				j++;
#endif
			*escaped = (k[j] == '\\');
			return j;
		}
	}
}

/*
 * a[0..n) == b[0..n), reading up to 7 bytes past both: a is a key in the
 * record (followed at least by ':', a value and the padding), b a trie key
 * (zero-padded).  A call to memcmp for each key of each record showed up
 * in profiles; keys are short.
 */
static inline bool
key_eq(const char *a, const char *b, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t	x;
	uint64_t	y;

	while (n >= 8)
	{
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return false;
		a += 8;
		b += 8;
		n -= 8;
	}
	if (n == 0)
		return true;
	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	return ((x ^ y) & (~UINT64_C(0) >> (64 - 8 * n))) == 0;
#else
	return memcmp(a, b, n) == 0;
#endif
}

/*
 * Find the child edge for a key.  Records of one stream nearly always list
 * their keys in the same order, so we start where the last match left off
 * and usually hit on the first comparison.
 */
static inline TrieEdge *
trie_match(TrieNode *n, const char *key, size_t len, bool padded)
{
	int			ne = n->nedges;
	int			i = n->guess;

	for (int k = 0; k < ne; k++)
	{
		TrieEdge   *e = &n->edges[i];

		if (e->len == len &&
			(padded ? key_eq(key, e->key, len) : memcmp(key, e->key, len) == 0))
		{
			n->guess = (i + 1 < ne) ? i + 1 : 0;
			return e;
		}
		if (++i == ne)
			i = 0;
	}
	return NULL;
}

/* ----------------------------------------------------------------
 * Errors
 * ----------------------------------------------------------------
 */

static void
set_error(JsonReader *r, size_t rec_start, size_t rec_end, size_t err_at,
		  const char *fmt, const char *detail)
{
	if (detail)
		snprintf(r->errbuf, sizeof(r->errbuf), fmt, detail);
	else
		snprintf(r->errbuf, sizeof(r->errbuf), "%s", fmt);
	r->err.message = r->errbuf;
	if (rec_start > r->len)
		rec_start = r->len;
	if (rec_end < rec_start)
		rec_end = rec_start;
	if (rec_end > r->len)
		rec_end = r->len;
	if (err_at < rec_start || err_at > r->len)
		err_at = rec_start;
	r->err.record_offset = rec_start;
	r->err.error_offset = err_at;
	r->err.record_text = r->buf ? r->buf + rec_start : NULL;
	r->err.record_len = rec_end - rec_start;
	r->err.too_large = false;
}

/* ----------------------------------------------------------------
 * Record walker
 *
 * One pass over a complete record, left to right, converting the
 * requested values and skipping the rest.  The scanner has already
 * checked what every record must satisfy (brackets match, strings end, no
 * raw control character inside a string, no nesting deeper than 1024)
 * and found its end.  The walk tells strings and brackets apart exactly as
 * the scanner does, so it needs no bounds checks: every loop below stops
 * at the record's closing '}' at the latest.  Reads may go up to 15 bytes
 * past a string's closing quote or 7 past a number, never past the
 * padding, and what they see there never changes the outcome: records do
 * not depend on where the buffers end (test_json_reader checks this with
 * junk and with zeros after the data).
 * ----------------------------------------------------------------
 */

#define JR_LIKELY(x) __builtin_expect(!!(x), 1)
#define JR_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* State of the walk of one record. */
typedef struct Walker
{
	JsonReader *r;
	JsonValue  *values;
	uint64_t	gen;			/* r->record_gen: marks the keys met */
	char	   *sbuf;			/* next free byte for unescaped strings */
	const char *err_at;			/* where the walk failed */
	const char *msg;			/* our own message, or NULL */
	simdjson::error_code code;	/* else simdjson's message for this code,
								 * so that rejects read as they always did */
} Walker;

static const char *walk_object(Walker *w, const char *p, TrieNode *node,
							   bool may_stop, bool need_end);
static const char *convert_value(Walker *w, const char *p, Target *t, int nt,
								 TrieNode *children, bool allow_elems);

/* Remember why and where the record failed; returns NULL for the caller. */
static inline const char *
walk_fail(Walker *w, const char *at, simdjson::error_code code, const char *msg)
{
	w->err_at = at;
	w->code = code;
	w->msg = msg;
	return NULL;
}

static inline const char *
skip_ws(const char *p)
{
	while (is_ws(*p))
		p++;
	return p;
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A set of bytes as a table, built at compile time. */
struct ByteSet
{
	bool		has[256];

	constexpr	ByteSet(const char *bytes) : has()
	{
		for (const char *b = bytes; *b; b++)
			has[(unsigned char) *b] = true;
	}
};

/*
 * Bytes that may follow a number or a literal: white space and '"' ','
 * ':' '[' ']' '{' '}' (simdjson's rule too, so "12abc" and "truex" are
 * errors).
 */
static constexpr ByteSet scalar_end(" \t\n\r\",:[]{}");

static inline bool
ends_scalar(char c)
{
	return scalar_end.has[(unsigned char) c];
}

/*
 * The first '"' or '\\' at or after s, 16 bytes at a time.  The caller
 * knows that a closing quote comes before the end of the record.
 */
static inline const char *
find_quote_or_backslash(const char *s)
{
#if defined(__SSE2__)
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i bslash = _mm_set1_epi8('\\');

	for (;; s += 16)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) s);
		unsigned	m = (unsigned) _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
																_mm_cmpeq_epi8(v, bslash)));

		if (m)
			return s + __builtin_ctz(m);
	}
#else
	while (*s != '"' && *s != '\\')
		s++;
	return s;
#endif
}

/*
 * The closing quote of the string whose text starts at s.  A backslash
 * escapes the byte after it, exactly as the scanner counts them.
 */
static inline const char *
string_end(const char *s)
{
	for (;;)
	{
		s = find_quote_or_backslash(s);
		if (*s == '"')
			return s;
		s += 2;
	}
}

/*
 * Skip to the end of the container whose opening bracket was before p,
 * "depth" levels deep: returns the byte after the closing bracket.  Like
 * any On-Demand parser, this checks nothing but the brackets and strings,
 * which the scanner has matched - and the scanner's rules are followed to
 * the letter, so that the matching bracket is found where the scanner
 * found it, never past the record: a backslash escapes the byte after it
 * even outside strings (so \" there starts no string), and brackets count
 * whatever precedes them.
 */
static const char *
skip_container(const char *p, int depth)
{
	for (;;)
	{
		char		c;

#if defined(__SSE2__)
		{
			const __m128i quote = _mm_set1_epi8('"');
			const __m128i bslash = _mm_set1_epi8('\\');
			const __m128i lower = _mm_set1_epi8(0x20);
			const __m128i open = _mm_set1_epi8('{');
			const __m128i close = _mm_set1_epi8('}');
			__m128i		v = _mm_loadu_si128((const __m128i *) p);
			__m128i		f = _mm_or_si128(v, lower);
			__m128i		hit;
			unsigned	m;

			hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
							   _mm_or_si128(_mm_cmpeq_epi8(f, open), _mm_cmpeq_epi8(f, close)));
			m = (unsigned) _mm_movemask_epi8(hit);
			if (m == 0)
			{
				p += 16;
				continue;
			}
			p += __builtin_ctz(m);
		}
#else
		while (*p != '"' && *p != '\\' && (*p | 0x20) != '{' && (*p | 0x20) != '}')
			p++;
#endif
		c = *p;
		if (c == '"')
			p = string_end(p + 1) + 1;
		else if (c == '\\')
			p += (p[1] == '"' || p[1] == '\\') ? 2 : 1;
		else if ((c | 0x20) == '{')
		{
			depth++;
			p++;
		}
		else
		{
			p++;
			if (--depth == 0)
				return p;
		}
	}
}

/*
 * The byte after the container whose opening bracket is at p: found by the
 * record scanner itself, 64 bytes at a time with few branches, which beats
 * skip_container's byte-hopping loop on the short arrays and objects of
 * typical records.  The container is inside a complete record, so the
 * scan completes there (its line-break rules cannot fire: the record's own
 * scan would have stopped).
 */
static inline const char *
skip_whole(Walker *w, const char *p)
{
	ScanOut		so;
	size_t		at = (size_t) (p - w->r->buf);

	scan_container(w->r->buf, at, w->r->len, &so);
	if (JR_LIKELY(so.complete))
		return w->r->buf + so.end;
	return skip_container(p + 1, 1);	/* cannot happen */
}

/* A value nobody asked for, at p: the byte after it. */
static const char *
skip_value(Walker *w, const char *p)
{
	switch (*p)
	{
		case '"':
			return string_end(p + 1) + 1;
		case '{':
		case '[':
			return skip_whole(w, p);
		case ',':
		case '}':
		case ']':
		case ':':
			return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
		default:
			/* a number or literal, unchecked (see the file header) */
			while (!ends_scalar(*p))
				p++;
			return p;
	}
}

/* Four hex digits at s; a value above 0xFFFF when they are not. */
static inline uint32_t
hex4(const char *s)
{
	uint32_t	v = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = s[i];
		uint32_t	d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return 0x10000;
		v = v * 16 + d;
	}
	return v;
}

/*
 * Unescape the string whose text starts at s, whose first '"' or '\\' is
 * at q (a backslash: the common case without escapes never comes here),
 * into dst.  *end receives the closing quote.  Returns the byte after the
 * last one written, or NULL for an invalid escape.  The rules are
 * simdjson's: \uXXXX takes exactly four hex digits, a high surrogate must
 * be followed by an escaped low one, a lone low surrogate is an error.
 * The output is never longer than the input.
 */
static char *
unescape_string(const char *s, const char *q, const char **end, char *dst, bool *has_nul)
{
	for (;;)
	{
		memcpy(dst, s, q - s);
		dst += q - s;
		if (*q == '"')
		{
			*end = q;
			return dst;
		}
		switch (q[1])
		{
			case '"':
			case '\\':
			case '/':
				*dst++ = q[1];
				s = q + 2;
				break;
			case 'b':
				*dst++ = '\b';
				s = q + 2;
				break;
			case 'f':
				*dst++ = '\f';
				s = q + 2;
				break;
			case 'n':
				*dst++ = '\n';
				s = q + 2;
				break;
			case 'r':
				*dst++ = '\r';
				s = q + 2;
				break;
			case 't':
				*dst++ = '\t';
				s = q + 2;
				break;
			case 'u':
				{
					uint32_t	cp = hex4(q + 2);

					s = q + 6;
					if (cp >= 0xD800 && cp < 0xDC00)
					{
						uint32_t	lo;

						if (s[0] != '\\' || s[1] != 'u')
							return NULL;
						lo = hex4(s + 2);
						if (lo < 0xDC00 || lo > 0xDFFF)
							return NULL;
						cp = (((cp - 0xD800) << 10) | (lo - 0xDC00)) + 0x10000;
						s += 6;
					}
					else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp > 0xFFFF)
						return NULL;

					if (cp < 0x80)
					{
						*dst++ = (char) cp;
						if (cp == 0)
							*has_nul = true;
					}
					else if (cp < 0x800)
					{
						*dst++ = (char) (0xC0 | (cp >> 6));
						*dst++ = (char) (0x80 | (cp & 0x3F));
					}
					else if (cp < 0x10000)
					{
						*dst++ = (char) (0xE0 | (cp >> 12));
						*dst++ = (char) (0x80 | ((cp >> 6) & 0x3F));
						*dst++ = (char) (0x80 | (cp & 0x3F));
					}
					else
					{
						*dst++ = (char) (0xF0 | (cp >> 18));
						*dst++ = (char) (0x80 | ((cp >> 12) & 0x3F));
						*dst++ = (char) (0x80 | ((cp >> 6) & 0x3F));
						*dst++ = (char) (0x80 | (cp & 0x3F));
					}
					break;
				}
			default:
				return NULL;
		}
		q = find_quote_or_backslash(s);
	}
}

/*
 * The string value at p (its opening quote): *str and *len receive the
 * unescaped text (in place when it has no escapes, else in the walker's
 * string buffer).  Returns the byte after the closing quote, or NULL.
 */
static inline const char *
read_string(Walker *w, const char *p, const char **str, size_t *len, bool *has_nul)
{
	const char *s = p + 1;
	const char *q = find_quote_or_backslash(s);
	const char *end;
	char	   *out;

	*has_nul = false;
	if (*q == '"')
	{
		/* no escapes: raw control characters are refused, so no NUL */
		*str = s;
		*len = q - s;
		return q + 1;
	}
	out = unescape_string(s, q, &end, w->sbuf, has_nul);
	if (out == NULL)
		return walk_fail(w, p, simdjson::STRING_ERROR, NULL);
	*str = w->sbuf;
	*len = out - w->sbuf;
	w->sbuf = out;
	return end + 1;
}

static const uint64_t pow10_u64[] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000
};

/*
 * The run of decimal digits at s, up to 8 of them: returns how many, and
 * their value in *val.  Branch-free: one load, and the digits combined in
 * pairs, fours and eights by multiplications ("SWAR"), instead of a loop
 * whose exit the CPU mispredicts for numbers of varying length.  Reads 8
 * bytes; the first non-digit, which ends the run, is never past the
 * record's closing '}', so what lies beyond does not matter.
 */
static inline int
digits8(const char *s, uint64_t *val)
{
	uint64_t	x;
	uint64_t	nondigit;
	int			n;

	memcpy(&x, s, 8);
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
	x = __builtin_bswap64(x);
#endif
	/* digits become 0..9: high nibble 0 and adding 6 keeps it 0 */
	x ^= UINT64_C(0x3030303030303030);
	nondigit = (x | (x + UINT64_C(0x0606060606060606))) & UINT64_C(0xF0F0F0F0F0F0F0F0);
	n = nondigit ? __builtin_ctzll(nondigit) / 8 : 8;
	if (n == 0)
	{
		*val = 0;
		return 0;
	}
	/* the n digits to the top bytes (the first, most significant, lowest) */
	x <<= 8 * (8 - n);
	x = (x * 10 + (x >> 8)) & UINT64_C(0x00FF00FF00FF00FF);
	x = (x * 100 + (x >> 16)) & UINT64_C(0x0000FFFF0000FFFF);
	x = (x * 10000 + (x >> 32)) & UINT64_C(0x00000000FFFFFFFF);
	*val = x;
	return n;
}

/* Exact powers of ten for the fast path of parse_number. */
static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/* What parse_number found; ok_i / ok_d only when asked for. */
typedef struct Number
{
	bool		ok_i;
	bool		ok_d;
	int64_t		i64;
	double		f64;
} Number;

/*
 * The number at p: checked against the JSON grammar
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and followed by a byte
 * that can end it; NULL when it is not a number.  Converted to int64
 * (integers in range only: 1.0 and 1e3 are not) and to double as asked.
 * Doubles: with at most 19 digits, a mantissa below 2^53 and a power of
 * ten up to 22, one multiplication or division of two exact values is
 * correctly rounded (Clinger's fast path, nearly every number in
 * practice); anything else goes to std::from_chars, which also rounds
 * correctly.  As with simdjson, an underflow is zero and an overflow not
 * a double (num_ok false).
 */
static inline __attribute__((always_inline)) const char *
parse_number(const char *p, bool want_i, bool want_d, Number *n)
{
	const char *s = p;
	bool		neg = (*s == '-');
	uint64_t	m = 0;
	int			nint;
	int			nfrac = 0;
	int64_t		exp10 = 0;
	bool		integral = true;

	s += neg;
	if (*s == '0')
	{
		/* no more digits may follow: ends_scalar() below sees to that */
		s++;
		nint = 1;
	}
	else
	{
		uint64_t	v;
		int			n = digits8(s, &m);

		if (n == 0)
			return NULL;
		s += n;
		nint = n;
		/* more than 19 digits overflow m: the counts tell */
		while (n == 8)
		{
			n = digits8(s, &v);
			m = m * pow10_u64[n] + v;
			s += n;
			nint += n;
		}
	}
	if (*s == '.')
	{
		uint64_t	v;
		int			n = digits8(++s, &v);

		if (n == 0)
			return NULL;
		m = m * pow10_u64[n] + v;
		s += n;
		nfrac = n;
		while (n == 8)
		{
			n = digits8(s, &v);
			m = m * pow10_u64[n] + v;
			s += n;
			nfrac += n;
		}
		integral = false;
	}
	if ((*s | 0x20) == 'e')
	{
		bool		eneg = false;

		s++;
		if (*s == '+' || *s == '-')
			eneg = (*s++ == '-');
		if (!is_digit(*s))
			return NULL;
		do
		{
			if (exp10 < 100000)
				exp10 = exp10 * 10 + (*s - '0');
			s++;
		} while (is_digit(*s));
		if (eneg)
			exp10 = -exp10;
		integral = false;
	}
	if (!ends_scalar(*s))
		return NULL;

	/* m is exact when there are at most 19 digits (< 10^19 < 2^64) */
	if (want_i)
	{
		n->ok_i = false;
		if (integral && nint <= 19)
		{
			if (!neg && m <= (uint64_t) INT64_MAX)
			{
				n->i64 = (int64_t) m;
				n->ok_i = true;
			}
			else if (neg && m <= (uint64_t) INT64_MAX + 1)
			{
				n->i64 = (int64_t) (0 - m);
				n->ok_i = true;
			}
		}
	}
	if (want_d)
	{
		int64_t		e = exp10 - nfrac;

		n->ok_d = true;
		if (nint + nfrac <= 19 && m <= (UINT64_C(1) << 53) && e >= -22 && e <= 22)
		{
			double		d = (double) m;

			d = e < 0 ? d / pow10_exact[-e] : d * pow10_exact[e];
			n->f64 = neg ? -d : d;
		}
		else if (nint + nfrac <= 19 && m == 0)
			n->f64 = neg ? -0.0 : 0.0;
		else
		{
			double		d = 0;
			std::from_chars_result fc = std::from_chars(p, s, d);

			if (fc.ec == std::errc::result_out_of_range)
			{
				/*
				 * Which way: the decimal exponent of the first significant
				 * digit.  Out of range means far from zero either way.
				 */
				const char *q = p + neg;
				int64_t		mag = exp10;

				if (nint > 1 || *q != '0')
					mag += nint;
				else
				{
					q += 2;		/* "0." */
					while (*q == '0')
					{
						q++;
						mag--;
					}
				}
				if (mag > 0)
					n->ok_d = false;
				else
					d = neg ? -0.0 : 0.0;
			}
			else if (fc.ec != std::errc() || fc.ptr != s)
				n->ok_d = false;	/* cannot happen: the grammar was checked */
			n->f64 = d;
		}
	}
	return s;
}

/* true, false or null at p; the byte after it, or NULL. */
static inline const char *
parse_literal(const char *p, JsonKind *kind)
{
	if (p[0] == 't' && memcmp(p, "true", 4) == 0 && ends_scalar(p[4]))
	{
		*kind = JSON_TRUE;
		return p + 4;
	}
	if (p[0] == 'f' && memcmp(p, "false", 5) == 0 && ends_scalar(p[5]))
	{
		*kind = JSON_FALSE;
		return p + 5;
	}
	if (p[0] == 'n' && memcmp(p, "null", 4) == 0 && ends_scalar(p[4]))
	{
		*kind = JSON_NULL;
		return p + 4;
	}
	return NULL;
}

/*
 * Check the whole value at p against the JSON grammar (what a requested
 * value given as raw text gets: a json column must hold valid JSON, and a
 * text column gets no less); the byte after it, or NULL.  Recursion is as
 * deep as the nesting, which the scanner limits to 1024.
 */
static const char *
validate_value(Walker *w, const char *p)
{
	switch (*p)
	{
		case '"':
			{
				const char *q = find_quote_or_backslash(p + 1);
				const char *end;
				bool		nul = false;

				if (*q == '"')
					return q + 1;
				/* into the string buffer, which the next use reuses */
				if (unescape_string(p + 1, q, &end, w->sbuf, &nul) == NULL)
					return walk_fail(w, p, simdjson::STRING_ERROR, NULL);
				return end + 1;
			}

		case '{':
		case '[':
			{
				char		close = *p + 2;	/* '{' + 2 == '}', '[' + 2 == ']' */
				bool		object = (*p == '{');

				p = skip_ws(p + 1);
				if (*p == close)
					return p + 1;
				for (;;)
				{
					if (object)
					{
						if (*p != '"')
							return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
						p = validate_value(w, p);
						if (p == NULL)
							return NULL;
						p = skip_ws(p);
						if (*p != ':')
							return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
						p = skip_ws(p + 1);
					}
					p = validate_value(w, p);
					if (p == NULL)
						return NULL;
					p = skip_ws(p);
					if (*p == ',')
						p = skip_ws(p + 1);
					else if (*p == close)
						return p + 1;
					else
						return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
				}
			}

		case 't':
		case 'f':
		case 'n':
			{
				JsonKind	kind;
				const char *after = parse_literal(p, &kind);

				if (after == NULL)
					return walk_fail(w, p, *p == 'n' ? simdjson::N_ATOM_ERROR : simdjson::T_ATOM_ERROR,
									 "invalid literal");
				return after;
			}

		default:
			if (is_digit(*p) || *p == '-')
			{
				Number		n = {false, false, 0, 0};
				const char *after = parse_number(p, false, false, &n);

				if (after == NULL)
					return walk_fail(w, p, simdjson::NUMBER_ERROR, NULL);
				return after;
			}
			return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
	}
}

/*
 * Make room for element k of field fi; NULL on out of memory, or when the
 * field may not have that many elements (r->elems_over is then set).
 * elems_cap[fi] is what may be used without asking again: never more than
 * the field's share of max_elems, so the check costs nothing per element.
 */
static inline JsonValue *
elem_slot(JsonReader *r, int fi, int k)
{
	if (JR_UNLIKELY(k >= r->elems_cap[fi]))
	{
		int			ncap = r->elems_cap[fi] ? r->elems_cap[fi] * 2 : 16;
		JsonValue  *e;

		if ((size_t) k >= r->max_field_elems)
		{
			r->elems_over = true;
			return NULL;
		}
		while (ncap <= k)
			ncap *= 2;
		if ((size_t) ncap > r->max_field_elems)
			ncap = (int) r->max_field_elems;
		e = (JsonValue *) realloc(r->elems[fi], sizeof(JsonValue) * ncap);
		if (e == NULL)
			return NULL;
		r->elems[fi] = e;
		r->elems_cap[fi] = ncap;
	}
	return &r->elems[fi][k];
}

/* elem_slot said no: too many elements, or out of memory. */
static const char * __attribute__((noinline))
elem_fail(Walker *w, const char *at)
{
	if (w->r->elems_over)
		return walk_fail(w, at, simdjson::CAPACITY, "too many array elements");
	return walk_fail(w, at, simdjson::MEMALLOC, "out of memory");
}

/*
 * The common case first: one field wants a scalar, a string without
 * escapes or a number, of the kind it asked for.  No loops over targets
 * and no bookkeeping; anything else goes to convert_value.
 */
static inline __attribute__((always_inline)) const char *
convert_one(Walker *w, const char *p, JsonWant want, JsonValue *o, int field,
			bool allow_elems)
{
	if (*p == '"' && want != JSON_WANT_RAW)
	{
		const char *q = find_quote_or_backslash(p + 1);

		if (*q == '"')
		{
			o->kind = JSON_STRING;
			o->str = p + 1;
			o->len = q - (p + 1);
			return q + 1;
		}
	}
	else if (is_digit(*p) || *p == '-')
	{
		Number		n = {false, false, 0, 0};
		const char *after = parse_number(p, want == JSON_WANT_INT64,
										 want == JSON_WANT_DOUBLE, &n);

		if (after == NULL)
			return walk_fail(w, p, simdjson::NUMBER_ERROR, NULL);
		o->kind = JSON_NUMBER;
		o->str = p;
		o->len = after - p;
		if (want == JSON_WANT_INT64)
		{
			o->num_ok = n.ok_i;
			o->i64 = n.ok_i ? n.i64 : 0;
		}
		else if (want == JSON_WANT_DOUBLE)
		{
			o->num_ok = n.ok_d;
			o->f64 = n.ok_d ? n.f64 : 0;
		}
		return after;
	}
	{
		Target		tg = {field, o};

		return convert_value(w, p, &tg, 1, NULL, allow_elems);
	}
}

/*
 * The array and object cases of convert_value, kept out of line: they are
 * rarer, and convert_value must stay small.
 */
static const char * __attribute__((noinline))
convert_container(Walker *w, const char *p, Target *t, int nt, TrieNode *children,
				  bool allow_elems)
{
	JsonReader *r = w->r;
	const char *after;

	if (*p == '[')
	{
		int			nsplit = 0;
		int			split_fields[JR_MAX_SAME_PATH];
		int			k = 0;

		if (allow_elems)
		{
			for (int i = 0; i < nt; i++)
				if (r->fields[t[i].field].want_elements)
					split_fields[nsplit++] = i;
		}
		if (nsplit == 0 && nt == 0)
		{
			/* only paths into an object were asked for: not there */
			after = skip_whole(w, p);
		}
		else if (nsplit == 0)
		{
			after = validate_value(w, p);
			if (after == NULL)
				return NULL;
		}
		else
		{
			const char *q = skip_ws(p + 1);


			if (*q != ']')
			{
				for (;;)
				{
					Target		split[JR_MAX_SAME_PATH];

					/* the common case: one field, such as a text[] column */
					if (nsplit == 1)
					{
						int			fi = t[split_fields[0]].field;
						JsonValue  *slot = elem_slot(r, fi, k);

						if (slot == NULL)
							return elem_fail(w, q);
						memset(slot, 0, sizeof(JsonValue));
						q = convert_one(w, q, r->fields[fi].want, slot, fi, false);
						goto next_element;
					}
					for (int j = 0; j < nsplit; j++)
					{
						int			fi = t[split_fields[j]].field;
						JsonValue  *slot = elem_slot(r, fi, k);

						if (slot == NULL)
							return elem_fail(w, q);
						memset(slot, 0, sizeof(JsonValue));
						split[j].field = fi;
						split[j].out = slot;
					}
					q = convert_value(w, q, split, nsplit, NULL, false);
			next_element:
					if (q == NULL)
						return NULL;
					k++;
					q = skip_ws(q);
					if (*q == ',')
						q = skip_ws(q + 1);
					else if (*q == ']')
						break;
					else
						return walk_fail(w, q, simdjson::TAPE_ERROR, NULL);
				}
			}
			after = q + 1;
		}
		for (int i = 0; i < nt; i++)
		{
			t[i].out->kind = JSON_ARRAY;
			t[i].out->str = p;
			t[i].out->len = after - p;
		}
		for (int j = 0; j < nsplit; j++)
		{
			JsonValue  *o = t[split_fields[j]].out;

			o->elems = r->elems[t[split_fields[j]].field];
			o->nelems = k;
		}
		return after;
	}

	/*
	 * An object: checked in full when its text is asked for, and walked
	 * when paths go into it (then it may stop early if only those are).
	 */
	after = NULL;
	if (nt > 0)
	{
		after = validate_value(w, p);
		if (after == NULL)
			return NULL;
	}
	if (children)
	{
		const char *end = walk_object(w, p, children, nt == 0, true);

		if (end == NULL)
			return NULL;
		after = end;
	}
	for (int i = 0; i < nt; i++)
	{
		t[i].out->kind = JSON_OBJECT;
		t[i].out->str = p;
		t[i].out->len = after - p;
	}
	return after;
}

/*
 * Convert the value at p for the nt targets (several fields may request
 * the same path with different wants).  "children" is the trie node below
 * this key when nested paths continue into it (only for record fields, not
 * for array elements); allow_elems is false for array elements, whose own
 * arrays are only given as raw text.  Returns the byte after the value.
 */
static const char *
convert_value(Walker *w, const char *p, Target *t, int nt, TrieNode *children,
			  bool allow_elems)
{
	JsonReader *r = w->r;
	const char *after;

	switch (*p)
	{
		case '"':
			{
				const char *str;
				size_t		len;
				bool		has_nul;

				after = read_string(w, p, &str, &len, &has_nul);
				if (after == NULL)
					return NULL;
				for (int i = 0; i < nt; i++)
				{
					JsonValue  *o = t[i].out;

					o->kind = JSON_STRING;
					if (r->fields[t[i].field].want == JSON_WANT_RAW)
					{
						o->str = p;
						o->len = after - p;
					}
					else
					{
						o->str = str;
						o->len = len;
						o->has_nul = has_nul;
					}
				}
				return after;
			}

		case '-':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			{
				bool		want_i = false;
				bool		want_d = false;
				Number		n = {false, false, 0, 0};

				for (int i = 0; i < nt; i++)
				{
					JsonWant	want = r->fields[t[i].field].want;

					want_i |= (want == JSON_WANT_INT64);
					want_d |= (want == JSON_WANT_DOUBLE);
				}
				after = parse_number(p, want_i, want_d, &n);
				if (after == NULL)
					return walk_fail(w, p, simdjson::NUMBER_ERROR, NULL);
				for (int i = 0; i < nt; i++)
				{
					JsonValue  *o = t[i].out;
					JsonWant	want = r->fields[t[i].field].want;

					o->kind = JSON_NUMBER;
					o->str = p;
					o->len = after - p;
					if (want == JSON_WANT_INT64)
					{
						o->num_ok = n.ok_i;
						o->i64 = n.ok_i ? n.i64 : 0;
					}
					else if (want == JSON_WANT_DOUBLE)
					{
						o->num_ok = n.ok_d;
						o->f64 = n.ok_d ? n.f64 : 0;
					}
				}
				return after;
			}

		case 't':
		case 'f':
		case 'n':
			{
				JsonKind	kind;

				after = parse_literal(p, &kind);
				if (after == NULL)
					return walk_fail(w, p, *p == 'n' ? simdjson::N_ATOM_ERROR : simdjson::T_ATOM_ERROR,
									 "invalid literal");
				for (int i = 0; i < nt; i++)
				{
					JsonValue  *o = t[i].out;

					o->kind = kind;
					if (kind != JSON_NULL || r->fields[t[i].field].want == JSON_WANT_RAW)
					{
						o->str = p;
						o->len = after - p;
					}
				}
				return after;
			}

		case '[':
		case '{':
			return convert_container(w, p, t, nt, children, allow_elems);
	}
	return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
}

/*
 * Walk the object whose '{' is at p, converting the values that the trie
 * node asks for.  Only the first occurrence of a key counts: a later
 * duplicate is skipped like a key nobody asked for.  Once every key of the
 * node has been met, the rest of the object is not looked at when may_stop
 * allows it: a projection of the first fields of a record never reads the
 * tail.  need_end: the caller needs the byte after the closing '}' (it
 * goes on after this object), so what is left is skipped - without a
 * syntax check, as for any value nobody asked for; without need_end the
 * return value after an early stop is only "not NULL".  An object that
 * lacks a requested key is walked, and checked, to its end.
 */
static const char *
walk_object(Walker *w, const char *p, TrieNode *node, bool may_stop, bool need_end)
{
	JsonReader *r = w->r;
	uint64_t	gen = w->gen;
	int			left = node->nedges;	/* keys not met yet */
	int			k = 0;			/* members so far */

	if (left == 0 && may_stop)
		return need_end ? skip_whole(w, p) : p;

	p = skip_ws(p + 1);
	if (*p == '}')
		return p + 1;
	for (;;)
	{
		const char *key;
		TrieEdge   *edge = NULL;
		ShapeSlot  *slot;

		if (*p != '"')
			return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
		key = p + 1;

		/*
		 * The same key as at this position in the last object here?  Then
		 * we know its end and its edge.  (A hit compares raw bytes up to
		 * the closing quote: remembered keys hold no '"' or '\\'.)
		 */
		slot = (k < JR_SHAPE_MAX) ? &node->shape[k] : NULL;
		k++;
		if (slot && slot->len >= 0 && key_eq(key, slot->key, slot->len) &&
			key[slot->len] == '"')
		{
			edge = slot->edge;
			p = key + slot->len + 1;
		}
		else
		{
			bool		escaped;
			size_t		klen = key_length(key, &escaped);
			unsigned char c0 = (unsigned char) key[0];

			/*
			 * Most keys that are not wanted are told by their first byte
			 * (any key starting with an escape may be wanted).  Those are
			 * skipped unchecked, like their values.
			 */
			if (!((node->first[c0 / 64] >> (c0 % 64)) & 1))
				p = (escaped ? string_end(key + klen) : key + klen) + 1;
			else if (!escaped)
			{
				p = key + klen + 1;
				edge = trie_match(node, key, klen, true);
			}
			else
			{
				/* unescaped into the string buffer, which the next use reuses */
				const char *kq;
				bool		nul = false;
				char	   *ke = unescape_string(key, key + klen, &kq, w->sbuf, &nul);

				if (ke == NULL)
					return walk_fail(w, p, simdjson::STRING_ERROR, NULL);
				p = kq + 1;
				edge = trie_match(node, w->sbuf, ke - w->sbuf, false);
			}
			if (slot)
			{
				if (!escaped && klen <= JR_SHAPE_KEY)
				{
					memset(slot->key, 0, sizeof(slot->key));
					memcpy(slot->key, key, klen);
					slot->len = (int) klen;
					slot->edge = edge;
				}
				else
					slot->len = -1;
			}
		}

		if (*p != ':')
		{
			p = skip_ws(p);
			if (*p != ':')
				return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
		}
		p = skip_ws(p + 1);

		if (edge == NULL || edge->seen == gen)
		{
			/* not wanted, or a duplicate key: the first one counted */
			p = skip_value(w, p);
			if (p == NULL)
				return NULL;
		}
		else
		{
			/* values[] starts zeroed and each field is set once per record */
			edge->seen = gen;
			left--;
			if (edge->fast)
				p = convert_one(w, p, edge->want, &w->values[edge->field], edge->field, true);
			else
			{
				TrieNode   *child = &r->nodes[edge->child];
				Target		tg[JR_MAX_SAME_PATH];
				int			nt = 0;

				for (int i = 0; i < child->nleaf; i++)
				{
					tg[nt].field = child->leaf[i];
					tg[nt].out = &w->values[child->leaf[i]];
					nt++;
				}
				p = convert_value(w, p, tg, nt, child->nedges ? child : NULL, true);
			}
			if (p == NULL)
				return NULL;
			if (left == 0 && may_stop)
				return need_end ? skip_container(p, 1) : p;
		}

		if (*p != ',' && *p != '}')
			p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
		else if (*p == '}')
			return p + 1;
		else
			return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
	}
}

/* ----------------------------------------------------------------
 * Public API
 * ----------------------------------------------------------------
 */

extern "C" JsonReader *
json_reader_create(const JsonField *fields, int nfields)
{
	JsonReader *r = new(std::nothrow) JsonReader();

	if (r == NULL)
		return NULL;
	choose_scanner();
	r->max_elems = SIZE_MAX;
	r->max_field_elems = INT_MAX;
	r->nfields = nfields;
	r->fields = (JsonField *) calloc(nfields > 0 ? nfields : 1, sizeof(JsonField));
	r->elems = (JsonValue **) calloc(nfields > 0 ? nfields : 1, sizeof(JsonValue *));
	r->elems_cap = (int *) calloc(nfields > 0 ? nfields : 1, sizeof(int));
	if (r->fields == NULL || r->elems == NULL || r->elems_cap == NULL ||
		trie_new_node(r) != 0)
	{
		json_reader_free(r);
		return NULL;
	}
	for (int i = 0; i < nfields; i++)
	{
		r->fields[i] = fields[i];
		r->fields[i].path = strdup(fields[i].path ? fields[i].path : "");
		if (fields[i].want_elements)
			r->nelemfields++;
		if (r->fields[i].path == NULL || !trie_add(r, i) ||
			(fields[i].want_elements && elem_slot(r, i, 0) == NULL))
		{
			/* (an element buffer from the start: elems is never NULL) */
			json_reader_free(r);
			return NULL;
		}
	}
	/* a path may be asked for several times, but not too often */
	for (int n = 0; n < r->nnodes; n++)
	{
		if (r->nodes[n].nleaf > JR_MAX_SAME_PATH)
		{
			json_reader_free(r);
			return NULL;
		}
	}

	/* cache what the field loop needs on the edges themselves */
	for (int n = 0; n < r->nnodes; n++)
	{
		if (r->nodes[n].nedges > 0)
		{
			r->nodes[n].shape = (ShapeSlot *) calloc(JR_SHAPE_MAX, sizeof(ShapeSlot));
			if (r->nodes[n].shape == NULL)
			{
				json_reader_free(r);
				return NULL;
			}
			for (int k = 0; k < JR_SHAPE_MAX; k++)
				r->nodes[n].shape[k].len = -1;
		}
		for (int e = 0; e < r->nodes[n].nedges; e++)
		{
			TrieEdge   *edge = &r->nodes[n].edges[e];
			TrieNode   *child = &r->nodes[edge->child];

			edge->fast = child->nleaf == 1 && child->nedges == 0 &&
				!r->fields[child->leaf[0]].want_elements;
			edge->field = child->nleaf > 0 ? child->leaf[0] : -1;
			edge->want = edge->field >= 0 ? r->fields[edge->field].want : JSON_WANT_ANY;
		}
	}
	json_reader_reset(r);
	return r;
}

extern "C" void
json_reader_set_max_elements(JsonReader *r, size_t max)
{
	r->max_elems = max;
	r->max_field_elems = r->nelemfields > 0 ? max / r->nelemfields : max;
	if (r->max_field_elems > INT_MAX)
		r->max_field_elems = INT_MAX;
	/* what was allocated stays; what may be used shrinks to the share */
	for (int i = 0; i < r->nfields; i++)
		if ((size_t) r->elems_cap[i] > r->max_field_elems)
			r->elems_cap[i] = (int) r->max_field_elems;
}

extern "C" void
json_reader_free(JsonReader *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < r->nnodes; i++)
	{
		for (int e = 0; e < r->nodes[i].nedges; e++)
			free(r->nodes[i].edges[e].key);
		free(r->nodes[i].edges);
		free(r->nodes[i].leaf);
		free(r->nodes[i].shape);
	}
	free(r->nodes);
	if (r->fields)
		for (int i = 0; i < r->nfields; i++)
			free((void *) r->fields[i].path);
	if (r->elems)
		for (int i = 0; i < r->nfields; i++)
			free(r->elems[i]);
	free(r->elems);
	free(r->elems_cap);
	free(r->sbuf);
	free(r->fields);
	free(r->whole);
	delete r;
}

extern "C" void
json_reader_reset(JsonReader *r)
{
	r->buf = NULL;
	r->len = 0;
	r->at_eof = false;
	r->pos = 0;
	r->rec_offset = 0;
	r->arr = ARR_NONE;
	r->started = false;
	r->multiline_seen = false;
	r->records_ok = 0;
	r->fatal = false;
	memset(&r->err, 0, sizeof(r->err));
	r->errbuf[0] = '\0';
}

extern "C" void
json_reader_feed(JsonReader *r, const char *buf, size_t len, bool at_eof)
{
	r->buf = buf;
	r->len = len;
	r->at_eof = at_eof;
	r->pos = 0;
	r->rec_offset = 0;
}

extern "C" size_t
json_reader_consumed(const JsonReader *r)
{
	return r->pos;
}

extern "C" size_t
json_reader_record_offset(const JsonReader *r)
{
	return r->rec_offset;
}

extern "C" const JsonError *
json_reader_error(const JsonReader *r)
{
	return &r->err;
}

/*
 * Where to go on after a bad record [start, end) whose first line break
 * outside strings is at nl.  In newline-delimited input a record never
 * spans lines, so a bad one that seems to is a broken line: continue at
 * the next line.  Once good multi-line (pretty-printed) records were seen,
 * trust the brackets instead.
 */
static size_t
resume_after_bad(JsonReader *r, size_t end, size_t nl)
{
	if (nl != JR_NONE && !r->multiline_seen && nl + 1 < end)
	{
		r->arr = ARR_NONE;		/* the line break left any array */
		return nl + 1;
	}
	if (r->arr != ARR_NONE)
		r->arr = ARR_AFTER_ELEM;
	return end;
}

/*
 * Handle a value at buf[p] that cannot be a record: a scalar, or an array
 * inside a top-level array.  Skip it and report it.  Returns JSON_NEED_MORE
 * when its end is not in the buffer yet.
 */
static JsonResult
skip_bad_value(JsonReader *r, size_t p, const char *what)
{
	const char *buf = r->buf;
	size_t		len = r->len;
	size_t		end;
	size_t		nl = JR_NONE;
	char		c = buf[p];

	if (c == '{' || c == '[')
	{
		ScanOut		so;

		scan_container(buf, p, len, &so);
		if (so.complete)
			end = so.end;
		else if (so.broken_line != JR_NONE)
		{
			set_error(r, p, so.broken_line, so.broken_line, what, NULL);
			r->pos = so.broken_line + 1;
			r->arr = ARR_NONE;
			return JSON_BAD_RECORD;
		}
		else if (!r->at_eof)
			return JSON_NEED_MORE;
		else
			end = len;
		nl = so.first_nl;
	}
	else if (c == '"')
	{
		end = scan_string_end(buf, p, len, &nl);
		if (end == JR_NONE)
		{
			if (nl == JR_NONE && !r->at_eof)
				return JSON_NEED_MORE;
			end = (nl != JR_NONE) ? nl : len;
		}
		nl = JR_NONE;
	}
	else if (c == '}' || c == ']' || c == ',' || c == ':')
		end = p + 1;
	else
	{
		end = p + 1;
		while (end < len && !is_token_end(buf[end]))
			end++;
		if (end == len && !r->at_eof)
			return JSON_NEED_MORE;
	}
	set_error(r, p, end, p, what, NULL);
	r->pos = resume_after_bad(r, end, nl);
	return JSON_BAD_RECORD;
}

/*
 * The record [p, e) has more array elements than max_elems lets it have:
 * a bad record (marked too_large), skipped.  Out of line: rare.
 */
static JsonResult __attribute__((noinline, cold))
too_many_elements(JsonReader *r, size_t p, size_t e, size_t at, size_t nl)
{
	char		limit[32];

	r->elems_over = false;
	snprintf(limit, sizeof(limit), "%zu", r->max_field_elems);
	set_error(r, p, e, at, "an array of the record has more than %s elements", limit);
	r->err.too_large = true;
	r->pos = resume_after_bad(r, e, nl);
	return JSON_BAD_RECORD;
}

/*
 * Parse the complete record [p, e), which the scanner described in *so,
 * and fill values[].
 */
static JsonResult
parse_record(JsonReader *r, size_t p, size_t e, size_t nl, const ScanOut *so,
			 JsonValue *values)
{
	simdjson::error_code code = simdjson::SUCCESS;
	const char *msg = NULL;
	size_t		at = p;

	if (r->nfields > 0)
		memset(values, 0, sizeof(JsonValue) * r->nfields);
	r->record_gen++;

	/*
	 * What every record must satisfy, whatever is requested: simdjson's
	 * stage 1 refused raw control characters in strings before invalid
	 * UTF-8, and so do we.  Most records are ASCII: the scanner tells, and
	 * only the others pay for the check.
	 */
	if (so->ctrl_in_string)
		code = simdjson::UNESCAPED_CHARS;
	else if (so->nonascii && !simdjson::validate_utf8(r->buf + p, e - p))
		code = simdjson::UTF8_ERROR;
	else
	{
		Walker		w;

		/* unescaped strings are never longer than the record */
		if (e - p > r->sbuf_cap)
		{
			size_t		ncap = (e - p > r->sbuf_cap * 2) ? e - p : r->sbuf_cap * 2;
			char	   *nb = (char *) realloc(r->sbuf, ncap);

			if (nb == NULL)
			{
				set_error(r, p, e, p, "out of memory parsing a record", NULL);
				r->fatal = true;
				return JSON_FATAL;
			}
			r->sbuf = nb;
			r->sbuf_cap = ncap;
		}
		w.r = r;
		w.values = values;
		w.gen = r->record_gen;
		w.sbuf = r->sbuf;
		w.err_at = NULL;
		w.msg = NULL;
		w.code = simdjson::SUCCESS;

		/* the whole record's text is asked for: all of it is checked */
		if ((r->nwhole > 0 && validate_value(&w, r->buf + p) == NULL) ||
			walk_object(&w, r->buf + p, &r->nodes[0], true, false) == NULL)
		{
			code = w.code;
			msg = w.msg;
			if (w.err_at >= r->buf + p && w.err_at <= r->buf + e)
				at = (size_t) (w.err_at - r->buf);
		}
	}

	if (code != simdjson::SUCCESS)
	{
		if (msg == NULL)
			msg = simdjson::error_message(code);
		if (code == simdjson::MEMALLOC)
		{
			set_error(r, p, e, at, "%s", msg);
			r->fatal = true;
			return JSON_FATAL;
		}
		if (code == simdjson::CAPACITY)
			return too_many_elements(r, p, e, at, nl);
		set_error(r, p, e, at, "invalid JSON record: %s", msg);
		r->pos = resume_after_bad(r, e, nl);
		return JSON_BAD_RECORD;
	}

	for (int i = 0; i < r->nwhole; i++)
	{
		JsonValue  *o = &values[r->whole[i]];

		o->kind = JSON_OBJECT;
		o->str = r->buf + p;
		o->len = e - p;
	}
	r->records_ok++;
	if (nl != JR_NONE)
		r->multiline_seen = true;
	r->rec_offset = p;
	r->pos = e;
	if (r->arr != ARR_NONE)
		r->arr = ARR_AFTER_ELEM;
	return JSON_RECORD;
}

/* The object record starting at buf[p]. */
static JsonResult
next_object(JsonReader *r, size_t p, JsonValue *values)
{
	ScanOut		so;

	scan_container(r->buf, p, r->len, &so);

	if (!so.complete)
	{
		if (so.broken_line != JR_NONE)
		{
			set_error(r, p, so.broken_line, so.broken_line,
					  so.broken_in_string ?
					  "invalid JSON record: line break inside a string (truncated line?)" :
					  "invalid JSON record: record not complete at end of line", NULL);
			r->pos = so.broken_line + 1;
			r->arr = ARR_NONE;
			return JSON_BAD_RECORD;
		}
		if (r->at_eof)
		{
			set_error(r, p, r->len, r->len, "truncated record at end of input", NULL);
			if (so.first_nl != JR_NONE && !r->multiline_seen)
				r->pos = so.first_nl + 1;
			else
				r->pos = r->len;
			r->arr = ARR_NONE;
			return JSON_BAD_RECORD;
		}
		r->pos = p;
		return JSON_NEED_MORE;
	}

	if (so.too_deep)
	{
		set_error(r, p, so.end, p, "invalid JSON record: nesting deeper than %s levels", "1024");
		r->pos = resume_after_bad(r, so.end, so.first_nl);
		return JSON_BAD_RECORD;
	}
	if (so.mismatched)
	{
		set_error(r, p, so.end, p, "invalid JSON record: mismatched brackets", NULL);
		r->pos = resume_after_bad(r, so.end, so.first_nl);
		return JSON_BAD_RECORD;
	}
	return parse_record(r, p, so.end, so.first_nl, &so, values);
}

extern "C" JsonResult
json_reader_next(JsonReader *r, JsonValue *values)
{
	const char *buf = r->buf;
	size_t		len = r->len;

	if (r->fatal)
		return JSON_FATAL;

	for (;;)
	{
		size_t		p = r->pos;
		char		c;

		while (p < len && is_ws(buf[p]))
			p++;

		/* a UTF-8 byte order mark may start the object */
		if (!r->started && p < len)
		{
			static const char bom[3] = {'\xEF', '\xBB', '\xBF'};
			size_t		have = len - p < 3 ? len - p : 3;

			if (memcmp(buf + p, bom, have) == 0)
			{
				if (have < 3 && !r->at_eof)
				{
					r->pos = p;
					return JSON_NEED_MORE;
				}
				if (have == 3)
					p += 3;
			}
			r->started = true;
			r->pos = p;
			continue;			/* skip white space after it */
		}
		r->pos = p;

		if (p >= len)
		{
			if (!r->at_eof)
				return JSON_NEED_MORE;
			if (r->arr != ARR_NONE)
			{
				r->arr = ARR_NONE;
				set_error(r, len, len, len, "truncated record at end of input: array not closed", NULL);
				return JSON_BAD_RECORD;
			}
			return JSON_END;
		}
		c = buf[p];

		if (r->arr != ARR_NONE)
		{
			if (r->arr == ARR_AFTER_ELEM)
			{
				if (c == ',')
				{
					r->pos = p + 1;
					r->arr = ARR_NEED_ELEM;
					continue;
				}
				if (c == ']')
				{
					r->pos = p + 1;
					r->arr = ARR_NONE;
					continue;
				}

				/*
				 * Leave the array and let the byte be read again as a
				 * top-level value, which always makes progress.
				 */
				r->arr = ARR_NONE;
				set_error(r, p, p + 1, p, "invalid JSON: expected ',' or ']' after an array element", NULL);
				return JSON_BAD_RECORD;
			}
			if (c == ']')
			{
				bool		trailing_comma = (r->arr == ARR_NEED_ELEM);

				r->pos = p + 1;
				r->arr = ARR_NONE;
				if (trailing_comma)
				{
					set_error(r, p, p + 1, p, "invalid JSON: trailing comma in array", NULL);
					return JSON_BAD_RECORD;
				}
				continue;
			}
			if (c == '{')
				return next_object(r, p, values);
			return skip_bad_value(r, p, "invalid JSON record: array element is not an object");
		}

		if (c == '{')
			return next_object(r, p, values);
		if (c == '[')
		{
			/* stream through the array: each element is a record */
			r->pos = p + 1;
			r->arr = ARR_FIRST;
			continue;
		}
		return skip_bad_value(r, p, "invalid JSON record: top-level value is not an object");
	}
}
