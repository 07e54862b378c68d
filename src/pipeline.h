/*-------------------------------------------------------------------------
 *
 * pipeline.h
 *	  Settings shared across the extension's modules.
 *
 * IDENTIFICATION
 *	  src/pipeline.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_H
#define PIPELINE_H

/* fdw/scan.c */
extern int	pipeline_read_buffer_kb;
extern int	pipeline_prefetch;
extern int	pipeline_max_record_mb;

#endif							/* PIPELINE_H */
