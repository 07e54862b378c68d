/*-------------------------------------------------------------------------
 *
 * export_template.c
 *	  Placeholders in a report's export URI, filled from the run's time:
 *
 *	    export => 's3://lake/out/devicebattery/dt={date}/'
 *	    export => 's3://lake/out/{year}/{month}/{day}/{hour}/battery.json.gz'
 *
 * The placeholders of key templates (decode/key_template.h), each usable
 * any number of times: {date} (2026-11-25), {year} (2026), {month} (11), {day} (25), {hour}
 * (13) and {minute} (05) of the time the run started, in UTC, as
 * Firehose names its directories.  Nothing else: a placeholder whose
 * value would come from data (a key, a record) could carry "/" or ".."
 * into the key, and the run's time cannot.
 *
 * When: the URI is filled while the run's transaction stages the export
 * (report/run.c), and the filled URI is what the outbox task and
 * pipeline.runs.export_uri hold; a task repeated after a crash writes the
 * same object.  Checked at create_report / alter_report: placeholders
 * only in the key, only those above, written bare ({date}, not
 * {date:text}), and no "." or ".." segment and no empty one ("a//b") in a
 * templated key.
 *
 * IDENTIFICATION
 *	  src/report/export_template.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/datetime.h"

#include "report/export_template.h"
#include "s3/s3.h"

#define EXPORT_TEMPLATE_NAMES "{date}, {year}, {month}, {day}, {hour} and {minute}"

typedef enum TplResult
{
	TPL_OK,						/* placeholders, all known (or none) */
	TPL_UNCLOSED,				/* "{" without its "}" */
	TPL_STRAY,					/* "}" without a "{" */
	TPL_UNKNOWN,				/* a name that is not one of ours */
	TPL_TYPED					/* {date:text} */
} TplResult;

/*
 * Walk a templated key: append it to out with its placeholders filled from
 * tm (when out is not NULL), or say what is wrong with it; the offending
 * placeholder's name in name[] (NAMEDATALEN bytes).  A placeholder may be
 * used any number of times.
 */
static TplResult
expand(const char *key, const struct pg_tm *tm, StringInfo out, char *name)
{
	const char *p = key;

	while (*p)
	{
		const char *close;
		size_t		len;
		const char *colon;

		if (*p == '}')
			return TPL_STRAY;
		if (*p != '{')
		{
			if (out)
				appendStringInfoChar(out, *p);
			p++;
			continue;
		}
		close = strpbrk(p + 1, "{}");
		if (close == NULL || *close == '{')
			return TPL_UNCLOSED;
		len = close - (p + 1);
		colon = memchr(p + 1, ':', len);
		strlcpy(name, p + 1, Min((colon ? (size_t) (colon - (p + 1)) : len) + 1, NAMEDATALEN));
		if (strcmp(name, "date") != 0 && strcmp(name, "year") != 0 && strcmp(name, "month") != 0 &&
			strcmp(name, "day") != 0 && strcmp(name, "hour") != 0 && strcmp(name, "minute") != 0)
			return TPL_UNKNOWN;
		if (colon)
			return TPL_TYPED;
		if (out)
		{
			if (strcmp(name, "date") == 0)
				appendStringInfo(out, "%04d-%02d-%02d", tm->tm_year, tm->tm_mon, tm->tm_mday);
			else if (strcmp(name, "year") == 0)
				appendStringInfo(out, "%04d", tm->tm_year);
			else if (strcmp(name, "month") == 0)
				appendStringInfo(out, "%02d", tm->tm_mon);
			else if (strcmp(name, "day") == 0)
				appendStringInfo(out, "%02d", tm->tm_mday);
			else if (strcmp(name, "hour") == 0)
				appendStringInfo(out, "%02d", tm->tm_hour);
			else
				appendStringInfo(out, "%02d", tm->tm_min);
		}
		p = close + 1;
	}
	return TPL_OK;
}

/* Does the key have a ".", ".." or empty segment (before its last '/')? */
static const char *
bad_segment(const char *key)
{
	const char *seg = key;

	for (;;)
	{
		const char *slash = strchr(seg, '/');
		size_t		len = slash ? (size_t) (slash - seg) : strlen(seg);

		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return "a \".\" or \"..\" segment";
		if (len == 0 && slash != NULL)
			return "an empty segment (\"//\", or a leading \"/\")";
		if (slash == NULL)
			return NULL;
		seg = slash + 1;
	}
}

void
export_template_check(const char *uri)
{
	char	   *bucket;
	char	   *key;
	char		name[NAMEDATALEN];
	const char *bad;

	if (uri == NULL || strpbrk(uri, "{}") == NULL)
		return;
	s3_parse_uri(uri, &bucket, &key);
	if (strpbrk(bucket, "{}") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid export URI \"%s\"", uri),
				 errdetail("Placeholders may only be in the key, not in the bucket."),
				 errhint("Name the bucket as it is, e.g. s3://lake/out/dt={date}/.")));
	switch (expand(key, NULL, NULL, name))
	{
		case TPL_OK:
			break;
		case TPL_UNCLOSED:
		case TPL_STRAY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid export URI \"%s\"", uri),
					 errdetail("A \"{\" or \"}\" is not part of a placeholder."),
					 errhint("Placeholders of export URIs are " EXPORT_TEMPLATE_NAMES ": the run's time in UTC.")));
			break;
		case TPL_UNKNOWN:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown placeholder \"{%s}\" in export URI \"%s\"", name, uri),
					 errhint("Placeholders of export URIs are " EXPORT_TEMPLATE_NAMES ": the run's time in UTC.")));
			break;
		case TPL_TYPED:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("placeholder \"{%s}\" of export URI \"%s\" cannot have a type", name, uri),
					 errhint("Write it bare, as {%s}: its value is always the run's %s.", name, name)));
			break;
	}
	if ((bad = bad_segment(key)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid export URI \"%s\"", uri),
				 errdetail("A templated key cannot have %s.", bad),
				 errhint("Write the key as S3 lists it, e.g. s3://lake/out/dt={date}/.")));
}

char *
export_template_fill(const char *uri, TimestampTz when)
{
	char	   *bucket;
	char	   *key;
	char		name[NAMEDATALEN];
	struct pg_tm tm;
	fsec_t		fsec;
	StringInfoData out;

	if (uri == NULL || strpbrk(uri, "{}") == NULL)
		return (char *) uri;
	s3_parse_uri(uri, &bucket, &key);
	if (strpbrk(bucket, "{}") != NULL || expand(key, NULL, NULL, name) != TPL_OK)
		return (char *) uri;	/* not a template of ours: the literal key */
	if (timestamp2tm(when, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	initStringInfo(&out);
	appendStringInfo(&out, "s3://%s/", bucket);
	(void) expand(key, &tm, &out, name);
	return out.data;
}
