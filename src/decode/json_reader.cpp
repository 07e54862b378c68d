/*-------------------------------------------------------------------------
 *
 * json_reader.cpp
 *	  Streaming JSON record reader: a C API over simdjson's On-Demand parser.
 *
 * Records are found by our own boundary scanner (a branch-light SSE2 pass
 * that tracks strings, escapes and bracket depth), and each record is then
 * handed to simdjson's parser.iterate() on its own.  We measured simdjson's
 * iterate_many() as the alternative: it is about 1.4x faster on clean
 * newline-delimited input, but it cannot be used safely on its own here:
 *
 *	- an error stops a document_stream for good, and a stage-1 error (for
 *	  instance one invalid UTF-8 byte) fails the whole batch, so one bad
 *	  record would need a second, per-record path anyway;
 *	- a batch must end exactly after a complete record (a UTF-8 character,
 *	  a string or a number cut at the buffer end fails the batch), which
 *	  for concatenated {..}{..} input without newlines needs a forward scan
 *	  of the buffer - the very scan we do here;
 *	- a top-level array is a single document to it, so a huge array cannot
 *	  be streamed across buffers.
 *
 * Per-record iterate() isolates every record: errors never leak into the
 * next record, offsets are exact, and the same records come out wherever
 * the caller's buffer boundaries fall.
 *
 * Each record is an object; the requested fields (keys or dotted paths) are
 * compiled into a small trie, and each object's fields are visited once, in
 * document order, as On-Demand requires.  Values that are not requested are
 * skipped by simdjson without being materialised (and, as On-Demand goes,
 * without being fully validated: strings, UTF-8, brackets, depth and the
 * structure of every object we walk are always checked).
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

/* One edge of the path trie: a key leading to a child node. */
typedef struct TrieEdge
{
	char	   *key;
	size_t		len;
	int			child;
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

	m->quote = m->backslash = m->open = m->close = m->newline = m->brace = 0;
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
	}
}
#else
static inline void
classify_block(const uint8_t *p, BlockMasks *m)
{
	m->quote = m->backslash = m->open = m->close = m->newline = m->brace = 0;
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
				break;
			case '}':
			case ']':
				m->close |= bit;
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
 * Scan the container that opens at buf[start] ('{' or '['), up to len.
 *
 * 64 bytes at a time: find quotes that are not escaped, turn them into a
 * mask of string interiors, and count brackets outside strings.  Escapes
 * are resolved one backslash at a time, which is cheap because backslashes
 * are rare; the common block has none.  Blocks whose closing brackets
 * cannot bring the depth to zero are counted with popcount alone.  Reading
 * up to 63 bytes past len is fine: the caller guarantees the padding, and
 * those bits are masked off.
 */
static void
scan_container(const char *cbuf, size_t start, size_t len, ScanOut *so)
{
	const uint8_t *buf = (const uint8_t *) cbuf;
	uint64_t	esc_carry = 0;	/* next block's byte 0 is escaped */
	uint64_t	str_carry = 0;	/* all ones: block starts inside a string */
	long		depth = 0;

	so->complete = false;
	so->too_deep = false;
	so->end = JR_NONE;
	so->first_nl = JR_NONE;
	so->broken_line = JR_NONE;
	so->broken_in_string = false;

	for (size_t i = start; i < len; i += 64)
	{
		BlockMasks	m;
		uint64_t	valid;
		uint64_t	escaped;
		uint64_t	bs;
		uint64_t	instr;
		uint64_t	op;
		uint64_t	cl;
		uint64_t	nl;

		classify_block(buf + i, &m);
		valid = (len - i >= 64) ? ~UINT64_C(0) : ((UINT64_C(1) << (len - i)) - 1);

		escaped = esc_carry;
		esc_carry = 0;
		bs = m.backslash & valid;
		while (bs)
		{
			int			k = __builtin_ctzll(bs);

			bs &= bs - 1;
			if (!((escaped >> k) & 1))
			{
				if (k == 63)
					esc_carry = 1;
				else
					escaped |= UINT64_C(1) << (k + 1);
			}
		}

		instr = prefix_xor(m.quote & ~escaped & valid) ^ str_carry;
		str_carry = (uint64_t) ((int64_t) instr >> 63);

		nl = m.newline & valid;
		if (nl)
		{
			/*
			 * Two kinds of line break end a record early, as broken:
			 *
			 * - one inside a string: JSON strings cannot hold a raw line
			 *   break, so this is a cut (usually truncated) line;
			 * - one followed directly by '{' in column 0 while the record
			 *   is still open: that is the next line of newline-delimited
			 *   input, and the line before it was cut.  Pretty-printers
			 *   indent nested objects, so valid multi-line records do not
			 *   look like this.
			 *
			 * Both depend only on bytes up to the one after the line break,
			 * so the outcome does not depend on where the buffer ends.
			 */
			uint64_t	outside = nl & ~instr;
			uint64_t	stop = nl & instr;

			if (outside)
			{
				uint64_t	next_brace = m.brace >> 1;

				if (i + 64 < len && buf[i + 64] == '{')
					next_brace |= UINT64_C(1) << 63;
				stop |= outside & next_brace;
				if (so->first_nl == JR_NONE)
					so->first_nl = i + __builtin_ctzll(outside);
			}
			if (stop)
			{
				size_t		p = i + __builtin_ctzll(stop);
				uint64_t	before = (UINT64_C(1) << (p - i)) - 1;

				/* the record may still close before that line break */
				op = m.open & ~instr & valid & before;
				cl = m.close & ~instr & valid & before;
				while (op | cl)
				{
					uint64_t	br = op | cl;
					int			k = __builtin_ctzll(br);

					if ((op >> k) & 1)
					{
						if (++depth > JR_MAX_DEPTH)
							so->too_deep = true;
						op &= op - 1;
					}
					else
					{
						cl &= cl - 1;
						if (--depth == 0)
						{
							so->complete = true;
							so->end = i + k + 1;
							if (so->first_nl != JR_NONE && so->first_nl >= so->end)
								so->first_nl = JR_NONE;
							return;
						}
					}
				}
				so->broken_line = p;
				so->broken_in_string = (instr >> (p - i)) & 1;
				return;
			}
		}

		op = m.open & ~instr & valid;
		cl = m.close & ~instr & valid;
		if (!(op | cl))
			continue;

		/* fast path: depth cannot reach zero or the limit in this block */
		{
			long		nop = __builtin_popcountll(op);
			long		ncl = __builtin_popcountll(cl);

			if (ncl < depth && depth + nop <= JR_MAX_DEPTH)
			{
				depth += nop - ncl;
				continue;
			}
		}

		{
			uint64_t	br = op | cl;

			while (br)
			{
				int			k = __builtin_ctzll(br);

				br &= br - 1;
				if ((op >> k) & 1)
				{
					if (++depth > JR_MAX_DEPTH)
						so->too_deep = true;
				}
				else if (--depth == 0)
				{
					so->complete = true;
					so->end = i + k + 1;
					if (so->first_nl != JR_NONE && so->first_nl >= so->end)
						so->first_nl = JR_NONE;
					return;
				}
			}
		}
	}
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
				Target		split[8];
				int			split_fields[8];
				int			k = 0;

				if (allow_elems)
				{
					for (int i = 0; i < nt && nsplit < 8; i++)
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

					/* a later duplicate key replaces the whole object */
					for (int i = 0; i < children->nbelow; i++)
						memset(&values[children->below[i]], 0, sizeof(JsonValue));
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
				has_nul = s.size() != 0 && memchr(s.data(), '\0', s.size()) != NULL;
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
		const char *q;
		size_t		klen;
		const TrieEdge *edge;
		TrieNode   *child;
		Target		tg[8];
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
		for (q = key; *q != '"' && *q != '\\'; q++)
			;
		if (*q == '\\')
		{
			std::string_view uk;

			if ((err = fld.unescaped_key().get(uk)))
				return walk_fail(we, err, NULL);
			key = uk.data();
			klen = uk.size();
			edge = trie_match(node, key, klen, false);
		}
		else
		{
			klen = (size_t) (q - key);
			edge = trie_match(node, key, klen, true);
		}
		if (edge == NULL)
			continue;			/* the iterator skips the value */

		child = &r->nodes[edge->child];
		for (int i = 0; i < child->nleaf && nt < 8; i++)
		{
			tg[nt].field = child->leaf[i];
			tg[nt].out = &values[child->leaf[i]];
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
		if (r->fields[i].path == NULL || !trie_add(r, i))
		{
			json_reader_free(r);
			return NULL;
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
	bool		ok;

	memset(values, 0, sizeof(JsonValue) * r->nfields);

	err = r->parser.iterate(r->buf + p, e - p, (r->len - p) + JSON_READER_PADDING).get(doc);
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
		if (doc.current_location().get(loc) == simdjson::SUCCESS &&
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
