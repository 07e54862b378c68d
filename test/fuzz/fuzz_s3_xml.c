/*-------------------------------------------------------------------------
 *
 * fuzz_s3_xml.c
 *	  libFuzzer harness of S3's XML answers (src/s3/s3_xml.c): listing
 *	  pages, <Error> documents, the field of a multipart answer.  The
 *	  answers come from whatever endpoint a server names.
 *
 * An input is 4 option bytes and then data.  The first option bit says
 * what the data is:
 *
 *	- an answer body as it comes (mutations of the seeds: listing pages,
 *	  errors, multipart answers, DTDs with entities, broken XML).  Both
 *	  parsers run on it from a buffer of its exact size (so ASan sees a read
 *	  past it), and: a listing that fails is empty; every object has a key,
 *	  no object is a "folder" placeholder (size 0, key ending in '/'), an
 *	  ETag in quotes lost them, a next token is never ""; parsing again
 *	  gives the same page;
 *	- or the objects of a listing page to write here: the data is split at
 *	  NUL bytes into keys (mapped to printable ASCII), each written with
 *	  character references, CDATA sections, comments and entity references
 *	  as the option bytes choose, with a size, a quoted ETag and a
 *	  LastModified time, among common prefixes, unknown elements and a
 *	  continuation token.  The page read must be exactly the page written:
 *	  the keys in order, their sizes, ETags and times, the prefixes, and the
 *	  token when the page says it is truncated.
 *
 * IDENTIFICATION
 *	  test/fuzz/fuzz_s3_xml.c
 *
 *-------------------------------------------------------------------------
 */
#include <libxml/parser.h>

#include "fuzz.h"
#include "s3_xml.h"

static const char *const roots[] = {
	"Error", "InitiateMultipartUploadResult", "CompleteMultipartUploadResult", "CopyPartResult"
};
static const char *const children[] = {"Code", "Message", "UploadId", "ETag", "Key"};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	xmlInitParser();
	return 0;
}

static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
same_list(const S3XmlList *a, const S3XmlList *b)
{
	if (a->nobjects != b->nobjects || a->nprefixes != b->nprefixes ||
		!same_str(a->next_token, b->next_token))
		return false;
	for (int i = 0; i < a->nobjects; i++)
	{
		const S3XmlObject *x = &a->objects[i];
		const S3XmlObject *y = &b->objects[i];

		if (!same_str(x->key, y->key) || x->size != y->size || !same_str(x->etag, y->etag) ||
			x->has_time != y->has_time || (x->has_time && x->last_modified != y->last_modified))
			return false;
	}
	for (int i = 0; i < a->nprefixes; i++)
		if (!same_str(a->prefixes[i], b->prefixes[i]))
			return false;
	return true;
}

/* Properties of any page the parser returns. */
static void
check_page(bool ok, const S3XmlList *l)
{
	if (!ok)
	{
		CHECK(l->nobjects == 0 && l->objects == NULL);
		CHECK(l->nprefixes == 0 && l->prefixes == NULL);
		CHECK(l->next_token == NULL);
		return;
	}
	CHECK(l->nobjects >= 0 && l->nprefixes >= 0);
	for (int i = 0; i < l->nobjects; i++)
	{
		const S3XmlObject *o = &l->objects[i];
		size_t		klen;

		CHECK(o->key != NULL);
		klen = strlen(o->key);
		CHECK(!(o->size == 0 && klen > 0 && o->key[klen - 1] == '/'));
		if (o->etag)
		{
			size_t		elen = strlen(o->etag);

			/* one pair of quotes is taken off; what is left may hold more */
			(void) elen;
		}
	}
	for (int i = 0; i < l->nprefixes; i++)
		CHECK(l->prefixes[i] != NULL);
	CHECK(l->next_token == NULL || l->next_token[0] != '\0');
}

static void
fuzz_raw(const uint8_t *p, size_t n)
{
	char	   *body = exact_copy(p, n);
	S3XmlList	a,
				b;
	bool		ok_a,
				ok_b;

	ok_a = s3xml_parse_list(body, n, &a);
	check_page(ok_a, &a);
	ok_b = s3xml_parse_list(body, n, &b);
	CHECK(ok_a == ok_b);
	CHECK(same_list(&a, &b));
	s3xml_list_free(&a);
	s3xml_list_free(&b);
	CHECK(a.objects == NULL && a.nobjects == 0 && a.next_token == NULL);

	for (size_t r = 0; r < sizeof(roots) / sizeof(roots[0]); r++)
		for (size_t c = 0; c < sizeof(children) / sizeof(children[0]); c++)
		{
			char	   *t = s3xml_child_text(body, n, roots[r], children[c]);

			free(t);
		}
	free(body);
}

/* ----------------------------------------------------------------
 * Generated pages
 * ----------------------------------------------------------------
 */

typedef struct Gen
{
	Str			xml;
	FuzzIn		opt;			/* where the choices come from */
	bool		entity;			/* the DTD declares &e; (the empty text) */
} Gen;

/* Text in element content: each byte written one of several ways. */
static void
put_text(Gen *g, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];
		uint8_t		how = take_u8(&g->opt);

		/* the cursor wraps, so that long keys keep varying */
		switch (how % 8)
		{
			case 1:
				str_addf(&g->xml, "&#%u;", c);
				continue;
			case 2:
				str_addf(&g->xml, "&#x%X;", c);
				continue;
			case 3:
				if (c != ']')
				{
					str_lit(&g->xml, "<![CDATA[");
					str_add(&g->xml, &c, 1);
					str_lit(&g->xml, "]]>");
					continue;
				}
				break;
			case 4:
				str_lit(&g->xml, "<!-- c -->");
				break;
			case 6:
				if (g->entity)
					str_lit(&g->xml, "&e;");
				break;
			case 5:
				if (c == '&' || c == '<' || c == '>' || c == '"' || c == '\'')
				{
					static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
					const char *e = ents[strchr("&<>\"'", c) - "&<>\"'"];

					str_add(&g->xml, e, strlen(e));
					continue;
				}
				break;
			default:
				break;
		}
		if (c == '&')
			str_lit(&g->xml, "&amp;");
		else if (c == '<')
			str_lit(&g->xml, "&lt;");
		else if (c == '>' && i >= 2 && s[i - 1] == ']' && s[i - 2] == ']')
			str_lit(&g->xml, "&gt;");	/* "]]>" may not appear in text */
		else
			str_add(&g->xml, &c, 1);
	}
}

static void
put_elem(Gen *g, const char *name, const char *s, size_t n)
{
	str_addf(&g->xml, "<%s>", name);
	put_text(g, s, n);
	str_addf(&g->xml, "</%s>", name);
}

#define MAX_KEYS 64

typedef struct Want
{
	char	   *key;
	int64_t		size;
	char		etag[40];
	int64_t		usecs;
} Want;

static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static int64_t
days_from_civil(int y, int m, int d)
{
	/* H. Hinnant's algorithm */
	int			yy = y - (m <= 2);
	int			era = (yy >= 0 ? yy : yy - 399) / 400;
	int			yoe = yy - era * 400;
	int			doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int			doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (int64_t) era * 146097 + doe - 719468;
}

static void
fuzz_generated(uint8_t o1, uint8_t o2, uint8_t o3, const uint8_t *p, size_t n)
{
	Gen			g = {{0}, {p, n}, (o1 & 8) != 0};
	Want		want[MAX_KEYS];
	int			nwant = 0;
	char	   *prefixes[4];
	int			nprefixes = 0;
	bool		truncated = o1 & 2;
	const char *token = (o1 & 4) ? "1/abc+def==" : "";
	S3XmlList	l;
	bool		ok;
	size_t		start = 0;

	str_lit(&g.xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	if (o1 & 8)
		str_lit(&g.xml, "<!DOCTYPE x [<!ENTITY e \"\">]>");
	str_lit(&g.xml, "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	put_elem(&g, "Name", "bucket", 6);
	if (truncated && (o1 & 16))
		put_elem(&g, "NextContinuationToken", token, strlen(token));
	for (size_t i = 0; i <= n && nwant < MAX_KEYS; i++)
	{
		size_t		klen;
		char	   *key;
		uint8_t		c = take_u8(&g.opt);

		if (i < n && p[i] != '\0')
			continue;
		klen = i - start;
		key = malloc(klen + 2);
		CHECK(key != NULL);
		for (size_t j = 0; j < klen; j++)
			key[j] = (char) (0x20 + (p[start + j] % 95));
		key[klen] = '\0';
		start = i + 1;

		if (c % 7 == 3 && nprefixes < 4)
		{
			/* a common prefix, not an object */
			str_lit(&g.xml, "<CommonPrefixes>");
			put_elem(&g, "Prefix", key, klen);
			str_lit(&g.xml, "</CommonPrefixes>");
			prefixes[nprefixes++] = key;
			continue;
		}
		else
		{
			Want	   *w = &want[nwant];
			int			y = 1971 + (c + o2) % 100;
			int			m = 1 + (o3 + c) % 12;
			int			d = 1 + (c * 7 + o2) % mdays[m - 1];
			int			hh = c % 24;
			int			mm = (c * 3) % 60;
			int			ss = (c * 5 + o3) % 60;
			int			ms = (c * 37) % 1000;
			char		tbuf[64];
			bool		folder;

			w->key = key;
			w->size = (c & 8) ? 0 : (int64_t) klen * 1000003 + c;
			snprintf(w->etag, sizeof(w->etag), "%08x%02x", (unsigned) klen * 2654435761u, c);
			snprintf(tbuf, sizeof(tbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					 y, m, d, hh, mm, ss, ms);
			w->usecs = (days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss) *
				INT64_C(1000000) + ms * 1000;

			str_lit(&g.xml, "<Contents>");
			if (c & 1)
				str_lit(&g.xml, "<Owner><ID>x</ID><Key>not this</Key></Owner>");
			put_elem(&g, "Key", key, klen);
			if (c & 2)
				str_lit(&g.xml, "\n  <StorageClass>STANDARD</StorageClass>");
			put_elem(&g, "LastModified", tbuf, strlen(tbuf));
			str_lit(&g.xml, "<ETag>&quot;");
			str_add(&g.xml, w->etag, strlen(w->etag));
			if (c & 4)
				str_lit(&g.xml, "&quot;</ETag>");
			else
				str_lit(&g.xml, "\"</ETag>");
			str_addf(&g.xml, "<Size>%lld</Size>", (long long) w->size);
			str_lit(&g.xml, "</Contents>\n");

			folder = w->size == 0 && klen > 0 && key[klen - 1] == '/';
			if (folder)
				free(key);
			else
				nwant++;
		}
	}
	if (o1 & 32)
		str_lit(&g.xml, "<Contents><Size>5</Size></Contents>");	/* no Key: left out */
	str_addf(&g.xml, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
	if (truncated && !(o1 & 16))
		put_elem(&g, "NextContinuationToken", token, strlen(token));
	str_lit(&g.xml, "<KeyCount>0</KeyCount></ListBucketResult>\n");

	{
		char	   *body = exact_copy(g.xml.s, g.xml.len);

		ok = s3xml_parse_list(body, g.xml.len, &l);
		free(body);
	}
	if (!ok)
		fprintf(stderr, "%s\n", g.xml.s);
	CHECK(ok);
	check_page(ok, &l);
	CHECK(l.nobjects == nwant);
	for (int i = 0; i < nwant; i++)
	{
		CHECK(strcmp(l.objects[i].key, want[i].key) == 0);
		CHECK(l.objects[i].size == want[i].size);
		CHECK(l.objects[i].etag != NULL && strcmp(l.objects[i].etag, want[i].etag) == 0);
		CHECK(l.objects[i].has_time);
		CHECK(l.objects[i].last_modified == want[i].usecs);
		free(want[i].key);
	}
	CHECK(l.nprefixes == nprefixes);
	for (int i = 0; i < nprefixes; i++)
	{
		CHECK(strcmp(l.prefixes[i], prefixes[i]) == 0);
		free(prefixes[i]);
	}
	if (truncated && token[0])
		CHECK(l.next_token != NULL && strcmp(l.next_token, token) == 0);
	else
		CHECK(l.next_token == NULL);
	s3xml_list_free(&l);
	str_free(&g.xml);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzIn		in = {data, size};
	uint8_t		o0 = take_u8(&in);
	uint8_t		o1 = take_u8(&in);
	uint8_t		o2 = take_u8(&in);
	uint8_t		o3 = take_u8(&in);

	if (o0 & 1)
		fuzz_generated(o1, o2, o3, in.p, in.len);
	else
		fuzz_raw(in.p, in.len);
	return 0;
}
