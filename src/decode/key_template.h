/*-------------------------------------------------------------------------
 *
 * key_template.h
 *	  Key templates: the layout of object keys as Athena's partition
 *	  projection describes it, "raw/v0/deviceping/{year}/{month}/{day}/{hour}/".
 *
 * A template is literal text and placeholders.  A placeholder is
 * "{name}" or "{name:type}"; a bare name that is a type's name has that
 * type ("{year}" is "{year:year}"), any other bare name is text.
 *
 *	  type		matches in a key						 value
 *	  year		4 digits								 2026
 *	  month		2 digits, 01-12							 11
 *	  day		2 digits, 01-31							 25
 *	  hour		2 digits, 00-23							 13
 *	  minute	2 digits, 00-59							 05
 *	  date		YYYY-MM-DD, a valid date				 2026-11-25
 *	  int		1 to 18 digits							 42
 *	  text		1 or more characters other than '/'		 sensor-7
 *
 * An int or text part ends at the first occurrence of the literal text
 * that follows it in the template (or, last in the template, at the next
 * '/' or the key's end), so it must not be followed directly by another
 * placeholder: "{device}{date}" is refused, "{device}-{date}" is fine
 * (and a device name with a '-' in it then ends at that '-': write the
 * layout so that the text after a text part cannot occur in its values).
 *
 * A template matches the beginning of a key: "out/{date}/" matches
 * "out/2026-11-25/part-1.json.gz", and whatever follows is free.  Names are
 * lower-case identifiers, each used once; '{' and '}' cannot occur in the
 * literal text.  Matching is deterministic and linear in the key's length.
 *
 * Pure C, no allocation and no backend calls: a KeyTemplate points into
 * the text it was parsed from, which must outlive it.
 *
 * IDENTIFICATION
 *	  src/decode/key_template.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_KEY_TEMPLATE_H
#define PIPELINE_KEY_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#define KT_MAX_PARTS	16
#define KT_MAX_NAME		63

typedef enum KtType
{
	KT_TEXT,
	KT_INT,
	KT_YEAR,
	KT_MONTH,
	KT_DAY,
	KT_HOUR,
	KT_MINUTE,
	KT_DATE
} KtType;

typedef struct KtPart
{
	const char *literal;		/* the text before the placeholder */
	size_t		literal_len;
	char		name[KT_MAX_NAME + 1];
	KtType		type;
} KtPart;

typedef struct KeyTemplate
{
	const char *text;
	int			nparts;
	KtPart		parts[KT_MAX_PARTS];
	const char *tail;			/* the text after the last placeholder */
	size_t		tail_len;
} KeyTemplate;

/* Where a part's value is in a key. */
typedef struct KtSpan
{
	size_t		off;
	size_t		len;
} KtSpan;

/*
 * Parse "text".  False, with a message (a full sentence) in err, if it is
 * not a valid template.
 */
extern bool kt_parse(const char *text, KeyTemplate *t, char *err, size_t errlen);

/* "year", "text", ... */
extern const char *kt_type_name(KtType type);

/* The part called "name", or -1. */
extern int	kt_find(const KeyTemplate *t, const char *name);

/*
 * Does key[0..len) begin with the template?  spans[i] (KT_MAX_PARTS of
 * them) then say where each part's value is.
 */
extern bool kt_match(const KeyTemplate *t, const char *key, size_t len, KtSpan *spans);

/*
 * How far a key prefix (a directory of a listing, a listing prefix) goes
 * into the template: -1 if no key that begins with it can match; else the
 * number of leading parts whose values it decides (spans filled for them).
 */
extern int	kt_match_prefix(const KeyTemplate *t, const char *prefix, size_t len,
							KtSpan *spans);

/* Can part i have the value v[0..len) (its text in a key)? */
extern bool kt_value_ok(const KeyTemplate *t, int i, const char *v, size_t len);

/*
 * The key prefix every key has whose first n parts have these values (no
 * check of the values): literal, value, literal, ..., value, and the
 * literal after part n-1.  Returns the length it needs; writes at most
 * outlen bytes, NUL-terminated when they fit.
 */
extern size_t kt_prefix(const KeyTemplate *t, int n, const char *const *values,
						char *out, size_t outlen);

/*
 * A part whose values can be counted: month, day, hour and minute.  True
 * with the range; kt_format_int writes a value as keys hold it ("07").
 */
extern bool kt_domain(KtType type, int *lo, int *hi);
extern int	kt_format_int(KtType type, long long v, char *out, size_t outlen);

#endif							/* PIPELINE_KEY_TEMPLATE_H */
