/*-------------------------------------------------------------------------
 *
 * json_reader.cpp
 *	  Streaming JSON record reader: a C API over simdjson's On-Demand parser.
 *
 * Records are found by our own boundary scanner (a branch-light SSE2 pass
 * that tracks strings, escapes and bracket depth), and each record is then
 * handed to simdjson's parser.iterate() on its own.  The alternative,
 * simdjson's iterate_many(), was measured and rejected:
 *
 *	- on its own it is fast (1M IoT records, 11 fields: 7.4M records/s
 *	  against 5.1M for scan + iterate per record), but it cannot be used
 *	  on its own: an error stops a document_stream for good, one invalid
 *	  UTF-8 byte fails the whole batch, a batch must end exactly after a
 *	  record (a UTF-8 character, string or number cut at the buffer end
 *	  fails it), and a huge top-level array is a single document to it;
 *	- used as a fast path over spans of whole records, with the
 *	  per-record path for everything else, it must give exactly the
 *	  records the per-record path gives wherever the buffers are cut.  It
 *	  does not: simdjson does not check what it skips, and around
 *	  mismatched brackets ("[}") its document boundaries differ from
 *	  those of any scan that does not keep a stack of bracket types
 *	  (test_json_reader's mutation test found this).  Checking each
 *	  document with our scan fixes that, and then the fast path gained
 *	  nothing measurable (0.39 s for 1M records either way): what it saves,
 *	  one stage-1 call per record, is small next to the field work.
 *
 * Per-record iterate() also isolates every record: errors never leak into
 * the next record, offsets are exact, and the same records come out
 * wherever the caller's buffer boundaries fall.
 *
 * Each record is an object; the requested fields (keys or dotted paths) are
 * compiled into a small trie, and each object's fields are visited once, in
 * document order, as On-Demand requires.  Values that are not requested are
 * skipped by simdjson without being materialised (and, as On-Demand goes,
 * without being fully validated: UTF-8, string termination, bracket
 * nesting and depth - our scanner - and the syntax of every object we walk
 * are always checked; a malformed literal or number inside a value that is
 * not requested may pass).
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
#include <simdjson.h>

#include <new>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "json_reader.h"

namespace od = simdjson::ondemand;

static_assert(JSON_READER_PADDING >= simdjson::SIMDJSON_PADDING,
			  "JSON_READER_PADDING must cover simdjson's padding");

/* Same limit as simdjson's parser, checked by our scanner first. */
#define JR_MAX_DEPTH ((long) simdjson::DEFAULT_MAX_DEPTH)

#define JR_NONE ((size_t) -1)

/* How many requested fields may name the same path (see Target arrays). */
#define JR_MAX_SAME_PATH 8

/* One edge of the path trie: a key leading to a child node. */
typedef struct TrieEdge
{
	char	   *key;
	size_t		len;
	int			child;
	bool		raw_ok;			/* no '"' or '\\' in key: raw bytes of a
								 * document key can be compared to it */
	bool		fast;			/* exactly one field ends here, nothing goes
								 * deeper: convert_fast() may take it */
	int			field;			/* that field */
	JsonWant	want;			/* and its want */
} TrieEdge;

/*
 * A node of the path trie.  The root is the record; a node is reached by a
 * key path.  "leaf" lists the fields whose path ends here, "below" all the
 * fields whose path goes further (reset when a duplicate key replaces the
 * object that contained them).
 */
typedef struct TrieNode
{
	TrieEdge   *edges;
	int			nedges;
	int			guess;			/* edge to try first: keys usually come in
								 * the same order in every record */
	int		   *leaf;
	int			nleaf;
	int		   *below;
	int			nbelow;
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
	od::parser	parser;

	JsonField  *fields;
	int			nfields;
	int		   *whole;			/* fields with path "" */
	int			nwhole;

	TrieNode   *nodes;			/* nodes[0] is the root */
	int			nnodes;

	JsonValue **elems;			/* per field: element buffer */
	int		   *elems_cap;

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
} ScanOut;

/* Bit masks of interesting bytes in a 64-byte block (bit i = byte i). */
typedef struct BlockMasks
{
	uint64_t	quote;
	uint64_t	backslash;
	uint64_t	open;			/* '{' or '[' */
	uint64_t	close;			/* '}' or ']' */
	uint64_t	newline;
	uint64_t	brace;			/* '{' alone */
	uint64_t	square;			/* bit 5 clear: among brackets, '[' or ']' */
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

	m->quote = m->backslash = m->open = m->close = m->newline = m->brace = m->square = 0;
	for (int k = 0; k < 4; k++)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) (p + 16 * k));
		__m128i		f = _mm_or_si128(v, lower);
		int			sh = 16 * k;

		m->quote |= eq_mask(v, '"') << sh;
		m->backslash |= eq_mask(v, '\\') << sh;
		m->open |= eq_mask(f, '{') << sh;
		m->close |= eq_mask(f, '}') << sh;
		m->newline |= eq_mask(v, '\n') << sh;
		m->brace |= eq_mask(v, '{') << sh;
		/* bit 5 of each byte, shifted into bit 7 for movemask */
		m->square |= (uint64_t) (uint32_t) _mm_movemask_epi8(_mm_slli_epi16(v, 2)) << sh;
	}
	m->square = ~m->square;
}
#else
static inline void
classify_block(const uint8_t *p, BlockMasks *m)
{
	m->quote = m->backslash = m->open = m->close = m->newline = m->brace = m->square = 0;
	for (int i = 0; i < 64; i++)
	{
		uint64_t	bit = UINT64_C(1) << i;

		switch (p[i])
		{
			case '"':
				m->quote |= bit;
				break;
			case '\\':
				m->backslash |= bit;
				break;
			case '{':
				m->brace |= bit;
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

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define JR_HAVE_AVX2_SCAN 1

/*
 * The same scanner for AVX2 CPUs (nearly all x86-64 servers of the last
 * ten years): 32 bytes per compare instead of 16, and the string mask with
 * one carry-less multiply instead of six shifts.  Compiled for AVX2 here
 * only, and only called when the CPU has it (see json_reader_create), so
 * the extension still runs on any x86-64.
 */
#pragma GCC push_options
#pragma GCC target("avx2,bmi,bmi2,popcnt,pclmul")
#include <immintrin.h>

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
	m->brace = eq_mask256(v0, '{') | (eq_mask256(v1, '{') << 32);
	m->square = ~((uint64_t) (uint32_t) _mm256_movemask_epi8(_mm256_slli_epi16(v0, 2)) |
				  ((uint64_t) (uint32_t) _mm256_movemask_epi8(_mm256_slli_epi16(v1, 2)) << 32));
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

#pragma GCC pop_options
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

/*
 * Check the JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 * simdjson only checks numbers that we ask it to convert.
 */
static bool
valid_json_number(const char *s, size_t len)
{
	size_t		i = 0;

	if (i < len && s[i] == '-')
		i++;
	if (i >= len)
		return false;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
	{
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	else
		return false;
	if (i < len && s[i] == '.')
	{
		size_t		d = ++i;

		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		size_t		d;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		d = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	return i == len;
}

static inline std::string_view
trim_ws(std::string_view s)
{
	size_t		n = s.size();

	while (n > 0 && is_ws(s[n - 1]))
		n--;
	return std::string_view(s.data(), n);
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
			n->nedges++;
		}
		if (dot == NULL)
			return int_push(&r->nodes[child].leaf, &r->nodes[child].nleaf, fi);
		if (!int_push(&r->nodes[child].below, &r->nodes[child].nbelow, fi))
			return false;
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
static inline const TrieEdge *
trie_match(TrieNode *n, const char *key, size_t len, bool padded)
{
	int			ne = n->nedges;
	int			i = n->guess;

	for (int k = 0; k < ne; k++)
	{
		const TrieEdge *e = &n->edges[i];

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
}

/* Error inside simdjson while walking a record: remembered until reported. */
typedef struct WalkError
{
	const char *msg;			/* our own message, or NULL */
	simdjson::error_code code;
} WalkError;

/* ----------------------------------------------------------------
 * Value conversion
 * ----------------------------------------------------------------
 */

static bool walk_object(JsonReader *r, od::object &obj, TrieNode *node,
						JsonValue *values, WalkError *we);
static inline bool convert_value(JsonReader *r, od::value &v, Target *t, int nt,
								 TrieNode *children, bool allow_elems,
								 JsonValue *values, WalkError *we);

/*
 * Remember why a record failed.  Where it failed is taken from the
 * document's iterator afterwards (parse_record): passing the value here
 * would take its address and keep it out of registers on the hot path.
 */
static inline bool
walk_fail(WalkError *we, simdjson::error_code code, const char *msg)
{
	we->code = code;
	we->msg = msg;
	return false;
}

/* Make room for element k of field fi; NULL on out of memory. */
static JsonValue *
elem_slot(JsonReader *r, int fi, int k)
{
	if (k >= r->elems_cap[fi])
	{
		int			ncap = r->elems_cap[fi] ? r->elems_cap[fi] * 2 : 16;
		JsonValue  *e;

		while (ncap <= k)
			ncap *= 2;
		e = (JsonValue *) realloc(r->elems[fi], sizeof(JsonValue) * ncap);
		if (e == NULL)
			return NULL;
		r->elems[fi] = e;
		r->elems_cap[fi] = ncap;
	}
	return &r->elems[fi][k];
}

/*
 * Raw text of the container value v, which has just been iterated: from its
 * opening bracket to the token that follows it.  A container inside a
 * record is always followed by ',', '}' or ']', so the location is valid.
 */
static bool
container_end(od::value &v, const char *start, std::string_view *raw, WalkError *we)
{
	const char *loc;
	simdjson::error_code err = v.current_location().get(loc);

	if (err)
		return walk_fail(we, err, NULL);
	*raw = trim_ws(std::string_view(start, (size_t) (loc - start)));
	return true;
}

/*
 * The array and object cases of convert_value, kept out of line: they are
 * rarer, and convert_value must stay small enough to be inlined into the
 * field loop, where the value can live in registers.
 */
static bool __attribute__((noinline))
convert_container(JsonReader *r, od::value v, od::json_type type, std::string_view tok,
				  Target *t, int nt, TrieNode *children, bool allow_elems,
				  JsonValue *values, WalkError *we)
{
	simdjson::error_code err;

	switch (type)
	{
		case od::json_type::array:
			{
				std::string_view raw;
				int			nsplit = 0;
				Target		split[JR_MAX_SAME_PATH];
				int			split_fields[JR_MAX_SAME_PATH];
				int			k = 0;

				if (allow_elems)
				{
					for (int i = 0; i < nt; i++)
						if (r->fields[t[i].field].want_elements)
							split_fields[nsplit++] = i;
				}
				if (nsplit == 0)
				{
					od::array a;

					if ((err = v.get_array().get(a)) || (err = a.raw_json().get(raw)))
						return walk_fail(we, err, NULL);
					raw = trim_ws(raw);
				}
				else
				{
					od::array a;
					const char *start = tok.data();

					if ((err = v.get_array().get(a)))
						return walk_fail(we, err, NULL);
					for (auto eres : a)
					{
						if ((err = eres.error()))
							return walk_fail(we, err, NULL);
						od::value  &ev = eres.value_unsafe();

						for (int j = 0; j < nsplit; j++)
						{
							int			fi = t[split_fields[j]].field;
							JsonValue  *slot = elem_slot(r, fi, k);

							if (slot == NULL)
								return walk_fail(we, simdjson::MEMALLOC,
												 "out of memory");
							memset(slot, 0, sizeof(JsonValue));
							split[j].field = fi;
							split[j].out = slot;
						}
						if (!convert_value(r, ev, split, nsplit, NULL, false, values, we))
							return false;
						k++;
					}
					if (!container_end(v, start, &raw, we))
						return false;
				}
				for (int i = 0; i < nt; i++)
				{
					JsonValue  *o = t[i].out;

					o->kind = JSON_ARRAY;
					o->str = raw.data();
					o->len = raw.size();
				}
				for (int j = 0; j < nsplit; j++)
				{
					JsonValue  *o = t[split_fields[j]].out;

					o->elems = r->elems[t[split_fields[j]].field];
					o->nelems = k;
				}
				return true;
			}

		case od::json_type::object:
			{
				std::string_view raw;
				od::object	o;

				if (children)
				{
					const char *start = tok.data();

					if ((err = v.get_object().get(o)))
						return walk_fail(we, err, NULL);
					if (!walk_object(r, o, children, values, we))
						return false;
					if (nt > 0 && !container_end(v, start, &raw, we))
						return false;
				}
				else
				{
					if ((err = v.get_object().get(o)) || (err = o.raw_json().get(raw)))
						return walk_fail(we, err, NULL);
					raw = trim_ws(raw);
				}
				for (int i = 0; i < nt; i++)
				{
					t[i].out->kind = JSON_OBJECT;
					t[i].out->str = raw.data();
					t[i].out->len = raw.size();
				}
				return true;
			}
		default:
			break;
	}
	return walk_fail(we, simdjson::INCORRECT_TYPE, NULL);
}

/*
 * Convert the value v for the nt targets (several fields may request the
 * same path with different wants).  "children" is the trie node below this
 * key when nested paths continue into it (only for record fields, not for
 * array elements); allow_elems is false for array elements, whose own
 * arrays are only given as raw text.
 */
static inline __attribute__((always_inline)) bool
convert_value(JsonReader *r, od::value &v, Target *t, int nt, TrieNode *children,
			  bool allow_elems, JsonValue *values, WalkError *we)
{
	od::json_type type;
	simdjson::error_code err;
	std::string_view tok;

	if ((err = v.type().get(type)))
		return walk_fail(we, err, NULL);
	tok = v.raw_json_token();

	switch (type)
	{
		case od::json_type::string:
			{
				std::string_view s;
				std::string_view raw = trim_ws(tok);
				bool		has_nul;

				if ((err = v.get_string().get(s)))
					return walk_fail(we, err, NULL);

				/*
				 * simdjson rejects raw control characters in strings, so a
				 * NUL can only come from an escape, and a string without
				 * escapes unescapes to its raw length.
				 */
				has_nul = raw.size() - 2 != s.size() &&
					memchr(s.data(), '\0', s.size()) != NULL;
				for (int i = 0; i < nt; i++)
				{
					JsonValue  *o = t[i].out;

					o->kind = JSON_STRING;
					if (r->fields[t[i].field].want == JSON_WANT_RAW)
					{
						o->str = raw.data();
						o->len = raw.size();
					}
					else
					{
						o->str = s.data();
						o->len = s.size();
						o->has_nul = has_nul;
					}
				}
				return true;
			}

		case od::json_type::number:
			{
				std::string_view raw = trim_ws(tok);
				bool		want_i = false;
				bool		want_d = false;
				bool		ok_i = false;
				bool		ok_d = false;
				int64_t		i64 = 0;
				double		f64 = 0;

				for (int i = 0; i < nt; i++)
				{
					JsonWant	w = r->fields[t[i].field].want;

					want_i |= (w == JSON_WANT_INT64);
					want_d |= (w == JSON_WANT_DOUBLE);
				}

				/*
				 * simdjson reports NUMBER_ERROR both for malformed numbers
				 * and for doubles out of range (1e400): the grammar tells
				 * them apart.  Integers that do not fit and non-integers
				 * asked for as int64 are not errors, only "num_ok = false".
				 */
				if (want_i && want_d)
				{
					od::number num;

					err = v.get_number().get(num);
					if (!err)
					{
						if (num.is_int64())
						{
							i64 = num.get_int64();
							ok_i = true;
							f64 = (double) i64;
						}
						else if (num.is_uint64())
							f64 = (double) num.get_uint64();
						else
							f64 = num.get_double();
						ok_d = true;
					}
					else if (err != simdjson::NUMBER_ERROR)
					{
						/* get_number() did not consume the value */
						err = v.get_double().get(f64);
						ok_d = (err == simdjson::SUCCESS);
					}
				}
				else if (want_i)
				{
					err = v.get_int64().get(i64);
					ok_i = (err == simdjson::SUCCESS);
				}
				else if (want_d)
				{
					err = v.get_double().get(f64);
					ok_d = (err == simdjson::SUCCESS);
				}
				else
					err = simdjson::SUCCESS;

				if ((!want_i && !want_d) || err != simdjson::SUCCESS)
				{
					if (!valid_json_number(raw.data(), raw.size()))
						return walk_fail(we, simdjson::NUMBER_ERROR, NULL);
				}
				for (int i = 0; i < nt; i++)
				{
					JsonValue  *o = t[i].out;
					JsonWant	w = r->fields[t[i].field].want;

					o->kind = JSON_NUMBER;
					o->str = raw.data();
					o->len = raw.size();
					if (w == JSON_WANT_INT64)
					{
						o->num_ok = ok_i;
						o->i64 = i64;
					}
					else if (w == JSON_WANT_DOUBLE)
					{
						o->num_ok = ok_d;
						o->f64 = f64;
					}
				}
				return true;
			}

		case od::json_type::boolean:
			{
				bool		b;
				std::string_view raw = trim_ws(tok);

				if ((err = v.get_bool().get(b)))
					return walk_fail(we, simdjson::T_ATOM_ERROR, "invalid literal");
				for (int i = 0; i < nt; i++)
				{
					t[i].out->kind = b ? JSON_TRUE : JSON_FALSE;
					t[i].out->str = raw.data();
					t[i].out->len = raw.size();
				}
				return true;
			}

		case od::json_type::null:
			{
				bool		isnull;

				if ((err = v.is_null().get(isnull)) || !isnull)
					return walk_fail(we, simdjson::N_ATOM_ERROR, "invalid literal");
				for (int i = 0; i < nt; i++)
				{
					std::string_view raw = trim_ws(tok);

					t[i].out->kind = JSON_NULL;
					if (r->fields[t[i].field].want == JSON_WANT_RAW)
					{
						t[i].out->str = raw.data();
						t[i].out->len = raw.size();
					}
				}
				return true;
			}

		case od::json_type::array:
		case od::json_type::object:
			return convert_container(r, v, type, tok, t, nt, children, allow_elems,
									 values, we);
	}
	return walk_fail(we, simdjson::INCORRECT_TYPE, NULL);
}

/*
 * The common case first: one field wants a scalar of the type it asked
 * for.  Ask simdjson for that type directly, without looking at the value's
 * type first and without the general path's bookkeeping, which costs about
 * as much as the conversion itself.  Returns false, having consumed
 * nothing (a failed get_* does not advance), when the value is of another
 * type or invalid: the general path then deals with it.
 */
static inline __attribute__((always_inline)) bool
convert_fast(od::value &v, JsonWant want, JsonValue *o)
{
	std::string_view tok = v.raw_json_token();

	switch (want)
	{
		case JSON_WANT_INT64:
			{
				int64_t		x;

				if (v.get_int64().get(x) != simdjson::SUCCESS)
					return false;
				tok = trim_ws(tok);
				o->kind = JSON_NUMBER;
				o->str = tok.data();
				o->len = tok.size();
				o->num_ok = true;
				o->i64 = x;
				return true;
			}
		case JSON_WANT_DOUBLE:
			{
				double		x;

				if (v.get_double().get(x) != simdjson::SUCCESS)
					return false;
				tok = trim_ws(tok);
				o->kind = JSON_NUMBER;
				o->str = tok.data();
				o->len = tok.size();
				o->num_ok = true;
				o->f64 = x;
				return true;
			}
		case JSON_WANT_ANY:
			{
				std::string_view str;

				if (tok[0] != '"' || v.get_string().get(str) != simdjson::SUCCESS)
					return false;
				tok = trim_ws(tok);
				o->kind = JSON_STRING;
				o->str = str.data();
				o->len = str.size();
				/* see convert_value: without escapes there is no NUL */
				o->has_nul = tok.size() - 2 != str.size() &&
					memchr(str.data(), '\0', str.size()) != NULL;
				return true;
			}
		default:
			return false;
	}
}

/*
 * Visit every field of obj once, in order, converting those that the trie
 * node asks for.  Every field is visited even when all requested ones were
 * found, so that the last of duplicate keys wins and the object's own
 * structure is checked.
 */
static bool
walk_object(JsonReader *r, od::object &obj, TrieNode *node, JsonValue *values,
			WalkError *we)
{
	simdjson::error_code err;

	for (auto fres : obj)
	{
		const char *key;
		bool		escaped;
		size_t		klen;
		const TrieEdge *edge;
		TrieNode   *child;
		Target		tg[JR_MAX_SAME_PATH];
		int			nt = 0;

		/*
		 * Use the field in place: copying it out of the result (get())
		 * costs a store-forwarding stall per field with GCC, a third of
		 * the time of a record with few fields requested.
		 */
		if ((err = fres.error()))
			return walk_fail(we, err, NULL);
		od::field  &fld = fres.value_unsafe();

		/*
		 * The raw key is a validated string token, so its closing quote is
		 * there.  Only keys with escapes need simdjson to unescape them.
		 */
		key = (const char *) fld.key().raw();

		/*
		 * Records of one stream nearly always list their keys in the same
		 * order: try the edge after the last match first, comparing raw
		 * bytes up to the closing quote.  Only when that fails do we
		 * measure the key and look further.
		 */
		edge = node->nedges > 0 ? &node->edges[node->guess] : NULL;
		if (edge && edge->raw_ok && key_eq(key, edge->key, edge->len) &&
			key[edge->len] == '"')
			node->guess = (node->guess + 1 < node->nedges) ? node->guess + 1 : 0;
		else
		{
			unsigned char c0 = (unsigned char) key[0];

			/* most keys that are not wanted are told by their first byte */
			if (!((node->first[c0 / 64] >> (c0 % 64)) & 1))
				continue;
			klen = key_length(key, &escaped);
			if (escaped)
			{
				std::string_view uk;

				if ((err = fld.unescaped_key().get(uk)))
					return walk_fail(we, err, NULL);
				edge = trie_match(node, uk.data(), uk.size(), false);
			}
			else
				edge = trie_match(node, key, klen, true);
			if (edge == NULL)
				continue;		/* the iterator skips the value */
		}

		if (edge->fast)
		{
			od::value	v = fld.value();
			JsonValue  *o = &values[edge->field];

			/* values[] starts zeroed: only a duplicate key needs a reset */
			if (o->kind != JSON_MISSING)
				memset(o, 0, sizeof(JsonValue));
			if (convert_fast(v, edge->want, o))
				continue;
		}
		child = &r->nodes[edge->child];

		/*
		 * A later duplicate key replaces the whole value: forget what an
		 * earlier one gave to paths below it, whatever the new value is.
		 */
		for (int i = 0; i < child->nbelow; i++)
			memset(&values[child->below[i]], 0, sizeof(JsonValue));
		for (int i = 0; i < child->nleaf; i++)
		{
			tg[nt].field = child->leaf[i];
			tg[nt].out = &values[child->leaf[i]];
			/* values[] starts zeroed: only a duplicate key needs a reset */
			if (tg[nt].out->kind != JSON_MISSING)
				memset(tg[nt].out, 0, sizeof(JsonValue));
			nt++;
		}
		{
			od::value	v = fld.value();

			if (!convert_value(r, v, tg, nt, child->nedges ? child : NULL, true,
							   values, we))
				return false;
		}
	}
	return true;
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
		for (int e = 0; e < r->nodes[n].nedges; e++)
		{
			TrieEdge   *edge = &r->nodes[n].edges[e];
			TrieNode   *child = &r->nodes[edge->child];

			/* such a key appears escaped in documents: never raw-equal */
			edge->raw_ok = strcspn(edge->key, "\"\\") == edge->len;
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
		free(r->nodes[i].below);
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

/* Parse the complete record [p, e) and fill values[]. */
static JsonResult
parse_record(JsonReader *r, size_t p, size_t e, size_t nl, JsonValue *values)
{
	od::document doc;
	od::object	obj;
	simdjson::error_code err;
	WalkError	we = {NULL, simdjson::SUCCESS};
	bool		have_doc;
	bool		ok;

	memset(values, 0, sizeof(JsonValue) * r->nfields);

	err = r->parser.iterate(r->buf + p, e - p, (r->len - p) + JSON_READER_PADDING).get(doc);
	have_doc = (err == simdjson::SUCCESS);
	if (!err)
		err = doc.get_object().get(obj);
	if (err)
	{
		if (err == simdjson::MEMALLOC)
		{
			set_error(r, p, e, p, "out of memory parsing a record", NULL);
			r->fatal = true;
			return JSON_FATAL;
		}
		we.code = err;
		ok = false;
	}
	else
		ok = walk_object(r, obj, &r->nodes[0], values, &we);

	if (!ok)
	{
		const char *msg = we.msg ? we.msg : simdjson::error_message(we.code);
		const char *loc = NULL;
		size_t		at = p;

		/* best guess of the offending byte: where the iterator stopped */
		if (have_doc && doc.current_location().get(loc) == simdjson::SUCCESS &&
			loc >= r->buf + p && loc <= r->buf + e)
			at = (size_t) (loc - r->buf);

		if (we.code == simdjson::MEMALLOC)
		{
			set_error(r, p, e, at, "%s", msg);
			r->fatal = true;
			return JSON_FATAL;
		}
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
	return parse_record(r, p, so.end, so.first_nl, values);
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
