/*-------------------------------------------------------------------------
 *
 * json_internal.hpp
 *	  Inside the JSON record reader: its state, the path trie, what the
 *	  scanner reports, and the hot helpers that the walker, the trie and
 *	  the number parser share, inline so that splitting the reader into
 *	  files costs the hot path no calls.
 *
 * The reader's files (json_reader.h says what it does):
 *	  json_scan.cpp		the record boundary scanner (SIMD), once per
 *						instruction set (json_scan.inc)
 *	  json_trie.cpp		the requested paths compiled into a trie
 *	  json_number.cpp	JSON numbers, with an entry point of their own
 *						(json_number.h) for their unit tests
 *	  json_walk.cpp		the walk of one record: requested values
 *						converted, the others skipped
 *	  json_string.cpp	strings with escapes, unescaped
 *	  json_reader.cpp	the API: records out of a stream of buffers,
 *						layouts, bad records
 *
 * C++ (simdjson's UTF-8 validator and error messages), built without
 * exceptions and RTTI, and free of PostgreSQL backend calls: the unit tests
 * and the benchmark link it too.  Allocation is malloc/realloc so that an
 * out-of-memory condition is an error code, not std::terminate().
 *
 * IDENTIFICATION
 *	  src/decode/json_internal.hpp
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_JSON_INTERNAL_HPP
#define PIPELINE_JSON_INTERNAL_HPP

#ifndef SIMDJSON_EXCEPTIONS
#define SIMDJSON_EXCEPTIONS 0
#endif
/* for validate_utf8() and the error messages that rejects have always had */
#include <simdjson.h>

#include <charconv>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "json_number.h"
#include "json_reader.h"

/* What the reader's files share without exporting it from the library. */
#define JR_INTERNAL __attribute__((visibility("hidden")))

#define JR_LIKELY(x) __builtin_expect(!!(x), 1)
#define JR_UNLIKELY(x) __builtin_expect(!!(x), 0)

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
	uint64_t	record_gen;		/* counts parse_record calls: TrieEdge.seen */
	bool		fatal;
	bool		fold;			/* keys match whatever the case of their ASCII
								 * letters (json_reader_create_folded): the
								 * trie's keys are lower case */

	JsonError	err;
	char		errbuf[256];
};

/* ----------------------------------------------------------------
 * The record boundary scanner (json_scan.cpp)
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


typedef void (*ScanFunction) (const char *buf, size_t start, size_t len, ScanOut *so);

/*
 * Scan the container that opens at buf[start] ('{' or '['), up to len: the
 * scanner for this CPU (AVX2 or the SSE2 baseline), chosen by
 * choose_scanner().  Reads up to 63 bytes past len (JSON_READER_PADDING).
 */
extern JR_INTERNAL ScanFunction scan_container;
extern JR_INTERNAL void choose_scanner(void);

/*
 * End of a JSON string that starts with the quote at buf[start]: one past
 * the closing quote, or JR_NONE if it does not end before len (or a raw
 * line break interrupts it; *nl then says where).  Only used on the rare
 * paths (a string where a record should be).
 */
extern JR_INTERNAL size_t scan_string_end(const char *buf, size_t start, size_t len, size_t *nl);

static inline bool
is_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* ----------------------------------------------------------------
 * The path trie (json_trie.cpp builds it; matching keys is hot: here)
 * ----------------------------------------------------------------
 */

/* Add the path of field fi (the root for ""); false on out of memory. */
extern JR_INTERNAL bool trie_add(JsonReader *r, int fi);

/* The root node; false on out of memory. */
extern JR_INTERNAL bool trie_init(JsonReader *r);

/*
 * Once every field is added: check that no path is requested too often
 * (false then, or on out of memory), and cache on each edge what the walk
 * needs (see TrieEdge) and the shape slots of each node.
 */
extern JR_INTERNAL bool trie_finish(JsonReader *r);

/* Free the trie's nodes. */
extern JR_INTERNAL void trie_free(JsonReader *r);

/*
 * The child edge for a key whatever the case of its ASCII letters, for a
 * reader made with fold set, once trie_match() found no edge (a key in
 * lower case already matched there).  Out of line: only keys that are
 * not wanted as written come here.
 */
extern JR_INTERNAL TrieEdge *trie_match_fold(TrieNode *n, const char *key, size_t len);

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
 * The record walker (json_walk.cpp), and its hot helpers
 * ----------------------------------------------------------------
 */

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

/*
 * Walk the object whose '{' is at p, converting the values that the trie
 * node asks for (see json_walk.cpp); NULL on an error, which *w describes.
 */
template <bool FOLD>
JR_INTERNAL const char *walk_object_keys(Walker *w, const char *p, TrieNode *node,
										 bool may_stop, bool need_end);

/*
 * FOLD: keys match whatever their case (JsonReader.fold).  A template
 * parameter, so that the walk of a reader without it is the machine code
 * it was before the option existed: a run-time test in the walk's loop
 * cost 0.5% instructions per record (callgrind), though never taken.
 */
static inline const char *
walk_object(Walker *w, const char *p, TrieNode *node, bool may_stop, bool need_end)
{
	if (w->r->fold)
		return walk_object_keys<true>(w, p, node, may_stop, need_end);
	return walk_object_keys<false>(w, p, node, may_stop, need_end);
}

/* Check the whole value at p against the JSON grammar; the byte after it, or NULL. */
extern JR_INTERNAL const char *validate_value(Walker *w, const char *p);

/*
 * Unescape the string whose text starts at s and whose first '"' or '\\'
 * is the backslash at q, into dst (json_string.cpp); *end receives the
 * closing quote.  The byte after the last one written, or NULL for an
 * invalid escape.
 */
extern JR_INTERNAL char *unescape_string(const char *s, const char *q, const char **end,
										 char *dst, bool *has_nul);

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

/* ----------------------------------------------------------------
 * Numbers (json_number.cpp has the unit tests' entry point)
 * ----------------------------------------------------------------
 */

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
typedef JsonNumber Number;

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

#endif							/* PIPELINE_JSON_INTERNAL_HPP */
