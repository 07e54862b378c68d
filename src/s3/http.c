/*-------------------------------------------------------------------------
 *
 * http.c
 *	  HTTP transfers over libcurl's multi interface, waiting on the latch.
 *
 * libcurl's curl_easy_perform() blocks inside libcurl and never looks at
 * PostgreSQL's interrupts, so a cancelled query would wait for the whole
 * download.  Instead we drive transfers with curl_multi_socket_action():
 * libcurl tells us (socket callback, timer callback) which sockets to watch
 * and when to call it back, and we wait for those sockets together with the
 * process latch in a WaitEventSet.  Signal handlers for cancel, terminate
 * and timeouts set the latch, so CHECK_FOR_INTERRUPTS() runs within
 * milliseconds, never inside a libcurl callback.
 *
 * Callbacks run inside libcurl and must not ereport (a longjmp through
 * libcurl corrupts it) or palloc (which may ereport): they only copy bytes
 * into malloc'd buffers and record state.  All errors are raised by the
 * callers, after libcurl has returned.
 *
 * IDENTIFICATION
 *	  src/s3/http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "lib/ilist.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "s3/http.h"
#include "util/settings.h"

/* Largest body we collect in memory (error answers, listings, SQS). */
#define HTTP_MAX_COLLECT	(64 * 1024 * 1024)

/* Longest single wait, so that a lost wakeup can never stall us for long. */
#define HTTP_MAX_WAIT_MS	1000

typedef struct HttpSocket
{
	curl_socket_t fd;
	int			what;			/* CURL_POLL_IN / OUT / INOUT */
} HttpSocket;

struct HttpClient
{
	CURLM	   *multi;
	MemoryContext mcxt;
	MemoryContextCallback cleanup;
	dlist_head	transfers;

	/* sockets libcurl asked us to watch (malloc'd, see socket_cb) */
	HttpSocket *sockets;
	int			nsockets;
	int			maxsockets;
	bool		sockets_changed;
	WaitEventSet *wes;

	/* libcurl's timer: call back at timer_due, or never if timer_due == 0 */
	TimestampTz timer_due;
	bool		timer_set;
};

struct HttpTransfer
{
	dlist_node	node;
	HttpClient *client;
	CURL	   *easy;
	struct curl_slist *headers;
	char		errbuf[CURL_ERROR_SIZE];

	bool		done;
	CURLcode	result;
	bool		headers_done;
	HttpResponseInfo info;

	/* body: a window [rpos, wpos) of a malloc'd buffer */
	char	   *buf;
	size_t		cap;
	size_t		rpos;
	size_t		wpos;
	bool		streaming;
	bool		paused;
	bool		overflow;
	uint64		received;
};

static void http_client_cleanup(void *arg);
static void transfer_fail(HttpTransfer *x, const char *msg) pg_attribute_noreturn();
static bool http_drive(HttpClient *client, long max_wait_ms);

/*
 * socket_cb: libcurl tells us which sockets to watch for what.  Only
 * records the wish; the WaitEventSet is rebuilt before the next wait.
 */
static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	HttpClient *c = (HttpClient *) userp;
	int			i;

	for (i = 0; i < c->nsockets; i++)
		if (c->sockets[i].fd == fd)
			break;

	if (what == CURL_POLL_REMOVE)
	{
		if (i < c->nsockets)
		{
			c->sockets[i] = c->sockets[--c->nsockets];
			c->sockets_changed = true;
		}
		return 0;
	}

	if (i == c->nsockets)
	{
		if (c->nsockets == c->maxsockets)
		{
			int			newmax = c->maxsockets ? c->maxsockets * 2 : 8;
			HttpSocket *s = realloc(c->sockets, newmax * sizeof(HttpSocket));

			if (s == NULL)
				return -1;		/* libcurl fails the transfer */
			c->sockets = s;
			c->maxsockets = newmax;
		}
		c->sockets[c->nsockets].fd = fd;
		c->sockets[c->nsockets].what = 0;
		c->nsockets++;
	}
	if (c->sockets[i].what != what)
	{
		c->sockets[i].what = what;
		c->sockets_changed = true;
	}
	return 0;
}

/* timer_cb: libcurl wants to be called back after timeout_ms (-1: never). */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	HttpClient *c = (HttpClient *) userp;

	if (timeout_ms < 0)
		c->timer_set = false;
	else
	{
		c->timer_set = true;
		c->timer_due = GetCurrentTimestamp() + (TimestampTz) timeout_ms * 1000;
	}
	return 0;
}

/*
 * header_cb: pick the response headers we care about (http_header.c,
 * which reads only the "len" bytes libcurl gives: the line need not be
 * NUL-terminated).
 */
static size_t
header_cb(char *line, size_t size, size_t nitems, void *userp)
{
	HttpTransfer *x = (HttpTransfer *) userp;
	size_t		len = size * nitems;

	switch (http_header_parse(&x->info, line, len))
	{
		case HTTP_LINE_STATUS:
			/* a new response (after a 100 Continue, say): start over */
			x->headers_done = false;
			break;
		case HTTP_LINE_END:
			if (x->info.status >= 200)
				x->headers_done = true;
			break;
		case HTTP_LINE_FIELD:
			break;
	}
	return len;
}

/*
 * write_cb: response body bytes.  Streaming transfers of a 2xx answer fill
 * a fixed window and pause when it is full (back-pressure: memory stays
 * flat whatever the object size); everything else is collected whole, up
 * to HTTP_MAX_COLLECT.
 */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userp)
{
	HttpTransfer *x = (HttpTransfer *) userp;
	size_t		n = size * nmemb;
	bool		stream = x->streaming && x->info.status >= 200 && x->info.status < 300;

	if (x->cap - x->wpos < n && x->rpos > 0)
	{
		memmove(x->buf, x->buf + x->rpos, x->wpos - x->rpos);
		x->wpos -= x->rpos;
		x->rpos = 0;
	}
	if (x->cap - x->wpos < n)
	{
		size_t		newcap;
		char	   *nb;

		if (stream && x->wpos > 0)
		{
			x->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
		newcap = Max(x->cap * 2, x->wpos + n);
		if (!stream && newcap > HTTP_MAX_COLLECT)
		{
			x->overflow = true;
			return 0;			/* aborts the transfer */
		}
		nb = realloc(x->buf, newcap);
		if (nb == NULL)
			return 0;
		x->buf = nb;
		x->cap = newcap;
	}
	memcpy(x->buf + x->wpos, ptr, n);
	x->wpos += n;
	x->received += n;
	return n;
}

/*
 * http_client_create: a client whose lifetime is that of "mcxt".
 */
HttpClient *
http_client_create(MemoryContext mcxt)
{
	HttpClient *c = MemoryContextAllocZero(mcxt, sizeof(HttpClient));

	c->mcxt = mcxt;
	dlist_init(&c->transfers);
	c->multi = curl_multi_init();
	if (c->multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create an HTTP client")));
	c->cleanup.func = http_client_cleanup;
	c->cleanup.arg = c;
	MemoryContextRegisterResetCallback(mcxt, &c->cleanup);

	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return c;
}

static void
transfer_free(HttpTransfer *x)
{
	if (x->easy)
	{
		curl_multi_remove_handle(x->client->multi, x->easy);
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
	}
	if (x->headers)
		curl_slist_free_all(x->headers);
	x->headers = NULL;
	free(x->buf);
	x->buf = NULL;
}

/*
 * transfer_fail: free a transfer that http_start could not start, then
 * raise.  It is not in the client's list yet, so nothing is left behind
 * for a client that outlives the error (the worker's).
 */
static void
transfer_fail(HttpTransfer *x, const char *msg)
{
	transfer_free(x);
	pfree(x);
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("%s", msg)));
}

/*
 * http_client_cleanup: memory context reset callback; also the body of
 * http_client_destroy.  Frees everything libcurl allocated.
 */
static void
http_client_cleanup(void *arg)
{
	HttpClient *c = (HttpClient *) arg;
	dlist_mutable_iter iter;

	if (c->multi == NULL)
		return;
	dlist_foreach_modify(iter, &c->transfers)
	{
		HttpTransfer *x = dlist_container(HttpTransfer, node, iter.cur);

		dlist_delete(&x->node);
		transfer_free(x);
	}
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	free(c->sockets);
	c->sockets = NULL;
	c->nsockets = c->maxsockets = 0;
	if (c->wes)
		FreeWaitEventSet(c->wes);
	c->wes = NULL;
}

void
http_client_destroy(HttpClient *client)
{
	http_client_cleanup(client);
}

/*
 * http_start: set up a transfer and hand it to the multi handle.  Nothing
 * is sent until the client is waited on.
 */
HttpTransfer *
http_start(HttpClient *c, const HttpRequest *req)
{
	HttpTransfer *x = MemoryContextAllocZero(c->mcxt, sizeof(HttpTransfer));
	CURL	   *e;
	ListCell   *lc;

	x->client = c;
	x->info.content_length = -1;
	x->streaming = req->stream_buffer > 0;
	x->cap = x->streaming ? req->stream_buffer : 16 * 1024;
	x->buf = malloc(x->cap);
	e = x->easy = curl_easy_init();
	if (x->buf == NULL || e == NULL)
		transfer_fail(x, "out of memory for an HTTP transfer");

	foreach(lc, req->headers)
	{
		struct curl_slist *h = curl_slist_append(x->headers, (char *) lfirst(lc));

		if (h == NULL)
			transfer_fail(x, "out of memory for an HTTP transfer");
		x->headers = h;
	}
	/* never wait for "100 Continue" before sending a body */
	{
		struct curl_slist *h = curl_slist_append(x->headers, "Expect:");

		if (h == NULL)
			transfer_fail(x, "out of memory for an HTTP transfer");
		x->headers = h;
	}

	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);	/* SIGALRM is PostgreSQL's */
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "pipeline/" PIPELINE_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long) pipeline_http_connect_timeout);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long) pipeline_http_timeout);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	if (req->path_as_is)
		curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	if (req->timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);

	if (strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(req->method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body != NULL || strcmp(req->method, "PUT") == 0 ||
		strcmp(req->method, "POST") == 0)
	{
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}

	if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
		transfer_fail(x, "could not start an HTTP transfer");
	/* only now: a transfer in the list is one the caller must finish */
	dlist_push_tail(&c->transfers, &x->node);
	return x;
}

void
http_finish(HttpTransfer *x)
{
	if (x->client->multi != NULL)
	{
		dlist_delete(&x->node);
		transfer_free(x);
	}
	pfree(x);
}

/* Note every transfer libcurl has finished. */
static void
collect_done(HttpClient *c)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(c->multi, &left)) != NULL)
	{
		HttpTransfer *x;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &x);
		x->done = true;
		x->result = msg->data.result;
	}
}

/* Rebuild the WaitEventSet after libcurl changed the sockets it watches. */
static void
rebuild_wait_set(HttpClient *c)
{
	int			i;

	if (c->wes)
		FreeWaitEventSet(c->wes);
	c->wes = NULL;
	c->wes = CreateWaitEventSet(c->mcxt, c->nsockets + 2);
	AddWaitEventToSet(c->wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(c->wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (i = 0; i < c->nsockets; i++)
	{
		uint32		ev = 0;

		if (c->sockets[i].what & CURL_POLL_IN)
			ev |= WL_SOCKET_READABLE;
		if (c->sockets[i].what & CURL_POLL_OUT)
			ev |= WL_SOCKET_WRITEABLE;
		if (ev != 0)
			AddWaitEventToSet(c->wes, ev, c->sockets[i].fd, NULL, NULL);
	}
	c->sockets_changed = false;
}

/*
 * http_drive: wait (at most HTTP_MAX_WAIT_MS) for a socket, the timer or
 * the latch, then let libcurl do what it can.  Interrupts are processed
 * here, outside libcurl.
 */
static bool
http_drive(HttpClient *c, long max_wait_ms)
{
	WaitEvent	events[16];
	long		timeout = Min(max_wait_ms, HTTP_MAX_WAIT_MS);
	int			running;
	int			n;
	int			i;
	bool		latch = false;

	CHECK_FOR_INTERRUPTS();

	if (c->timer_set)
	{
		long		secs;
		int			usecs;
		TimestampTz now = GetCurrentTimestamp();

		if (now >= c->timer_due)
			timeout = 0;
		else
		{
			TimestampDifference(now, c->timer_due, &secs, &usecs);
			timeout = Min(timeout, secs * 1000 + (usecs + 999) / 1000);
		}
	}

	if (timeout == 0 && c->timer_set)
	{
		c->timer_set = false;
		curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		collect_done(c);
		return false;
	}

	if (c->sockets_changed || c->wes == NULL)
		rebuild_wait_set(c);

	n = WaitEventSetWait(c->wes, timeout, events, lengthof(events), PG_WAIT_EXTENSION);
	for (i = 0; i < n; i++)
	{
		if (events[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			latch = true;
		}
		else
		{
			int			flags = 0;

			if (events[i].events & WL_SOCKET_READABLE)
				flags |= CURL_CSELECT_IN;
			if (events[i].events & WL_SOCKET_WRITEABLE)
				flags |= CURL_CSELECT_OUT;
			curl_multi_socket_action(c->multi, events[i].fd, flags, &running);
		}
	}
	if (n == 0 && c->timer_set && GetCurrentTimestamp() >= c->timer_due)
	{
		c->timer_set = false;
		curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	collect_done(c);
	return latch;
}

/* Let a paused streaming transfer continue if its buffer has room. */
static void
maybe_unpause(HttpTransfer *x)
{
	if (x->paused && x->cap - (x->wpos - x->rpos) >= CURL_MAX_WRITE_SIZE)
	{
		x->paused = false;
		/* may call write_cb right away with the data it held back */
		curl_easy_pause(x->easy, CURLPAUSE_CONT);
		collect_done(x->client);
	}
}

bool
http_wait_done(HttpTransfer *x)
{
	while (!x->done)
	{
		maybe_unpause(x);
		if (x->done)
			break;
		http_drive(x->client, HTTP_MAX_WAIT_MS);
	}
	return x->result == CURLE_OK;
}

bool
http_wait_done_until(HttpTransfer *x, TimestampTz deadline)
{
	while (!x->done)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		secs;
		int			usecs;

		if (now >= deadline)
			return false;
		TimestampDifference(now, deadline, &secs, &usecs);
		http_drive(x->client, Min(HTTP_MAX_WAIT_MS, secs * 1000 + usecs / 1000 + 1));
	}
	return true;
}

bool
http_wait_headers(HttpTransfer *x)
{
	while (!x->headers_done && !x->done)
		http_drive(x->client, HTTP_MAX_WAIT_MS);
	return x->headers_done || x->result == CURLE_OK;
}

ssize_t
http_read(HttpTransfer *x, char *dst, size_t len)
{
	size_t		avail;

	for (;;)
	{
		avail = x->wpos - x->rpos;
		if (avail > 0)
			break;
		if (x->paused)
		{
			maybe_unpause(x);
			continue;
		}
		if (x->done)
			return x->result == CURLE_OK ? 0 : -1;
		http_drive(x->client, HTTP_MAX_WAIT_MS);
	}
	if (avail > len)
		avail = len;
	memcpy(dst, x->buf + x->rpos, avail);
	x->rpos += avail;
	if (x->rpos == x->wpos)
		x->rpos = x->wpos = 0;
	maybe_unpause(x);
	return (ssize_t) avail;
}

/*
 * http_wait_any: drive every transfer of the client until one of them is
 * done, the latch is set (a signal, or a wake-up from another backend),
 * or timeout_ms passed.  For callers that wait on several transfers at
 * once, like the worker polling several queues.
 */
void
http_wait_any(HttpClient *c, long timeout_ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	bool		driven = false;

	for (;;)
	{
		dlist_iter	iter;
		long		secs = 0;
		int			usecs = 0;
		TimestampTz now;

		dlist_foreach(iter, &c->transfers)
		{
			HttpTransfer *x = dlist_container(HttpTransfer, node, iter.cur);

			if (x->done)
				return;
		}
		now = GetCurrentTimestamp();
		/* even with no time to wait, let the transfers make progress once */
		if (now >= end && driven)
			return;
		if (now < end)
			TimestampDifference(now, end, &secs, &usecs);
		driven = true;
		if (http_drive(c, secs * 1000 + usecs / 1000))
			return;
	}
}

bool
http_done(const HttpTransfer *x)
{
	return x->done;
}

const HttpResponseInfo *
http_info(const HttpTransfer *x)
{
	return &x->info;
}

const char *
http_body(const HttpTransfer *x, size_t *len)
{
	*len = x->wpos - x->rpos;
	return x->buf ? x->buf + x->rpos : "";
}

const char *
http_error(const HttpTransfer *x)
{
	if (x->overflow)
		return "response too large";
	if (!x->done || x->result == CURLE_OK)
		return NULL;
	return x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result);
}

uint64
http_bytes_received(const HttpTransfer *x)
{
	return x->received;
}

/*
 * http_sleep: wait "ms" on the latch, for retry back-off; interruptible.
 */
void
http_sleep(long ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	for (;;)
	{
		long		secs;
		int			usecs;
		TimestampTz now = GetCurrentTimestamp();

		if (now >= end)
			break;
		TimestampDifference(now, end, &secs, &usecs);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 secs * 1000 + usecs / 1000 + 1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}
