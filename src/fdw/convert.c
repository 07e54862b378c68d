/*-------------------------------------------------------------------------
 *
 * convert.c
 *	  JSON and CSV values -> Datums of the foreign table's column types.
 *
 * The common types (text, integers, floats, booleans, ISO-8601 dates and
 * timestamps, arrays of those) have fast paths that never call the type's
 * input function: the JSON reader already checked the syntax and UTF-8 of
 * the values it returns and parsed the numbers.  Everything else, and every value the fast path does
 * not like, goes through the type's input function, so users get exactly
 * PostgreSQL's semantics and error messages.
 *
 * Bad values never escape as a bare input-function error: they come back
 * as a ConvError, and the scan names the object, record, line and column
 * (on_error 'stop') or skips the record (on_error 'skip').  In skip mode
 * an input function runs in a subtransaction, the only safe way to carry
 * on after it has thrown.
 *
 * IDENTIFICATION
 *	  src/fdw/convert.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "decode/epoch.h"
#include "decode/iso8601.h"
#include "fdw/fdw.h"
#include "fdw/jsonb_build.h"

/* Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
#define UNIX_TO_PG_DAYS (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)

static bool db_is_utf8 = false;

void
conv_init(ColumnConv *cc, Oid typid, int32 typmod, bool soft)
{
	Oid			infunc;
	Oid			elemtype;

	memset(cc, 0, sizeof(*cc));
	cc->typid = typid;
	cc->typmod = typmod;
	cc->soft = soft;
	getTypeInputInfo(typid, &infunc, &cc->ioparam);
	fmgr_info(infunc, &cc->infunc);
	db_is_utf8 = GetDatabaseEncoding() == PG_UTF8;

	switch (typid)
	{
		case TEXTOID:
			cc->kind = CONV_TEXT;
			break;
		case INT2OID:
			cc->kind = CONV_INT2;
			break;
		case INT4OID:
			cc->kind = CONV_INT4;
			break;
		case INT8OID:
			cc->kind = CONV_INT8;
			break;
		case FLOAT4OID:
			cc->kind = CONV_FLOAT4;
			break;
		case FLOAT8OID:
			cc->kind = CONV_FLOAT8;
			break;
		case NUMERICOID:
			cc->kind = CONV_NUMERIC;
			break;
		case BOOLOID:
			cc->kind = CONV_BOOL;
			break;
		case DATEOID:
			cc->kind = CONV_DATE;
			break;
		case TIMESTAMPOID:
			cc->kind = CONV_TIMESTAMP;
			break;
		case TIMESTAMPTZOID:
			cc->kind = CONV_TIMESTAMPTZ;
			break;
		case JSONOID:
			cc->kind = CONV_JSON;
			break;
		case JSONBOID:
			cc->kind = CONV_JSONB;
			break;
		default:
			elemtype = get_element_type(typid);
			if (OidIsValid(elemtype) && get_typlen(typid) == -1)
			{
				cc->kind = CONV_ARRAY;
				cc->elem = palloc(sizeof(ColumnConv));
				conv_init(cc->elem, elemtype, typmod, soft);
				get_typlenbyvalalign(elemtype, &cc->elmlen, &cc->elmbyval, &cc->elmalign);
			}
			else
				cc->kind = CONV_OTHER;
			break;
	}
}

/*
 * conv_json_want: what to ask the JSON reader for, so that numbers arrive
 * parsed and json columns get raw text.
 */
JsonWant
conv_json_want(const ColumnConv *cc, bool *elements)
{
	*elements = false;
	switch (cc->kind)
	{
		case CONV_INT2:
		case CONV_INT4:
		case CONV_INT8:
			return JSON_WANT_INT64;
		case CONV_FLOAT4:
		case CONV_FLOAT8:
			return JSON_WANT_DOUBLE;
		case CONV_JSON:
		case CONV_JSONB:
			return JSON_WANT_RAW;
		case CONV_ARRAY:
			{
				bool		dummy;

				*elements = true;
				return conv_json_want(cc->elem, &dummy);
			}
		default:
			return JSON_WANT_ANY;
	}
}

/* A short, printable excerpt of a value for error messages. */
static char *
excerpt(const char *s, size_t len)
{
	size_t		n = Min(len, 64);

	/* do not cut a multibyte character in half */
	n = pg_mbcliplen(s, (int) n, (int) n);
	return psprintf("%.*s%s", (int) n, s, n < len ? "..." : "");
}

static const char *
kind_name(JsonKind k)
{
	switch (k)
	{
		case JSON_FALSE:
		case JSON_TRUE:
			return "a boolean";
		case JSON_NUMBER:
			return "a number";
		case JSON_STRING:
			return "a string";
		case JSON_ARRAY:
			return "an array";
		case JSON_OBJECT:
			return "an object";
		default:
			return "null";
	}
}

static bool
type_mismatch(const ColumnConv *cc, const JsonValue *v, ConvError *err)
{
	err->sqlerrcode = ERRCODE_INVALID_TEXT_REPRESENTATION;
	err->message = psprintf("cannot convert %s to %s: %s", kind_name(v->kind),
							format_type_with_typemod(cc->typid, cc->typmod),
							v->str ? excerpt(v->str, v->len) :
							v->kind == JSON_TRUE ? "true" : "false");
	return false;
}

/* Errors a bad value may raise, as opposed to cancel, out of memory... */
static bool
is_data_error(int sqlerrcode)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	return category == ERRCODE_DATA_EXCEPTION ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
		category == ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION;
}

/*
 * Call the type's input function on s[0..len).  A data error comes back
 * as a ConvError; anything else (cancel, out of memory) propagates.
 */
static bool
call_input(const ColumnConv *cc, const char *s, size_t len, Datum *d, ConvError *err)
{
	char	   *cstr = pnstrdup(s, len);
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	if (cc->soft)
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
	}
	PG_TRY();
	{
		*d = InputFunctionCall((FmgrInfo *) &cc->infunc, cstr, cc->ioparam, cc->typmod);
		if (cc->soft)
		{
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (!is_data_error(edata->sqlerrcode))
		{
			if (!cc->soft)
				PG_RE_THROW();
			/* not bad data (a cancel): our subtransaction ends before it goes on */
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			ReThrowError(edata);
		}
		FlushErrorState();
		if (cc->soft)
		{
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
		}
		err->message = edata->message;
		err->sqlerrcode = edata->sqlerrcode;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* UTF-8 text from the object -> a text Datum in the database encoding. */
static bool
make_text(const char *s, size_t len, Datum *d, ConvError *err)
{
	if (!db_is_utf8)
	{
		char	   *conv;

		/* pg_any_to_server may throw for unconvertible characters */
		PG_TRY();
		{
			conv = pg_any_to_server(s, (int) len, PG_UTF8);
		}
		PG_CATCH();
		{
			ErrorData  *edata = CopyErrorData();

			FlushErrorState();
			err->message = edata->message;
			err->sqlerrcode = edata->sqlerrcode;
			return false;
		}
		PG_END_TRY();
		*d = PointerGetDatum(cstring_to_text(conv));
		return true;
	}
	*d = PointerGetDatum(cstring_to_text_with_len(s, (int) len));
	return true;
}

static bool
nul_in_text(ConvError *err)
{
	err->sqlerrcode = ERRCODE_UNTRANSLATABLE_CHARACTER;
	err->message = pstrdup("\\u0000 cannot be converted to text");
	return false;
}

/* Text form of a non-string JSON scalar for input functions. */
static void
scalar_text(const JsonValue *v, const char **s, size_t *len)
{
	if (v->kind == JSON_TRUE)
	{
		*s = "true";
		*len = 4;
	}
	else if (v->kind == JSON_FALSE)
	{
		*s = "false";
		*len = 5;
	}
	else
	{
		*s = v->str;
		*len = v->len;
	}
}

/* An epoch number (JSON number or text) -> timestamp[tz], format 'epoch_*'. */
static bool
conv_epoch(const ColumnConv *cc, const JsonValue *v, Datum *d, ConvError *err)
{
	int64		us;
	Timestamp	ts;

	if (v->kind != JSON_NUMBER && v->kind != JSON_STRING)
		return type_mismatch(cc, v, err);
	if (!epoch_to_usecs(v->str, v->len, cc->epoch_unit, &us) ||
		pg_sub_s64_overflow(us, (int64) UNIX_TO_PG_DAYS * USECS_PER_DAY, &ts) ||
		!IS_VALID_TIMESTAMP(ts))
	{
		err->sqlerrcode = ERRCODE_INVALID_DATETIME_FORMAT;
		err->message = psprintf("\"%.*s\" is not an epoch number in range for %s",
								(int) Min(v->len, 100), v->str, format_type_be(cc->typid));
		return false;
	}
	/* an instant: timestamp (without time zone) gets its UTC wall time */
	*d = cc->kind == CONV_TIMESTAMPTZ ? TimestampTzGetDatum(ts) : TimestampGetDatum(ts);
	return true;
}

static bool
conv_timestamp(const ColumnConv *cc, const JsonValue *v, Datum *d, ConvError *err)
{
	Iso8601		t;

	if (cc->epoch_unit > 0 && cc->kind != CONV_DATE)
		return conv_epoch(cc, v, d, err);

	if (v->kind == JSON_STRING && iso8601_parse(v->str, v->len, &t))
	{
		switch (cc->kind)
		{
			case CONV_TIMESTAMPTZ:
				/* without an offset the session's TimeZone applies: slow path */
				if (t.has_offset && cc->typmod < 0)
				{
					*d = TimestampTzGetDatum(iso8601_epoch_usecs(&t) -
											 (int64) UNIX_TO_PG_DAYS * USECS_PER_DAY);
					return true;
				}
				break;
			case CONV_TIMESTAMP:
				/* like timestamp_in, an offset is ignored */
				if (cc->typmod < 0)
				{
					*d = TimestampGetDatum((int64) (t.days - UNIX_TO_PG_DAYS) * USECS_PER_DAY +
										   t.usecs);
					return true;
				}
				break;
			case CONV_DATE:
				if (!t.has_time)
				{
					*d = DateADTGetDatum(t.days - UNIX_TO_PG_DAYS);
					return true;
				}
				break;
			default:
				break;
		}
	}
	if (v->kind == JSON_STRING || v->kind == JSON_NUMBER)
		return call_input(cc, v->str, v->len, d, err);
	return type_mismatch(cc, v, err);
}

/*
 * conv_json: one JSON value -> Datum.  JSON null and missing keys are SQL
 * NULL.
 */
bool
conv_json(const ColumnConv *cc, const JsonValue *v, Datum *d, bool *isnull, ConvError *err)
{
	const char *s;
	size_t		len;

	*isnull = false;
	if (v->kind == JSON_MISSING || v->kind == JSON_NULL)
	{
		*isnull = true;
		*d = (Datum) 0;
		return true;
	}

	switch (cc->kind)
	{
		case CONV_TEXT:
			if (v->kind == JSON_STRING && v->has_nul)
				return nul_in_text(err);
			scalar_text(v, &s, &len);
			return make_text(s, len, d, err);

		case CONV_INT8:
			if (v->kind == JSON_NUMBER && v->num_ok)
			{
				*d = Int64GetDatum(v->i64);
				return true;
			}
			break;
		case CONV_INT4:
			if (v->kind == JSON_NUMBER && v->num_ok &&
				v->i64 >= PG_INT32_MIN && v->i64 <= PG_INT32_MAX)
			{
				*d = Int32GetDatum((int32) v->i64);
				return true;
			}
			break;
		case CONV_INT2:
			if (v->kind == JSON_NUMBER && v->num_ok &&
				v->i64 >= PG_INT16_MIN && v->i64 <= PG_INT16_MAX)
			{
				*d = Int16GetDatum((int16) v->i64);
				return true;
			}
			break;
		case CONV_FLOAT8:
			if (v->kind == JSON_NUMBER && v->num_ok)
			{
				*d = Float8GetDatum(v->f64);
				return true;
			}
			break;
		case CONV_FLOAT4:
			if (v->kind == JSON_NUMBER && v->num_ok)
			{
				float4		f = (float4) v->f64;

				/* overflow and underflow: let float4in say so */
				if (!isinf(f) && (f != 0.0f || v->f64 == 0.0))
				{
					*d = Float4GetDatum(f);
					return true;
				}
			}
			break;
		case CONV_BOOL:
			if (v->kind == JSON_TRUE || v->kind == JSON_FALSE)
			{
				*d = BoolGetDatum(v->kind == JSON_TRUE);
				return true;
			}
			break;
		case CONV_DATE:
		case CONV_TIMESTAMP:
		case CONV_TIMESTAMPTZ:
			return conv_timestamp(cc, v, d, err);

		case CONV_JSON:
			/* the reader checked requested values in full: valid JSON text */
			return make_text(v->str, v->len, d, err);
		case CONV_JSONB:
			if (jsonb_from_checked_json(v->str, v->len, d))
				return true;
			return call_input(cc, v->str, v->len, d, err);

		case CONV_ARRAY:
			if (v->kind == JSON_ARRAY)
			{
				Datum	   *elems;
				bool	   *nulls;
				int			dims[1];
				int			lbs[1];
				int			i;

				/* the reader's limit keeps far below; never an alloc error */
				if ((Size) v->nelems > MaxArraySize)
				{
					err->sqlerrcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
					err->message = psprintf("the array has %d elements, more than an array can hold (%d)",
											v->nelems, (int) MaxArraySize);
					return false;
				}
				elems = palloc(sizeof(Datum) * Max(v->nelems, 1));
				nulls = palloc(sizeof(bool) * Max(v->nelems, 1));

				for (i = 0; i < v->nelems; i++)
				{
					if (!conv_json(cc->elem, &v->elems[i], &elems[i], &nulls[i], err))
					{
						err->message = psprintf("element %d: %s", i + 1, err->message);
						return false;
					}
				}
				dims[0] = v->nelems;
				lbs[0] = 1;
				*d = PointerGetDatum(construct_md_array(elems, nulls, v->nelems > 0 ? 1 : 0,
														dims, lbs, cc->elem->typid,
														cc->elmlen, cc->elmbyval,
														cc->elmalign));
				return true;
			}
			if (v->kind == JSON_STRING)
				return call_input(cc, v->str, v->len, d, err);
			return type_mismatch(cc, v, err);

		case CONV_NUMERIC:
		case CONV_OTHER:
			break;
	}

	/* slow path: the type's input function on the value's text */
	if (v->kind == JSON_STRING)
	{
		if (v->has_nul)
			return nul_in_text(err);
		return call_input(cc, v->str, v->len, d, err);
	}
	if (v->kind == JSON_ARRAY || v->kind == JSON_OBJECT)
	{
		if (cc->kind != CONV_OTHER)
			return type_mismatch(cc, v, err);
	}
	else if (v->kind != JSON_NUMBER && cc->kind != CONV_BOOL && cc->kind != CONV_OTHER)
		return type_mismatch(cc, v, err);
	scalar_text(v, &s, &len);
	return call_input(cc, s, len, d, err);
}

/*
 * conv_text: one CSV field (UTF-8 text) -> Datum.
 */
bool
conv_text(const ColumnConv *cc, const char *s, size_t len, Datum *d, ConvError *err)
{
	JsonValue	v;

	if (!pg_verify_mbstr(PG_UTF8, s, (int) len, true))
	{
		err->sqlerrcode = ERRCODE_CHARACTER_NOT_IN_REPERTOIRE;
		err->message = pstrdup("invalid byte sequence for encoding \"UTF8\"");
		return false;
	}
	if (cc->kind == CONV_TEXT)
		return make_text(s, len, d, err);

	memset(&v, 0, sizeof(v));
	v.kind = JSON_STRING;
	v.str = s;
	v.len = len;
	v.has_nul = memchr(s, '\0', len) != NULL;
	if (cc->kind == CONV_JSON || cc->kind == CONV_JSONB || cc->kind == CONV_ARRAY)
		return call_input(cc, s, len, d, err);
	{
		bool		isnull;

		return conv_json(cc, &v, d, &isnull, err);
	}
}
