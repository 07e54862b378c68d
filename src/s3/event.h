/*-------------------------------------------------------------------------
 *
 * event.h
 *	  Queue messages -> the S3 objects they announce.
 *
 * IDENTIFICATION
 *	  src/s3/event.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_EVENT_H
#define PIPELINE_EVENT_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* One created object version, as an event announced it. */
typedef struct EventObject
{
	char	   *bucket;
	char	   *key;			/* decoded */
	int64		size;			/* -1 if not given */
	char	   *etag;
	char	   *sequencer;		/* orders events of one key */
	char	   *version_id;
	char	   *event_name;
	TimestampTz event_time;		/* when S3 created it; 0 if not given */
} EventObject;

typedef enum EventKind
{
	EVENT_OBJECTS,				/* objects were created */
	EVENT_IGNORED,				/* a test event, a deletion...: acknowledge */
	EVENT_INVALID				/* not something we understand: dead letter */
} EventKind;

extern EventKind event_parse(const char *body, size_t len, List **objects, char **reason);
/*
 * The version of an object a report counts as processed: its version id,
 * else its sequencer in normal form (sequencer_norm), else its ETag.
 */
extern char *event_object_version(const EventObject *o);

/* A sequencer in the form versions compare in: upper case, no trailing zeros. */
extern char *event_sequencer_norm(const char *sequencer);

#endif							/* PIPELINE_EVENT_H */
