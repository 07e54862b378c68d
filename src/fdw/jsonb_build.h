/*-------------------------------------------------------------------------
 *
 * jsonb_build.h
 *	  A jsonb datum from JSON text the reader has checked (no second parse).
 *
 * src/fdw/jsonb_build.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_JSONB_BUILD_H
#define PIPELINE_JSONB_BUILD_H

/*
 * The jsonb datum jsonb_in would make of s[0..len), or false when jsonb_in
 * must decide (an error to report, or a case left to it).
 */
extern bool jsonb_from_checked_json(const char *s, size_t len, Datum *d);

#endif							/* PIPELINE_JSONB_BUILD_H */
