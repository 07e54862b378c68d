/*-------------------------------------------------------------------------
 *
 * s3_xml.c
 *	  S3's XML answers read with libxml2: listing pages, errors, multipart
 *	  answers.
 *
 * The answers come from whatever endpoint a server names, so they are
 * bytes from outside: parsed without network access, and everything that
 * is kept is copied out of the document before it is freed.  Pure C on
 * libxml2 (malloc'd memory, no backend calls): see s3_xml.h.
 *
 * IDENTIFICATION
 *	  src/s3/s3_xml.c
 *
 *-------------------------------------------------------------------------
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "decode/iso8601.h"
#include "s3/s3_xml.h"

static xmlDocPtr
xml_parse(const char *buf, size_t len)
{
	if (len == 0 || len > INT_MAX)
		return NULL;
	return xmlReadMemory(buf, (int) len, NULL, NULL,
						 XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static xmlNodePtr
xml_child(xmlNodePtr parent, const char *name)
{
	xmlNodePtr	n;

	if (parent == NULL)
		return NULL;
	for (n = parent->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *) n->name, name) == 0)
			return n;
	return NULL;
}

/*
 * Text of a child element, malloc'd ("" if it has none); NULL if there is
 * no such child.  *oom is set if memory ran out.
 */
static char *
xml_child_text(xmlNodePtr parent, const char *name, bool *oom)
{
	xmlNodePtr	n = xml_child(parent, name);
	xmlChar    *s;
	char	   *r;

	if (n == NULL)
		return NULL;
	s = xmlNodeGetContent(n);
	r = strdup(s ? (const char *) s : "");
	if (s)
		xmlFree(s);
	if (r == NULL)
		*oom = true;
	return r;
}

/* Strip the quotes S3 puts around ETags (in place). */
static void
unquote_etag(char *etag)
{
	size_t		len = strlen(etag);

	if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"')
	{
		memmove(etag, etag + 1, len - 2);
		etag[len - 2] = '\0';
	}
}

/* One <Contents>: false if it is to be left out (or memory ran out). */
static bool
list_object(xmlNodePtr n, S3XmlObject *o, bool *oom)
{
	char	   *size;
	char	   *time;
	Iso8601		t;

	memset(o, 0, sizeof(*o));
	o->key = xml_child_text(n, "Key", oom);
	if (o->key == NULL)
		return false;
	size = xml_child_text(n, "Size", oom);
	o->size = size ? strtoll(size, NULL, 10) : -1;
	free(size);
	o->etag = xml_child_text(n, "ETag", oom);
	if (o->etag)
		unquote_etag(o->etag);
	time = xml_child_text(n, "LastModified", oom);
	if (time && iso8601_parse(time, strlen(time), &t))
	{
		o->has_time = true;
		o->last_modified = iso8601_epoch_usecs(&t);
	}
	free(time);
	/* a "folder" placeholder object holds no records */
	if (*oom || (o->size == 0 && o->key[0] && o->key[strlen(o->key) - 1] == '/'))
	{
		free(o->key);
		free(o->etag);
		return false;
	}
	return true;
}

/* Append to a growing array of elements of "size" bytes. */
static void *
grow(void *array, int n, size_t size, bool *oom)
{
	void	   *a;

	/* capacities are the powers of two */
	if (n > 0 && (n & (n - 1)) != 0)
		return array;
	a = realloc(array, (n > 0 ? 2 * (size_t) n : 1) * size);
	if (a == NULL)
		*oom = true;
	return a ? a : array;
}

bool
s3xml_parse_list(const char *body, size_t len, S3XmlList *out)
{
	xmlDocPtr	doc;
	xmlNodePtr	root;
	xmlNodePtr	n;
	bool		truncated = false;
	bool		oom = false;

	memset(out, 0, sizeof(*out));
	doc = xml_parse(body, len);
	if (doc == NULL)
		return false;
	root = xmlDocGetRootElement(doc);
	for (n = root ? root->children : NULL; n && !oom; n = n->next)
	{
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *) n->name, "Contents") == 0)
		{
			S3XmlObject o;

			if (!list_object(n, &o, &oom))
				continue;
			out->objects = grow(out->objects, out->nobjects, sizeof(S3XmlObject), &oom);
			if (oom)
			{
				free(o.key);
				free(o.etag);
				break;
			}
			out->objects[out->nobjects++] = o;
		}
		else if (strcmp((const char *) n->name, "CommonPrefixes") == 0)
		{
			char	   *prefix = xml_child_text(n, "Prefix", &oom);

			if (prefix == NULL)
				continue;
			out->prefixes = grow(out->prefixes, out->nprefixes, sizeof(char *), &oom);
			if (oom)
			{
				free(prefix);
				break;
			}
			out->prefixes[out->nprefixes++] = prefix;
		}
		else if (strcmp((const char *) n->name, "IsTruncated") == 0)
		{
			xmlChar    *t = xmlNodeGetContent(n);

			truncated = t && strcmp((const char *) t, "true") == 0;
			if (t)
				xmlFree(t);
		}
	}
	if (truncated && !oom)
	{
		out->next_token = xml_child_text(root, "NextContinuationToken", &oom);
		if (out->next_token && out->next_token[0] == '\0')
		{
			free(out->next_token);
			out->next_token = NULL;
		}
	}
	xmlFreeDoc(doc);
	if (oom)
	{
		s3xml_list_free(out);
		return false;
	}
	return true;
}

void
s3xml_list_free(S3XmlList *list)
{
	for (int i = 0; i < list->nobjects; i++)
	{
		free(list->objects[i].key);
		free(list->objects[i].etag);
	}
	for (int i = 0; i < list->nprefixes; i++)
		free(list->prefixes[i]);
	free(list->objects);
	free(list->prefixes);
	free(list->next_token);
	memset(list, 0, sizeof(*list));
}

char *
s3xml_child_text(const char *body, size_t len, const char *root, const char *child)
{
	xmlDocPtr	doc = xml_parse(body, len);
	xmlNodePtr	r;
	char	   *result = NULL;
	bool		oom = false;

	if (doc == NULL)
		return NULL;
	r = xmlDocGetRootElement(doc);
	if (r && strcmp((const char *) r->name, root) == 0)
		result = xml_child_text(r, child, &oom);
	xmlFreeDoc(doc);
	return result;
}
