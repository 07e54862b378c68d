/*
 * test_s3_xml.c -- S3's XML answers (src/s3/s3_xml.c) as a hostile
 * endpoint could write them: a listing page read exactly, "folder"
 * placeholders and entries without a key left out, a DTD's external entity
 * never read (a local file must not become an object key), an entity
 * expansion bomb refused, an <Error> read only from an <Error> root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3_xml.h"
#include "unit.h"

static bool
parse(const char *xml, S3XmlList *l)
{
	return s3xml_parse_list(xml, strlen(xml), l);
}

static void
test_page(void)
{
	const char *xml =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>b</Name><IsTruncated>true</IsTruncated>"
		"<Contents><Owner><Key>not this</Key></Owner><Key>a&amp;b &#xE9;<![CDATA[<x>]]></Key>"
		"<LastModified>1970-01-02T00:00:01.5Z</LastModified>"
		"<ETag>&quot;abc&quot;</ETag><Size>12</Size></Contents>"
		"<Contents><Key>dir/</Key><Size>0</Size></Contents>"
		"<Contents><Size>5</Size></Contents>"
		"<Contents><Key>dir/x</Key><Size>0</Size><LastModified>yesterday</LastModified></Contents>"
		"<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>"
		"<NextContinuationToken>t+1/=</NextContinuationToken></ListBucketResult>";
	S3XmlList	l;

	UNIT_CHECK(parse(xml, &l), "a listing page is read");
	UNIT_CHECK(l.nobjects == 2, "a folder placeholder and an entry without a key are left out (%d)",
			   l.nobjects);
	if (l.nobjects == 2)
	{
		UNIT_CHECK_STR(l.objects[0].key, "a&b \xc3\xa9<x>",
					   "the key is the <Contents>' own, with references and CDATA resolved");
		UNIT_CHECK(l.objects[0].size == 12, "its size");
		UNIT_CHECK_STR(l.objects[0].etag, "abc", "its ETag, without the quotes");
		UNIT_CHECK(l.objects[0].has_time && l.objects[0].last_modified == INT64_C(86401500000),
				   "its time");
		UNIT_CHECK(!l.objects[1].has_time && l.objects[1].size == 0,
				   "an empty object that is not a folder is kept; an odd time is no time");
	}
	UNIT_CHECK(l.nprefixes == 1 && strcmp(l.prefixes[0], "p/") == 0, "the common prefix");
	UNIT_CHECK_STR(l.next_token, "t+1/=", "the continuation token of a truncated page");
	s3xml_list_free(&l);

	UNIT_CHECK(!parse("<ListBucketResult><Contents>", &l) && l.nobjects == 0 && l.objects == NULL,
			   "a cut page is not XML, and the result is empty");
	UNIT_CHECK(!s3xml_parse_list("", 0, &l), "an empty answer is not XML");
	UNIT_CHECK(parse("<L><IsTruncated>true</IsTruncated><NextContinuationToken/></L>", &l) &&
			   l.next_token == NULL, "an empty token ends the listing");
	s3xml_list_free(&l);
}

static void
test_entities(void)
{
	char		path[] = "/tmp/test_s3_xml_XXXXXX";
	int			fd = mkstemp(path);
	char		xml[1024];
	char		bomb[4096];
	S3XmlList	l;
	char	   *code;
	int			n;

	UNIT_CHECK(fd >= 0 && write(fd, "SECRET", 6) == 6, "a local file to steal");
	close(fd);

	/* external entities, general and in an attribute-free element */
	snprintf(xml, sizeof(xml),
			 "<?xml version=\"1.0\"?><!DOCTYPE L [<!ENTITY x SYSTEM \"file://%s\">]>"
			 "<L><Contents><Key>k&x;</Key><Size>1</Size></Contents></L>", path);
	UNIT_CHECK(parse(xml, &l) && l.nobjects == 1 && strstr(l.objects[0].key, "SECRET") == NULL,
			   "an external entity is not read into a key");
	s3xml_list_free(&l);
	snprintf(xml, sizeof(xml),
			 "<?xml version=\"1.0\"?><!DOCTYPE L [<!ENTITY %% p SYSTEM \"file://%s\">"
			 "<!ENTITY %% q \"<!ENTITY x '%%p;'>\">%%q;]>"
			 "<L><Contents><Key>k&x;</Key><Size>1</Size></Contents></L>", path);
	if (parse(xml, &l))
	{
		UNIT_CHECK(l.nobjects == 0 || strstr(l.objects[0].key, "SECRET") == NULL,
				   "an external parameter entity is not read into a key");
		s3xml_list_free(&l);
	}
	else
		UNIT_CHECK(true, "an external parameter entity is not read into a key (the page is refused)");
	snprintf(xml, sizeof(xml),
			 "<?xml version=\"1.0\"?><!DOCTYPE Error [<!ENTITY x SYSTEM \"file://%s\">]>"
			 "<Error><Code>&x;</Code></Error>", path);
	code = s3xml_child_text(xml, strlen(xml), "Error", "Code");
	UNIT_CHECK(code == NULL || strstr(code, "SECRET") == NULL,
			   "an external entity is not read into an error code");
	free(code);
	unlink(path);

	/* a billion laughs: 10^9 bytes from a few hundred */
	n = snprintf(bomb, sizeof(bomb), "<?xml version=\"1.0\"?><!DOCTYPE L [<!ENTITY a0 \"0123456789\">");
	for (int i = 1; i <= 9; i++)
		n += snprintf(bomb + n, sizeof(bomb) - n,
					  "<!ENTITY a%d \"&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;\">",
					  i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	snprintf(bomb + n, sizeof(bomb) - n,
			 "]><L><Contents><Key>&a9;</Key><Size>1</Size></Contents></L>");
	if (parse(bomb, &l))
	{
		UNIT_CHECK(l.nobjects == 0 || strlen(l.objects[0].key) < 1000000,
				   "an entity bomb is not expanded");
		s3xml_list_free(&l);
	}
	else
		UNIT_CHECK(true, "an entity bomb is not expanded (the page is refused)");
}

static void
test_child_text(void)
{
	const char *err = "<Error><Code>SlowDown</Code><Message/></Error>";
	const char *other = "<ListBucketResult><Code>x</Code></ListBucketResult>";
	char	   *s;

	s = s3xml_child_text(err, strlen(err), "Error", "Code");
	UNIT_CHECK_STR(s, "SlowDown", "the error code");
	free(s);
	s = s3xml_child_text(err, strlen(err), "Error", "Message");
	UNIT_CHECK_STR(s, "", "an empty message is \"\"");
	free(s);
	s = s3xml_child_text(other, strlen(other), "Error", "Code");
	UNIT_CHECK(s == NULL, "a code under another root is no error code");
	free(s);
	s = s3xml_child_text("<Error><Code>", 13, "Error", "Code");
	UNIT_CHECK(s == NULL, "a cut error document gives nothing");
	free(s);
}

int
main(void)
{
	test_page();
	test_entities();
	test_child_text();
	return unit_done();
}
