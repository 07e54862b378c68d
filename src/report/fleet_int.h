/*-------------------------------------------------------------------------
 *
 * fleet_int.h
 *	  What the files of the fleet share: claim documents (fleet_claim.c),
 *	  the fleet's S3 client and location (fleet.c), taking claims
 *	  (fleet_take.c), holding them through the commit (fleet_commit.c),
 *	  marking and the heartbeat (fleet_mark.c).
 *
 * IDENTIFICATION
 *	  src/report/fleet_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_FLEET_INT_H
#define PIPELINE_FLEET_INT_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "s3/event.h"
#include "s3/s3.h"
#include "s3/s3_cond.h"

#include "report/tasks.h"

/* A claim object, as written and as read. */
typedef struct Claim
{
	char	   *claim;			/* its own key (a copy under another key is refused) */
	char	   *report;
	char	   *object;			/* s3://bucket/key */
	char	   *version;
	char	   *holder;			/* "server_id/database" */
	char	   *state;			/* running, done, dead, released */
	int			lease;			/* seconds, from the write (S3's Last-Modified) */
	char	   *heartbeat;		/* the holder's clock when it wrote it (ISO 8601) */
	char	   *token;			/* random, one per claim taken: "was this mine?" */
	int64		run;			/* done: the run's id on the holder, else 0 */
	char	   *previous;		/* a takeover: the holder it took over from */
} Claim;

/* How a claim read from S3 stands for us. */
typedef enum ClaimVerdict
{
	CV_TAKE,					/* ours to take (free, expired, released, ours) */
	CV_DONE,					/* processed by its holder */
	CV_DEAD,					/* given up on by its holder (a dead letter there) */
	CV_BUSY						/* a live holder runs it */
} ClaimVerdict;

/* fleet_claim.c */
extern char *fleet_claim_key(const char *prefix, const char *report, const EventObject *o);
extern char *fleet_claim_body(const Claim *c);
extern bool fleet_claim_parse(const char *body, size_t len, Claim *c, char **why);
extern ClaimVerdict fleet_claim_judge(const S3CondAnswer *got, const char *key, const Claim *c,
									  bool parsed, long *wait_ms, char **why);
extern char *fleet_new_token(void);
extern char *fleet_iso_now(void);
extern char *fleet_sign(const char *text);	/* NULL without pipeline.fleet_secret */
extern bool fleet_signature_ok(const char *text, const char *sig);

/* a server's heartbeat object, read back */
typedef struct ServerCount
{
	char	   *report;
	char	   *object;			/* held: the object; else NULL */
	int64		n;				/* ran, gave_up: how many */
} ServerCount;

typedef struct ServerDoc
{
	char	   *holder;
	char	   *server;
	char	   *database;
	int			lease;
	bool		valid;			/* its signature verifies (or no secret is set) */
	List	   *held;			/* of ServerCount (report, object) */
	List	   *ran;			/* of ServerCount (report, n) */
	List	   *gave_up;
	int64		claims;
	int64		takeovers;
} ServerDoc;

extern char *fleet_signed_document(StringInfo core);
extern bool fleet_server_doc_parse(const char *body, size_t len, ServerDoc *d);

/* fleet.c */
extern void fleet_location(char **bucket, char **prefix);
extern AwsClient *fleet_client(MemoryContext cxt);
extern void fleet_record_claim(const Task *t, const char *key, const char *holder,
							   const char *state, int64 run_id, const char *etag,
							   const char *token, bool marked);

/* What one task's claim came to. */
typedef enum WantOutcome
{
	WO_CLAIMED,
	WO_DONE,
	WO_DEAD,
	WO_BUSY,
	WO_FAILED
} WantOutcome;

/* One task's claim: wanted (fleet.c), taken or not (fleet_take.c). */
typedef struct Want
{
	Task	   *task;
	char	   *key;
	char	   *token;
	Claim		doc;
	S3CondCall *call;
	WantOutcome outcome;
	char	   *etag;			/* claimed: the claim's ETag */
	char	   *holder;			/* done, dead, busy: whose */
	int64		run;			/* done: the holder's run */
	long		wait_ms;		/* busy: how long its lease still runs */
	char	   *error;			/* failed */
	TimestampTz written;
} Want;

/* fleet_take.c: the requests for a batch of wants (no SPI) */
extern void fleet_claim_batch(List *wants);

/* fleet_commit.c: a claim taken, held by this transaction until its end */
extern void fleet_hold_claim(const Want *w);


#endif							/* PIPELINE_FLEET_INT_H */
