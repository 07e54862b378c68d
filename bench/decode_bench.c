/*-------------------------------------------------------------------------
 *
 * decode_bench.c
 *	  Single-core throughput of the decoders on IoT heartbeat records.
 *
 * Generates N records shaped like those of shared/PERFORMANCE.md
 * (device_id, ts, battery, voltage, temp_c with 2% null, rssi, firmware,
 * status, tags[], loc{lat,lon}, seq; 5% of the strings with escapes or
 * non-ASCII), as newline-delimited and as concatenated JSON, gzips them,
 * and measures MB/s (of JSON text) and records/s for: inflate with zlib
 * and ISA-L, the JSON reader with all 11 fields and with 2, in both
 * layouts, the ISO-8601 fast path, and a whole inflate + parse pipeline.
 *
 * Not a test: nothing here fails.  Usage:
 *	  decode_bench [records (1000000)] [repeats (5)] [buffer KiB (256)]
 * Each figure is the median of the repeats.
 *
 *	  valgrind --tool=callgrind --instr-atstart=no decode_bench --callgrind [records]
 * runs each decoder once under callgrind instead (make ... callgrind):
 * instrumentation is switched on after the data is generated and the
 * counters dumped after each case, one callgrind.out file per case whose
 * "desc: Trigger: Client Request:" line names it; instructions / records
 * is the figure (bench/run prints it).
 *
 * IDENTIFICATION
 *	  bench/decode_bench.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#ifdef HAVE_VALGRIND
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(name) ((void) (name))
#endif

#include "decode/inflate.h"
#include "decode/iso8601.h"
#include "decode/json_reader.h"

typedef struct Buf
{
	char	   *p;
	size_t		len;
	size_t		cap;
} Buf;

static void
buf_add(Buf *b, const char *p, size_t n)
{
	if (b->len + n > b->cap)
	{
		b->cap = (b->len + n) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
		{
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rng(void)
{
	/* xorshift64: fast, deterministic, good enough for test data */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double
rnd_unit(void)
{
	return (double) (rng() >> 11) / (double) (UINT64_C(1) << 53);
}

/* One record; 5% of records get a string with escapes or non-ASCII. */
static int
make_record(char *out, size_t cap, uint64_t seq)
{
	static const char *statuses[] = {"ok", "ok", "ok", "low_battery", "error"};
	static const char *odd[] = {
		"caf\\u00e9 \\u2603", "line\\nbreak \\\"q\\\"", "caf\xc3\xa9 \xe2\x98\x83",
		"tab\\there", "\xe6\x97\xa5\xe6\x9c\xac"
	};
	static const char *tagset[] = {"outdoor", "indoor", "zone-1", "zone-2", "zone-3", "critical"};
	char		temp[32];
	const char *status = statuses[rng() % 5];
	char		dev[48];
	int			t1 = (int) (rng() % 6);
	int			t2 = (int) ((t1 + 1 + rng() % 5) % 6);

	snprintf(dev, sizeof(dev), "dev-%06d", (int) (rng() % 100000));
	if (rng() % 100 < 5)
	{
		int			which = (int) (rng() % 3);
		const char *s = odd[rng() % 5];

		if (which == 0)
			status = s;
		else if (which == 1)
			snprintf(dev, sizeof(dev), "dev-%s", s);
		else
			status = s;
	}
	if (rng() % 100 < 2)
		snprintf(temp, sizeof(temp), "null");
	else
		snprintf(temp, sizeof(temp), "%.2f", -20 + rnd_unit() * 65);

	return snprintf(out, cap,
					"{\"device_id\":\"%s\",\"ts\":\"2024-05-%02dT%02d:%02d:%02d.%03dZ\","
					"\"battery\":%d,\"voltage\":%.3f,\"temp_c\":%s,\"rssi\":%d,"
					"\"firmware\":\"1.4.%d\",\"status\":\"%s\",\"tags\":[\"%s\",\"%s\"],"
					"\"loc\":{\"lat\":%.6f,\"lon\":%.6f},\"seq\":%llu}",
					dev, (int) (1 + rng() % 28), (int) (rng() % 24), (int) (rng() % 60),
					(int) (rng() % 60), (int) (rng() % 1000),
					(int) (rng() % 101), 3 + rnd_unit() * 1.2, temp, -30 - (int) (rng() % 91),
					(int) (rng() % 10), status, tagset[t1], tagset[t2],
					-90 + rnd_unit() * 180, -180 + rnd_unit() * 360,
					(unsigned long long) seq);
}

static Buf
gzip_buf(const Buf *in)
{
	Buf			out = {0};
	z_stream	zs;
	char		tmp[1 << 16];
	int			rc;

	memset(&zs, 0, sizeof(zs));
	deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
	zs.next_in = (Bytef *) in->p;
	zs.avail_in = (uInt) in->len;
	do
	{
		zs.next_out = (Bytef *) tmp;
		zs.avail_out = sizeof(tmp);
		rc = deflate(&zs, Z_FINISH);
		buf_add(&out, tmp, sizeof(tmp) - zs.avail_out);
	} while (rc == Z_OK);
	deflateEnd(&zs);
	return out;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static volatile uint64_t sink;

/* ---------------------------------------------------------------- */

/* Inflate everything through a buffer of out_cap bytes; returns bytes out. */
static uint64_t
run_inflate(InflateImpl impl, const Buf *gz, size_t out_cap)
{
	Inflater   *z = inflater_create(impl);
	uint8_t    *out = malloc(out_cap);
	const uint8_t *p = (const uint8_t *) gz->p;
	size_t		n = gz->len;
	size_t		got;
	uint64_t	total = 0;
	InflateResult rc;

	while ((rc = inflater_run(z, &p, &n, true, out, out_cap, &got)) == INFLATE_OK)
	{
		total += got;
		sink += out[0];
	}
	if (rc != INFLATE_END)
		fprintf(stderr, "inflate failed: %s\n", inflater_error(z));
	inflater_free(z);
	free(out);
	return total;
}

/* Fold a record's values into a checksum so nothing is optimised away. */
static uint64_t
fold(const JsonValue *v, int nf, bool parse_ts)
{
	uint64_t	h = 0;

	for (int i = 0; i < nf; i++)
	{
		h += v[i].kind + v[i].len + (uint64_t) v[i].i64 + (uint64_t) v[i].f64 + v[i].nelems;
		if (v[i].nelems)
			h += v[i].elems[v[i].nelems - 1].len;
	}
	if (parse_ts && v[1].kind == JSON_STRING)
	{
		Iso8601		t;

		if (iso8601_parse(v[1].str, v[1].len, &t))
			h += (uint64_t) iso8601_epoch_usecs(&t);
	}
	return h;
}

/*
 * The JSON reader the way the scan drives it: a buffer of bufsize bytes,
 * filled from the decompressed text (a copy here, or inflate straight
 * into it when gz is given), records taken until NEED_MORE, the tail moved
 * to the front.  Returns the number of records.
 */
/* the reader of the table option case_insensitive (json_reader_create_folded) */
static bool fold_keys = false;

static uint64_t
run_json(const Buf *json, const Buf *gz, const JsonField *f, int nf, size_t bufsize,
		 bool parse_ts)
{
	JsonReader *r = fold_keys ? json_reader_create_folded(f, nf) : json_reader_create(f, nf);
	JsonValue  *values = calloc(nf > 0 ? nf : 1, sizeof(JsonValue));
	char	   *buf = malloc(bufsize + JSON_READER_PADDING);
	size_t		have = 0;
	size_t		given = 0;
	uint64_t	recs = 0;
	uint64_t	h = 0;
	bool		eof = false;
	Inflater   *z = gz ? inflater_create(INFLATE_IMPL_AUTO) : NULL;
	const uint8_t *zp = gz ? (const uint8_t *) gz->p : NULL;
	size_t		zn = gz ? gz->len : 0;

	while (!eof)
	{
		JsonResult	rc;

		if (gz)
		{
			size_t		got;
			InflateResult irc;

			irc = inflater_run(z, &zp, &zn, true, (uint8_t *) buf + have,
							   bufsize - have, &got);
			have += got;
			if (irc == INFLATE_ERROR)
			{
				fprintf(stderr, "inflate: %s\n", inflater_error(z));
				exit(1);
			}
			/* END comes on a call of its own, with no output */
			eof = (irc == INFLATE_END);
			if (!eof && have < bufsize)
				continue;
		}
		else
		{
			size_t		add = bufsize - have;

			if (add > json->len - given)
				add = json->len - given;
			memcpy(buf + have, json->p + given, add);
			have += add;
			given += add;
			eof = (given == json->len);
		}

		json_reader_feed(r, buf, have, eof);
		while ((rc = json_reader_next(r, values)) == JSON_RECORD)
		{
			recs++;
			h += fold(values, nf, parse_ts);
		}
		if (rc == JSON_BAD_RECORD || rc == JSON_FATAL)
		{
			fprintf(stderr, "bad record: %s\n", json_reader_error(r)->message);
			exit(1);
		}
		if (rc == JSON_NEED_MORE)
		{
			size_t		used = json_reader_consumed(r);

			if (used == 0 && have == bufsize)
			{
				fprintf(stderr, "record larger than the buffer\n");
				exit(1);
			}
			memmove(buf, buf + used, have - used);
			have -= used;
		}
	}
	sink += h;
	json_reader_free(r);
	inflater_free(z);
	free(values);
	free(buf);
	return recs;
}

static void
report(const char *what, double *t, int reps, double mb, uint64_t recs)
{
	double		med;

	qsort(t, reps, sizeof(double), cmp_double);
	med = t[reps / 2];
	printf("%-52s %8.0f MB/s %7.2f M rec/s  (%.3f s)\n", what, mb / med,
		   recs / med / 1e6, med);
}

/*
 * --callgrind: each case once, counted on its own.  The names are what
 * bench/run reports; keep them stable.
 */
static void
callgrind_cases(const Buf *nd, const Buf *cat, const Buf *gz, const JsonField *all, int nall,
				const JsonField *two, const JsonField *early, const JsonField *last,
				size_t bufsize)
{
	CALLGRIND_START_INSTRUMENTATION;
	CALLGRIND_ZERO_STATS;
	run_inflate(INFLATE_IMPL_ZLIB, gz, 256 * 1024);
	CALLGRIND_DUMP_STATS_AT("inflate zlib");
	if (inflater_have_isal())
	{
		CALLGRIND_ZERO_STATS;
		run_inflate(INFLATE_IMPL_ISAL, gz, 256 * 1024);
		CALLGRIND_DUMP_STATS_AT("inflate ISA-L");
	}
	CALLGRIND_ZERO_STATS;
	run_json(nd, NULL, all, nall, bufsize, false);
	CALLGRIND_DUMP_STATS_AT("JSON NDJSON all fields");
	CALLGRIND_ZERO_STATS;
	run_json(nd, NULL, two, 2, bufsize, false);
	CALLGRIND_DUMP_STATS_AT("JSON NDJSON 2 fields");
	CALLGRIND_ZERO_STATS;
	run_json(cat, NULL, all, nall, bufsize, false);
	CALLGRIND_DUMP_STATS_AT("JSON concatenated all fields");
	CALLGRIND_ZERO_STATS;
	run_json(nd, NULL, all, nall, bufsize, true);
	CALLGRIND_DUMP_STATS_AT("JSON all fields + ISO-8601");
	CALLGRIND_ZERO_STATS;
	run_json(NULL, gz, all, nall, bufsize, true);
	CALLGRIND_DUMP_STATS_AT("pipeline inflate + all + ISO-8601");
	CALLGRIND_ZERO_STATS;
	run_json(nd, NULL, early, 1, bufsize, false);
	CALLGRIND_DUMP_STATS_AT("JSON NDJSON 1 early field");
	CALLGRIND_ZERO_STATS;
	run_json(nd, NULL, last, 1, bufsize, false);
	CALLGRIND_DUMP_STATS_AT("JSON NDJSON last field only");
	CALLGRIND_ZERO_STATS;
	run_json(nd, NULL, NULL, 0, bufsize, false);
	CALLGRIND_DUMP_STATS_AT("JSON NDJSON no fields");

	/*
	 * case_insensitive: keys written as requested (the common case), then
	 * every key capitalized ("Device_id"), each one matched without case.
	 */
	{
		Buf			caps = {0};

		buf_add(&caps, nd->p, nd->len);
		for (size_t i = 2; i < caps.len; i++)
			if ((caps.p[i - 2] == '{' || caps.p[i - 2] == ',') && caps.p[i - 1] == '"' &&
				caps.p[i] >= 'a' && caps.p[i] <= 'z')
				caps.p[i] -= 'a' - 'A';
		fold_keys = true;
		CALLGRIND_ZERO_STATS;
		run_json(nd, NULL, all, nall, bufsize, false);
		CALLGRIND_DUMP_STATS_AT("JSON NDJSON all fields, case_insensitive");
		CALLGRIND_ZERO_STATS;
		run_json(&caps, NULL, all, nall, bufsize, false);
		CALLGRIND_DUMP_STATS_AT("JSON NDJSON all fields, case_insensitive, keys capitalized");
		fold_keys = false;
		free(caps.p);
	}
}

int
main(int argc, char **argv)
{
	bool		cg = argc > 1 && strcmp(argv[1], "--callgrind") == 0;

	if (cg)
	{
		argc--;
		argv++;
	}

	uint64_t	nrec = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	int			reps = argc > 2 ? atoi(argv[2]) : 5;
	size_t		bufsize = (argc > 3 ? strtoull(argv[3], NULL, 10) : 256) * 1024;
	Buf			nd = {0};
	Buf			cat = {0};
	Buf			gz;
	double	   *t = calloc(reps, sizeof(double));
	double		mb;
	char		rec[1024];

	static const JsonField all[] = {
		{"device_id", JSON_WANT_ANY, false},
		{"ts", JSON_WANT_ANY, false},
		{"battery", JSON_WANT_INT64, false},
		{"voltage", JSON_WANT_DOUBLE, false},
		{"temp_c", JSON_WANT_DOUBLE, false},
		{"rssi", JSON_WANT_INT64, false},
		{"firmware", JSON_WANT_ANY, false},
		{"status", JSON_WANT_ANY, false},
		{"tags", JSON_WANT_ANY, true},
		{"loc.lat", JSON_WANT_DOUBLE, false},
		{"loc.lon", JSON_WANT_DOUBLE, false},
		{"seq", JSON_WANT_INT64, false},
	};
	static const JsonField two[] = {
		{"device_id", JSON_WANT_ANY, false},
		{"ts", JSON_WANT_ANY, false},
	};

	/*
	 * The reader stops reading a record once it has every requested key:
	 * one early field shows that, the last field alone the cost of going
	 * past every other key, no fields the scanner alone (count(*)).
	 */
	static const JsonField early[] = {
		{"battery", JSON_WANT_DOUBLE, false},
	};
	static const JsonField last[] = {
		{"seq", JSON_WANT_INT64, false},
	};
	int			nall = sizeof(all) / sizeof(all[0]);

	for (uint64_t i = 0; i < nrec; i++)
	{
		int			n = make_record(rec, sizeof(rec), i);

		buf_add(&nd, rec, n);
		buf_add(&nd, "\n", 1);
		buf_add(&cat, rec, n);
	}
	gz = gzip_buf(&nd);
	mb = nd.len / 1e6;
	if (cg)
	{
		printf("%llu records, %zu bytes NDJSON, %zu bytes gzip; record scanner: %s\n",
			   (unsigned long long) nrec, nd.len, gz.len, json_reader_simd());
		callgrind_cases(&nd, &cat, &gz, all, nall, two, early, last, bufsize);
		return 0;
	}
	printf("%llu records, %.1f MB NDJSON (%.0f bytes/record), %.1f MB gzip -6; "
		   "buffer %zu KiB; median of %d\n",
		   (unsigned long long) nrec, mb, (double) nd.len / nrec, gz.len / 1e6,
		   bufsize / 1024, reps);
	printf("(\"all fields\" = the 11 columns: tags split into elements, loc.lat and loc.lon;"
		   " record scanner: %s)\n\n", json_reader_simd());

	for (int impl = INFLATE_IMPL_ZLIB; impl <= INFLATE_IMPL_ISAL; impl++)
	{
		if (impl == INFLATE_IMPL_ISAL && !inflater_have_isal())
			continue;
		for (int i = 0; i < reps; i++)
		{
			double		t0 = now();
			uint64_t	out = run_inflate(impl, &gz, 256 * 1024);

			t[i] = now() - t0;
			if (out != nd.len)
				fprintf(stderr, "inflate produced %llu bytes\n", (unsigned long long) out);
		}
		report(impl == INFLATE_IMPL_ZLIB ? "inflate, zlib (256 KiB out)" :
			   "inflate, ISA-L (256 KiB out)", t, reps, mb, nrec);
	}

	{
		struct
		{
			const char *name;
			const Buf  *data;
			const JsonField *f;
			int			nf;
			bool		ts;
		}			cases[] = {
			{"json_reader, NDJSON, all fields", &nd, all, nall, false},
			{"json_reader, NDJSON, 2 fields (device_id, ts)", &nd, two, 2, false},
			{"json_reader, concatenated {..}{..}, all fields", &cat, all, nall, false},
			{"json_reader, concatenated {..}{..}, 2 fields", &cat, two, 2, false},
			{"json_reader, NDJSON, all fields + ISO-8601 ts", &nd, all, nall, true},
			{"  same, NDJSON, all fields, SSE2 scanner", &nd, all, nall, false},
			{"  same, NDJSON, 2 fields, SSE2 scanner", &nd, two, 2, false},
			{"json_reader, NDJSON, 1 early field (battery)", &nd, early, 1, false},
			{"json_reader, NDJSON, last field only (seq)", &nd, last, 1, false},
			{"json_reader, NDJSON, no fields (count(*))", &nd, NULL, 0, false},
		};

		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		{
			/* the last cases run with the baseline record scanner */
			json_reader_force_baseline(strstr(cases[c].name, "SSE2") != NULL);
			for (int i = 0; i < reps; i++)
			{
				double		t0 = now();
				uint64_t	n = run_json(cases[c].data, NULL, cases[c].f, cases[c].nf,
										 bufsize, cases[c].ts);

				t[i] = now() - t0;
				if (n != nrec)
					fprintf(stderr, "%s: %llu records\n", cases[c].name, (unsigned long long) n);
			}
			report(cases[c].name, t, reps, cases[c].data->len / 1e6, nrec);
		}
		json_reader_force_baseline(false);
	}

	/* ISO-8601 alone, on the ts strings */
	{
		const char *p = nd.p;
		char	   *ts = malloc(24 * nrec);
		uint64_t	k = 0;

		/* packed, so that this measures parsing rather than cache misses */
		for (uint64_t i = 0; i < nrec; i++)
		{
			const char *q = strstr(p, "\"ts\":\"") + 6;

			memcpy(ts + 24 * i, q, 24);
			p = strchr(q, '\n');
		}
		for (int i = 0; i < reps; i++)
		{
			double		t0 = now();
			uint64_t	h = 0;

			for (uint64_t j = 0; j < nrec; j++)
			{
				Iso8601		tt;

				if (iso8601_parse(ts + 24 * j, 24, &tt))
					h += (uint64_t) iso8601_epoch_usecs(&tt);
				else
					k++;
			}
			sink += h;
			t[i] = now() - t0;
		}
		if (k)
			fprintf(stderr, "iso8601 rejected %llu\n", (unsigned long long) k);
		qsort(t, reps, sizeof(double), cmp_double);
		printf("%-52s %8.1f ns/value\n", "iso8601_parse (24-byte ts with Z)", t[reps / 2] / nrec * 1e9);
		free(ts);
	}

	for (int i = 0; i < reps; i++)
	{
		double		t0 = now();
		uint64_t	n = run_json(NULL, &gz, all, nall, bufsize, true);

		t[i] = now() - t0;
		if (n != nrec)
			fprintf(stderr, "pipeline: %llu records\n", (unsigned long long) n);
	}
	report("pipeline: inflate (auto) + all fields + ISO-8601", t, reps, mb, nrec);

	free(nd.p);
	free(cat.p);
	free(gz.p);
	free(t);
	return 0;
}
