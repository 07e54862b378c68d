/*-------------------------------------------------------------------------
 *
 * pipeline.c
 *	  Entry point of the pipeline extension: library initialization.
 *
 * _PG_init defines the settings (util/settings.c) and, when the library is
 * preloaded, the shared memory and the launcher (worker/launcher.c).
 *
 * IDENTIFICATION
 *	  src/pipeline.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "fmgr.h"

#include "util/settings.h"
#include "worker/worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * _PG_init: define the settings, and hook the workers in.  Loaded in the
 * postmaster (through shared_preload_libraries) or in a backend on first
 * use.
 */
void
_PG_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(ERROR,
				(errmsg("could not initialize libcurl")));

	settings_define();

	pipeline_worker_init();
}
