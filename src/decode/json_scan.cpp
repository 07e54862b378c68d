/*-------------------------------------------------------------------------
 *
 * json_scan.cpp
 *	  The JSON reader's record boundary scanner: where a record ends, and
 *	  what every record must satisfy, 64 bytes at a time.
 *
 * For each record the scanner (AVX2 or SSE2) finds where it ends and checks
 * what every record must satisfy, requested fields or not: strings end,
 * brackets match (with their kinds: "[}" is caught), nesting is at most
 * 1024 deep, no raw control character is inside a string.  It also tells
 * whether the record has any byte >= 0x80; only such records (a few
 * percent in practice) pay for simdjson's UTF-8 validator.  The loop itself
 * is json_scan.inc, compiled here once per instruction set.
 *
 * IDENTIFICATION
 *	  src/decode/json_scan.cpp
 *
 *-------------------------------------------------------------------------
 */
#include "json_internal.hpp"

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
#include "json_scan.inc"
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
#include "json_scan.inc"
#undef SCAN_FUNCTION
#undef SCAN_CLASSIFY
#undef SCAN_PREFIX_XOR

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif							/* AVX2 scanner */

/* The scanner for this CPU; set by json_reader_create. */
ScanFunction scan_container = scan_container_base;
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

/* choose_scanner: AVX2 if the CPU has it (and no test forced the baseline). */
void
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

/* scan_string_end: where a string ends, on the rare paths (see json_internal.hpp). */
size_t
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
