/*-------------------------------------------------------------------------
 *
 * backend_shim.h
 *	  What test/fuzz/backend_shim.c adds to the backend functions it
 *	  provides outside the server.
 *
 * IDENTIFICATION
 *	  test/fuzz/backend_shim.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_BACKEND_SHIM_H
#define PIPELINE_BACKEND_SHIM_H

/* Free everything palloc'd since the last reset (a context reset). */
extern void shim_reset(void);

#endif							/* PIPELINE_BACKEND_SHIM_H */
