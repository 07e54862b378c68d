/*-------------------------------------------------------------------------
 *
 * import_csv.h
 *	  IMPORT FOREIGN SCHEMA of CSV objects: the records of a sampled
 *	  object handed to schema inference.
 *
 * IDENTIFICATION
 *	  src/fdw/import_csv.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_IMPORT_CSV_H
#define PIPELINE_IMPORT_CSV_H

#include "lib/stringinfo.h"

#include "decode/infer.h"

/* How the CSV objects are written (the table options they will get). */
typedef struct ImportCsv
{
	char		delimiter;
	char		quote;
	const char *header;			/* "true", "false" or "skip" */
	const char *null_string;
} ImportCsv;

/*
 * Feed the records of one object's decoded bytes to inf, up to *left
 * records.  first_header: the header of the first object sampled (empty
 * until then; kept in the caller's memory context), so that an object
 * whose header differs is not counted.  Returns false if the object was
 * not sampled for that reason.
 */
extern bool import_sample_csv(const char *data, size_t len, bool whole, Infer *inf, int *left,
							  const ImportCsv *csv, StringInfo first_header);

#endif							/* PIPELINE_IMPORT_CSV_H */
