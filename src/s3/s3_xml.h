/*-------------------------------------------------------------------------
 *
 * s3_xml.h
 *	  S3's XML answers read with libxml2: ListObjectsV2 pages, <Error>
 *	  documents, and the one field of a multipart answer (UploadId, ETag).
 *
 * Pure C on libxml2 (no backend calls, malloc'd memory), so that the
 * fuzzer (test/fuzz/fuzz_s3_xml.c) runs it as the server does: nothing of
 * libxml2's is alive when these functions return, and backend callers
 * copy what they need (in a PG_TRY that frees the rest) before they can
 * raise an error.
 *
 * IDENTIFICATION
 *	  src/s3/s3_xml.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_S3_XML_H
#define PIPELINE_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One <Contents> of a listing page. */
typedef struct S3XmlObject
{
	char	   *key;			/* never NULL */
	int64_t		size;			/* -1 if not given */
	char	   *etag;			/* without the quotes; NULL if not given */
	bool		has_time;		/* LastModified was an ISO-8601 time */
	int64_t		last_modified;	/* microseconds since 1970-01-01 UTC */
} S3XmlObject;

/* A ListObjectsV2 page, in document order. */
typedef struct S3XmlList
{
	S3XmlObject *objects;
	int			nobjects;
	char	  **prefixes;		/* CommonPrefixes/Prefix */
	int			nprefixes;
	char	   *next_token;		/* NULL unless IsTruncated is "true" and
								 * NextContinuationToken is not empty */
} S3XmlList;

/*
 * Parse a listing page into *out (zeroed first).  <Contents> without a Key
 * and "folder" placeholders (size 0, key ending in '/') are left out.
 * Returns false if the body is not XML (or memory ran out): *out is then
 * empty.  Free with s3xml_list_free().
 */
extern bool s3xml_parse_list(const char *body, size_t len, S3XmlList *out);
extern void s3xml_list_free(S3XmlList *list);

/*
 * The text of element "child" of the document's root element, if the root
 * is named "root": malloc'd, "" for an empty element.  NULL if the body is
 * not XML, the root has another name, or it has no such child.
 */
extern char *s3xml_child_text(const char *body, size_t len, const char *root,
							  const char *child);

#endif							/* PIPELINE_S3_XML_H */
