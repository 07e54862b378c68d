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

/*
 * A scan's data buffer is one palloc of the buffer size plus the JSON
 * reader's padding (64 bytes), so neither pipeline.read_buffer_size nor
 * pipeline.max_record_size may exceed MaxAllocSize less that: 1 GB - 1 kB
 * and 1023 MB.
 */
#define PIPELINE_MAX_BUFFER_KB	(1024 * 1024 - 1)
#define PIPELINE_MAX_RECORD_MB	1023

/* fdw/scan.c */
extern int	pipeline_read_buffer_kb;
extern int	pipeline_prefetch;
extern int	pipeline_max_record_mb;

#endif							/* PIPELINE_H */
