/*-------------------------------------------------------------------------
 *
 * sqs_visibility.c
 *	  ChangeMessageVisibilityBatch: messages handed back to the queue at
 *	  once (visibility 0, for another consumer) or kept invisible longer
 *	  (a worker that holds them until their work is settled).
 *
 * IDENTIFICATION
 *	  src/s3/sqs_visibility.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "utils/memutils.h"

#include "s3/sqs.h"
#include "s3/sqs_int.h"

/*
 * sqs_change_visibility_batch: set the visibility timeout of up to 10
 * messages (by receipt handle) to "seconds" from now.  Returns how many
 * changed; *failed gets, for each receipt that did not, its index in
 * "receipts" and SQS's code ("index:Code", e.g. "2:ReceiptHandleIsInvalid":
 * the message is no longer ours).  On failure of the whole request, -1
 * and *error.  Waits for the answer (on the latch).
 */
int
sqs_change_visibility_batch(AwsClient *c, const char *queue_url, List *receipts, int seconds,
							List **failed, char **error)
{
	json_t	   *entries = json_array();
	json_t	   *body;
	HttpTransfer *x;
	ListCell   *lc;
	volatile int changed = -1;

	Assert(list_length(receipts) <= 10);
	*failed = NIL;
	*error = NULL;
	foreach(lc, receipts)
		json_array_append_new(entries,
							  json_pack("{s:s, s:s, s:i}",
										"Id", psprintf("m%d", foreach_current_index(lc)),
										"ReceiptHandle", (char *) lfirst(lc),
										"VisibilityTimeout", seconds));
	body = json_pack("{s:s, s:o}", "QueueUrl", queue_url, "Entries", entries);
	if (body == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building an SQS request")));
	x = sqs_start(c, queue_url, "ChangeMessageVisibilityBatch", body);
	PG_TRY();
	{
		if (!http_wait_done(x) || http_info(x)->status != 200)
			*error = sqs_error(x);
		else
		{
			size_t		len;
			const char *text = http_body(x, &len);
			json_t	   *doc = json_loadb(text, len, 0, NULL);
			json_t	   *fails;
			size_t		i;

			if (doc == NULL)
				*error = pstrdup("the answer to ChangeMessageVisibilityBatch is not JSON");
			else
			{
				fails = json_object_get(doc, "Failed");
				for (i = 0; json_is_array(fails) && i < json_array_size(fails); i++)
				{
					json_t	   *f = json_array_get(fails, i);
					const char *id = json_string_value(json_object_get(f, "Id"));
					const char *code = json_string_value(json_object_get(f, "Code"));

					if (id && id[0] == 'm')
						*failed = lappend(*failed, psprintf("%d:%s", atoi(id + 1),
															code ? code : "?"));
				}
				changed = list_length(receipts) - list_length(*failed);
				json_decref(doc);
			}
		}
	}
	PG_FINALLY();
	{
		http_finish(x);
	}
	PG_END_TRY();
	return changed;
}
