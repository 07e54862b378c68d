/*-------------------------------------------------------------------------
 *
 * export_template.h
 *	  Placeholders in a report's export URI ("s3://lake/out/dt={date}/"),
 *	  filled from the run's time.
 *
 * IDENTIFICATION
 *	  src/report/export_template.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_EXPORT_TEMPLATE_H
#define PIPELINE_EXPORT_TEMPLATE_H

#include "datatype/timestamp.h"

/*
 * Check an export URI at create_report / alter_report: placeholders only
 * in the key, only the known ones, no ".." segment or empty segment; an
 * error with a hint otherwise.  A URI without '{' is left to the caller.
 */
extern void export_template_check(const char *uri);

/*
 * The URI with its placeholders filled from "when" (UTC), or the URI
 * itself when it has none (or is not a valid template: a report defined
 * before templates existed keeps its literal key).
 */
extern char *export_template_fill(const char *uri, TimestampTz when);

#endif							/* PIPELINE_EXPORT_TEMPLATE_H */
