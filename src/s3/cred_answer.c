/*-------------------------------------------------------------------------
 *
 * cred_answer.c
 *	  Credential answers of STS, IMDS and container endpoints, parsed.
 *
 * The answers come from the network: anything may arrive, including a
 * peer that is not what it claims.  So every field is checked before it
 * can reach a request header (bytes a header cannot carry are refused,
 * never "cleaned"), sizes are bounded, the XML parser never touches the
 * network or expands external entities, and error messages are cut to
 * their first line (see cred_clean_message).
 *
 * Pure C on libxml2 and jansson; memory is malloc'd (see cred_answer.h).
 *
 * IDENTIFICATION
 *	  src/s3/cred_answer.c
 *
 *-------------------------------------------------------------------------
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "decode/iso8601.h"
#include "cred_answer.h"

/* Bounds of what a field may hold (AWS's own are smaller). */
#define MAX_KEY_ID_LEN		128
#define MAX_SECRET_LEN		256
#define MAX_TOKEN_LEN		16384
#define MAX_CODE_LEN		128

/* Zero and free a malloc'd string that may hold a secret. */
static void
free_secret(char *s)
{
	if (s == NULL)
		return;
	/* volatile: the compiler may not drop the stores before free() */
	for (volatile char *p = s; *p; p++)
		*p = '\0';
	free(s);
}

void
cred_answer_free(CredAnswer *a)
{
	free(a->access_key_id);
	free_secret(a->secret_access_key);
	free_secret(a->session_token);
	free(a->error_code);
	free(a->error_message);
	memset(a, 0, sizeof(*a));
}

const char *
cred_status_message(CredStatus status)
{
	switch (status)
	{
		case CRED_OK:
			return "credentials";
		case CRED_ERROR_ANSWER:
			return "an error";
		case CRED_MALFORMED:
			return "an answer that is not in the expected format";
		case CRED_MISSING_FIELD:
			return "an answer without an access key or secret key";
		case CRED_BAD_FIELD:
			return "an answer whose keys or token hold characters that cannot be sent";
		case CRED_BAD_EXPIRATION:
			return "an answer whose Expiration is not a time";
		case CRED_TOO_LARGE:
			return "an answer that is too large";
		case CRED_OUT_OF_MEMORY:
			return "an answer that could not be held in memory";
	}
	return "an unknown answer";
}

bool
cred_header_value_ok(const char *s, size_t len, size_t maxlen)
{
	size_t		i;

	if (s == NULL || len == 0 || len > maxlen)
		return false;
	if (s[0] == ' ' || s[len - 1] == ' ')
		return false;
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

/* An access key id goes into "Credential=KEY/DATE/...": no separators. */
static bool
key_id_ok(const char *s)
{
	size_t		len = strlen(s);

	return cred_header_value_ok(s, len, MAX_KEY_ID_LEN) &&
		strcspn(s, " /,;=") == len;
}

void
cred_clean_message(char *msg)
{
	size_t		n;
	unsigned char *p;

	if (msg == NULL)
		return;
	/* leading white space (pretty-printed XML) */
	n = strspn(msg, " \t\r\n");
	if (n > 0)
		memmove(msg, msg + n, strlen(msg + n) + 1);
	/* the first line only */
	msg[strcspn(msg, "\r\n")] = '\0';
	if (strlen(msg) > CRED_MESSAGE_MAX_LEN)
	{
		/* do not cut a UTF-8 sequence in two */
		n = CRED_MESSAGE_MAX_LEN;
		while (n > 0 && ((unsigned char) msg[n] & 0xC0) == 0x80)
			n--;
		msg[n] = '\0';
	}
	for (p = (unsigned char *) msg; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
	/* trailing white space */
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == ' ')
		msg[--n] = '\0';
}

bool
cred_parse_time(const char *s, size_t len, int64_t *usecs)
{
	Iso8601		t;

	if (s == NULL || len == 0 || len > 64)
		return false;
	if (!iso8601_parse(s, len, &t) || !t.has_time)
		return false;
	*usecs = iso8601_epoch_usecs(&t);
	return true;
}

/* A malloc'd copy of s[0..len) without surrounding white space. */
static char *
dup_trimmed(const char *s, size_t len)
{
	char	   *r;

	while (len > 0 && strchr(" \t\r\n", s[0]) != NULL)
	{
		s++;
		len--;
	}
	while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
		len--;
	r = malloc(len + 1);
	if (r == NULL)
		return NULL;
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

/*
 * Fill the keys and expiration of *out from the fields' text; each may be
 * NULL.  Takes ownership of nothing.
 */
static CredStatus
set_keys(CredAnswer *out, const char *key, size_t key_len,
		 const char *secret, size_t secret_len,
		 const char *token, size_t token_len,
		 const char *expiration, size_t exp_len)
{
	if (key == NULL || secret == NULL)
		return CRED_MISSING_FIELD;
	out->access_key_id = dup_trimmed(key, key_len);
	out->secret_access_key = dup_trimmed(secret, secret_len);
	if (token != NULL)
		out->session_token = dup_trimmed(token, token_len);
	if (out->access_key_id == NULL || out->secret_access_key == NULL ||
		(token != NULL && out->session_token == NULL))
		return CRED_OUT_OF_MEMORY;
	if (out->access_key_id[0] == '\0' || out->secret_access_key[0] == '\0')
		return CRED_MISSING_FIELD;
	if (!key_id_ok(out->access_key_id) ||
		!cred_header_value_ok(out->secret_access_key, strlen(out->secret_access_key), MAX_SECRET_LEN) ||
		strchr(out->secret_access_key, ' ') != NULL ||
		(out->session_token != NULL &&
		 !cred_header_value_ok(out->session_token, strlen(out->session_token), MAX_TOKEN_LEN)))
		return CRED_BAD_FIELD;
	if (out->session_token != NULL && out->session_token[0] == '\0')
	{
		free(out->session_token);
		out->session_token = NULL;
	}
	if (expiration != NULL)
	{
		char	   *e = dup_trimmed(expiration, exp_len);
		bool		ok;

		if (e == NULL)
			return CRED_OUT_OF_MEMORY;
		ok = cred_parse_time(e, strlen(e), &out->expiration);
		free(e);
		if (!ok)
			return CRED_BAD_EXPIRATION;
		out->has_expiration = true;
	}
	return CRED_OK;
}

/* Fill the error fields; the code must be a plain word. */
static CredStatus
set_error(CredAnswer *out, const char *code, size_t code_len,
		  const char *message, size_t message_len)
{
	size_t		i;

	out->error_code = dup_trimmed(code, code_len);
	if (out->error_code == NULL)
		return CRED_OUT_OF_MEMORY;
	if (out->error_code[0] == '\0' || strlen(out->error_code) > MAX_CODE_LEN)
		return CRED_MALFORMED;
	for (i = 0; out->error_code[i]; i++)
	{
		unsigned char c = (unsigned char) out->error_code[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == ':'))
			return CRED_MALFORMED;
	}
	if (message != NULL)
	{
		out->error_message = dup_trimmed(message, message_len);
		if (out->error_message == NULL)
			return CRED_OUT_OF_MEMORY;
		cred_clean_message(out->error_message);
	}
	return CRED_ERROR_ANSWER;
}

/* ----------------------------------------------------------------
 *		STS (XML)
 * ----------------------------------------------------------------
 */

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

/* A child element whose name ends with "suffix" ("AssumeRoleResult"). */
static xmlNodePtr
xml_child_suffix(xmlNodePtr parent, const char *suffix)
{
	xmlNodePtr	n;
	size_t		sl = strlen(suffix);

	if (parent == NULL)
		return NULL;
	for (n = parent->children; n; n = n->next)
	{
		size_t		nl;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		nl = strlen((const char *) n->name);
		if (nl > sl && strcmp((const char *) n->name + nl - sl, suffix) == 0)
			return n;
	}
	return NULL;
}

/* The text of a child element (xmlFree it), or NULL. */
static xmlChar *
xml_text(xmlNodePtr parent, const char *name)
{
	xmlNodePtr	n = xml_child(parent, name);

	return n ? xmlNodeGetContent(n) : NULL;
}

#define XLEN(s) ((s) ? strlen((const char *) (s)) : 0)

CredStatus
cred_parse_sts(const char *body, size_t len, CredAnswer *out)
{
	xmlDocPtr	doc;
	xmlNodePtr	root;
	CredStatus	st;

	memset(out, 0, sizeof(*out));
	if (len > CRED_ANSWER_MAX_LEN)
		return CRED_TOO_LARGE;
	if (body == NULL || len == 0)
		return CRED_MALFORMED;
	/* no network, no external entities or DTDs, no messages on stderr */
	doc = xmlReadMemory(body, (int) len, NULL, NULL,
						XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
						XML_PARSE_NOCDATA);
	if (doc == NULL)
		return CRED_MALFORMED;
	root = xmlDocGetRootElement(doc);
	st = CRED_MALFORMED;
	if (root == NULL)
		;
	else if (strcmp((const char *) root->name, "ErrorResponse") == 0 ||
			 strcmp((const char *) root->name, "Error") == 0)
	{
		xmlNodePtr	err = strcmp((const char *) root->name, "Error") == 0 ? root : xml_child(root, "Error");
		xmlChar    *code = xml_text(err, "Code");
		xmlChar    *msg = xml_text(err, "Message");

		if (code != NULL)
			st = set_error(out, (const char *) code, XLEN(code),
						   (const char *) msg, XLEN(msg));
		if (code)
			xmlFree(code);
		if (msg)
			xmlFree(msg);
	}
	else
	{
		size_t		rl = strlen((const char *) root->name);

		/* <AssumeRoleResponse><AssumeRoleResult><Credentials> */
		if (rl > 8 && strcmp((const char *) root->name + rl - 8, "Response") == 0)
		{
			xmlNodePtr	result = xml_child_suffix(root, "Result");
			xmlNodePtr	creds = xml_child(result, "Credentials");

			if (creds != NULL)
			{
				xmlChar    *key = xml_text(creds, "AccessKeyId");
				xmlChar    *secret = xml_text(creds, "SecretAccessKey");
				xmlChar    *token = xml_text(creds, "SessionToken");
				xmlChar    *exp = xml_text(creds, "Expiration");

				st = set_keys(out, (const char *) key, XLEN(key),
							  (const char *) secret, XLEN(secret),
							  (const char *) token, XLEN(token),
							  (const char *) exp, XLEN(exp));
				if (key)
					xmlFree(key);
				if (secret)
				{
					memset(secret, 0, XLEN(secret));
					xmlFree(secret);
				}
				if (token)
				{
					memset(token, 0, XLEN(token));
					xmlFree(token);
				}
				if (exp)
					xmlFree(exp);
			}
			else if (result != NULL)
				st = CRED_MISSING_FIELD;
		}
	}
	xmlFreeDoc(doc);
	return st;
}

/* ----------------------------------------------------------------
 *		IMDS and container endpoints (JSON)
 * ----------------------------------------------------------------
 */

/* A string member, or NULL (also when it is not a string). */
static const char *
json_str(json_t *obj, const char *name, size_t *len)
{
	json_t	   *v = json_object_get(obj, name);

	if (!json_is_string(v))
	{
		*len = 0;
		return NULL;
	}
	*len = json_string_length(v);
	/* a NUL inside would cut the value short: refuse it */
	if (strlen(json_string_value(v)) != *len)
		return NULL;
	return json_string_value(v);
}

CredStatus
cred_parse_json(const char *body, size_t len, CredAnswer *out)
{
	json_t	   *doc;
	json_error_t jerr;
	CredStatus	st;
	const char *key,
			   *secret,
			   *token,
			   *exp,
			   *code,
			   *msg;
	size_t		key_len,
				secret_len,
				token_len,
				exp_len,
				code_len,
				msg_len;

	memset(out, 0, sizeof(*out));
	if (len > CRED_ANSWER_MAX_LEN)
		return CRED_TOO_LARGE;
	if (body == NULL || len == 0)
		return CRED_MALFORMED;
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (doc == NULL)
		return CRED_MALFORMED;
	if (!json_is_object(doc))
	{
		json_decref(doc);
		return CRED_MALFORMED;
	}
	key = json_str(doc, "AccessKeyId", &key_len);
	secret = json_str(doc, "SecretAccessKey", &secret_len);
	token = json_str(doc, "Token", &token_len);
	if (token == NULL)			/* credential_process's name for it */
		token = json_str(doc, "SessionToken", &token_len);
	exp = json_str(doc, "Expiration", &exp_len);
	code = json_str(doc, "Code", &code_len);
	if (code == NULL)
		code = json_str(doc, "code", &code_len);
	msg = json_str(doc, "Message", &msg_len);
	if (msg == NULL)
		msg = json_str(doc, "message", &msg_len);

	if (code != NULL && !(code_len == 7 && memcmp(code, "Success", 7) == 0))
		st = set_error(out, code, code_len, msg, msg_len);
	else if (key == NULL && secret == NULL && msg != NULL)
		st = set_error(out, "Error", 5, msg, msg_len);
	else
		st = set_keys(out, key, key_len, secret, secret_len, token, token_len,
					  exp, exp_len);
	json_decref(doc);
	return st;
}

bool
cred_parse_role_name(const char *body, size_t len, char *out, size_t outlen)
{
	size_t		start = 0;
	size_t		end;
	size_t		i;

	if (body == NULL || outlen == 0)
		return false;
	/* skip blank lines */
	while (start < len && (body[start] == '\n' || body[start] == '\r' ||
						   body[start] == ' '))
		start++;
	for (end = start; end < len && body[end] != '\n' && body[end] != '\r'; end++)
		;
	while (end > start && body[end - 1] == ' ')
		end--;
	if (end == start || end - start > 64 || end - start >= outlen)
		return false;
	for (i = start; i < end; i++)
	{
		unsigned char c = (unsigned char) body[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || strchr("+=,.@_-", c) != NULL) || c == '\0')
			return false;
	}
	memcpy(out, body + start, end - start);
	out[end - start] = '\0';
	return true;
}
