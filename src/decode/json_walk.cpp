/*-------------------------------------------------------------------------
 *
 * json_walk.cpp
 *	  The JSON reader's record walker: one pass over a complete record,
 *	  converting the requested values and skipping the others.
 *
 * The walker goes through the record's object left to right, converts the
 * values the path trie asks for and skips the others, and stops as soon
 * as every requested key has been met.
 *
 * What is checked: requested values in full (strings and their escapes,
 * the number grammar, literals, and containers all the way down when
 * their text is asked for; the whole record when "" is requested), and the
 * syntax of every object the walk goes through, as far as it goes.  What
 * is not: values nobody asked for are skipped like On-Demand parsers skip
 * them (a malformed number or literal there passes), and nothing after the
 * last requested key of an object.  Every record is checked by the
 * scanner (json_scan.cpp), whatever is requested, and records stay
 * isolated: errors never leak into the next record, and the same records
 * come out wherever the caller's buffer boundaries fall (the walker never
 * depends on a byte past the record's end, see below).
 *
 * The walk tells strings and brackets apart exactly as the scanner does,
 * so it needs no bounds checks: every loop below stops at the record's
 * closing '}' at the latest.  Reads may go up to 15 bytes past a string's
 * closing quote or 7 past a number, never past the padding, and what they
 * see there never changes the outcome: records do not depend on where the
 * buffers end (test_json_reader checks this with junk and with zeros after
 * the data).
 *
 * IDENTIFICATION
 *	  src/decode/json_walk.cpp
 *
 *-------------------------------------------------------------------------
 */
#include "json_internal.hpp"

static const char *convert_value(Walker *w, const char *p, Target *t, int nt,
								 TrieNode *children, bool allow_elems);

/*
 * Skip to the end of the container whose opening bracket was before p,
 * "depth" levels deep: returns the byte after the closing bracket.  Like
 * any On-Demand parser, this checks nothing but the brackets and strings,
 * which the scanner has matched - and the scanner's rules are followed to
 * the letter, so that the matching bracket is found where the scanner
 * found it, never past the record: a backslash escapes the byte after it
 * even outside strings (so \" there starts no string), and brackets count
 * whatever precedes them.
 */
static const char *
skip_container(const char *p, int depth)
{
	for (;;)
	{
		char		c;

#if defined(__SSE2__)
		{
			const __m128i quote = _mm_set1_epi8('"');
			const __m128i bslash = _mm_set1_epi8('\\');
			const __m128i lower = _mm_set1_epi8(0x20);
			const __m128i open = _mm_set1_epi8('{');
			const __m128i close = _mm_set1_epi8('}');
			__m128i		v = _mm_loadu_si128((const __m128i *) p);
			__m128i		f = _mm_or_si128(v, lower);
			__m128i		hit;
			unsigned	m;

			hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
							   _mm_or_si128(_mm_cmpeq_epi8(f, open), _mm_cmpeq_epi8(f, close)));
			m = (unsigned) _mm_movemask_epi8(hit);
			if (m == 0)
			{
				p += 16;
				continue;
			}
			p += __builtin_ctz(m);
		}
#else
		while (*p != '"' && *p != '\\' && (*p | 0x20) != '{' && (*p | 0x20) != '}')
			p++;
#endif
		c = *p;
		if (c == '"')
			p = string_end(p + 1) + 1;
		else if (c == '\\')
			p += (p[1] == '"' || p[1] == '\\') ? 2 : 1;
		else if ((c | 0x20) == '{')
		{
			depth++;
			p++;
		}
		else
		{
			p++;
			if (--depth == 0)
				return p;
		}
	}
}

/*
 * The byte after the container whose opening bracket is at p: found by the
 * record scanner itself, 64 bytes at a time with few branches, which beats
 * skip_container's byte-hopping loop on the short arrays and objects of
 * typical records.  The container is inside a complete record, so the
 * scan completes there (its line-break rules cannot fire: the record's own
 * scan would have stopped).
 */
static inline const char *
skip_whole(Walker *w, const char *p)
{
	ScanOut		so;
	size_t		at = (size_t) (p - w->r->buf);

	scan_container(w->r->buf, at, w->r->len, &so);
	if (JR_LIKELY(so.complete))
		return w->r->buf + so.end;
	return skip_container(p + 1, 1);	/* cannot happen */
}

/* A value nobody asked for, at p: the byte after it. */
/* (inlined in both walk_object_keys: as in the one walk there was before) */
static inline __attribute__((always_inline)) const char *
skip_value(Walker *w, const char *p)
{
	switch (*p)
	{
		case '"':
			return string_end(p + 1) + 1;
		case '{':
		case '[':
			return skip_whole(w, p);
		case ',':
		case '}':
		case ']':
		case ':':
			return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
		default:
			/* a number or literal, unchecked (see the file header) */
			while (!ends_scalar(*p))
				p++;
			return p;
	}
}

/*
 * The string value at p (its opening quote): *str and *len receive the
 * unescaped text (in place when it has no escapes, else in the walker's
 * string buffer).  Returns the byte after the closing quote, or NULL.
 */
static inline const char *
read_string(Walker *w, const char *p, const char **str, size_t *len, bool *has_nul)
{
	const char *s = p + 1;
	const char *q = find_quote_or_backslash(s);
	const char *end;
	char	   *out;

	*has_nul = false;
	if (*q == '"')
	{
		/* no escapes: raw control characters are refused, so no NUL */
		*str = s;
		*len = q - s;
		return q + 1;
	}
	out = unescape_string(s, q, &end, w->sbuf, has_nul);
	if (out == NULL)
		return walk_fail(w, p, simdjson::STRING_ERROR, NULL);
	*str = w->sbuf;
	*len = out - w->sbuf;
	w->sbuf = out;
	return end + 1;
}

/* true, false or null at p; the byte after it, or NULL. */
static inline const char *
parse_literal(const char *p, JsonKind *kind)
{
	if (p[0] == 't' && memcmp(p, "true", 4) == 0 && ends_scalar(p[4]))
	{
		*kind = JSON_TRUE;
		return p + 4;
	}
	if (p[0] == 'f' && memcmp(p, "false", 5) == 0 && ends_scalar(p[5]))
	{
		*kind = JSON_FALSE;
		return p + 5;
	}
	if (p[0] == 'n' && memcmp(p, "null", 4) == 0 && ends_scalar(p[4]))
	{
		*kind = JSON_NULL;
		return p + 4;
	}
	return NULL;
}

/*
 * Check the whole value at p against the JSON grammar (what a requested
 * value given as raw text gets: a json column must hold valid JSON, and a
 * text column gets no less); the byte after it, or NULL.  Recursion is as
 * deep as the nesting, which the scanner limits to 1024.
 */
const char *
validate_value(Walker *w, const char *p)
{
	switch (*p)
	{
		case '"':
			{
				const char *q = find_quote_or_backslash(p + 1);
				const char *end;
				bool		nul = false;

				if (*q == '"')
					return q + 1;
				/* into the string buffer, which the next use reuses */
				if (unescape_string(p + 1, q, &end, w->sbuf, &nul) == NULL)
					return walk_fail(w, p, simdjson::STRING_ERROR, NULL);
				return end + 1;
			}

		case '{':
		case '[':
			{
				char		close = *p + 2;	/* '{' + 2 == '}', '[' + 2 == ']' */
				bool		object = (*p == '{');

				p = skip_ws(p + 1);
				if (*p == close)
					return p + 1;
				for (;;)
				{
					if (object)
					{
						if (*p != '"')
							return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
						p = validate_value(w, p);
						if (p == NULL)
							return NULL;
						p = skip_ws(p);
						if (*p != ':')
							return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
						p = skip_ws(p + 1);
					}
					p = validate_value(w, p);
					if (p == NULL)
						return NULL;
					p = skip_ws(p);
					if (*p == ',')
						p = skip_ws(p + 1);
					else if (*p == close)
						return p + 1;
					else
						return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
				}
			}

		case 't':
		case 'f':
		case 'n':
			{
				JsonKind	kind;
				const char *after = parse_literal(p, &kind);

				if (after == NULL)
					return walk_fail(w, p, *p == 'n' ? simdjson::N_ATOM_ERROR : simdjson::T_ATOM_ERROR,
									 "invalid literal");
				return after;
			}

		default:
			if (is_digit(*p) || *p == '-')
			{
				Number		n = {false, false, 0, 0};
				const char *after = parse_number(p, false, false, &n);

				if (after == NULL)
					return walk_fail(w, p, simdjson::NUMBER_ERROR, NULL);
				return after;
			}
			return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
	}
}

/* elem_slot said no: too many elements, or out of memory. */
static const char * __attribute__((noinline))
elem_fail(Walker *w, const char *at)
{
	if (w->r->elems_over)
		return walk_fail(w, at, simdjson::CAPACITY, "too many array elements");
	return walk_fail(w, at, simdjson::MEMALLOC, "out of memory");
}

/*
 * The common case first: one field wants a scalar, a string without
 * escapes or a number, of the kind it asked for.  No loops over targets
 * and no bookkeeping; anything else goes to convert_value.
 */
static inline __attribute__((always_inline)) const char *
convert_one(Walker *w, const char *p, JsonWant want, JsonValue *o, int field,
			bool allow_elems)
{
	if (*p == '"' && want != JSON_WANT_RAW)
	{
		const char *q = find_quote_or_backslash(p + 1);

		if (*q == '"')
		{
			o->kind = JSON_STRING;
			o->str = p + 1;
			o->len = q - (p + 1);
			return q + 1;
		}
	}
	else if (is_digit(*p) || *p == '-')
	{
		Number		n = {false, false, 0, 0};
		const char *after = parse_number(p, want == JSON_WANT_INT64,
										 want == JSON_WANT_DOUBLE, &n);

		if (after == NULL)
			return walk_fail(w, p, simdjson::NUMBER_ERROR, NULL);
		o->kind = JSON_NUMBER;
		o->str = p;
		o->len = after - p;
		if (want == JSON_WANT_INT64)
		{
			o->num_ok = n.ok_i;
			o->i64 = n.ok_i ? n.i64 : 0;
		}
		else if (want == JSON_WANT_DOUBLE)
		{
			o->num_ok = n.ok_d;
			o->f64 = n.ok_d ? n.f64 : 0;
		}
		return after;
	}
	{
		Target		tg = {field, o};

		return convert_value(w, p, &tg, 1, NULL, allow_elems);
	}
}

/*
 * The array and object cases of convert_value, kept out of line: they are
 * rarer, and convert_value must stay small.
 */
static const char * __attribute__((noinline))
convert_container(Walker *w, const char *p, Target *t, int nt, TrieNode *children,
				  bool allow_elems)
{
	JsonReader *r = w->r;
	const char *after;

	if (*p == '[')
	{
		int			nsplit = 0;
		int			split_fields[JR_MAX_SAME_PATH];
		int			k = 0;

		if (allow_elems)
		{
			for (int i = 0; i < nt; i++)
				if (r->fields[t[i].field].want_elements)
					split_fields[nsplit++] = i;
		}
		if (nsplit == 0 && nt == 0)
		{
			/* only paths into an object were asked for: not there */
			after = skip_whole(w, p);
		}
		else if (nsplit == 0)
		{
			after = validate_value(w, p);
			if (after == NULL)
				return NULL;
		}
		else
		{
			const char *q = skip_ws(p + 1);


			if (*q != ']')
			{
				for (;;)
				{
					Target		split[JR_MAX_SAME_PATH];

					/* the common case: one field, such as a text[] column */
					if (nsplit == 1)
					{
						int			fi = t[split_fields[0]].field;
						JsonValue  *slot = elem_slot(r, fi, k);

						if (slot == NULL)
							return elem_fail(w, q);
						memset(slot, 0, sizeof(JsonValue));
						q = convert_one(w, q, r->fields[fi].want, slot, fi, false);
						goto next_element;
					}
					for (int j = 0; j < nsplit; j++)
					{
						int			fi = t[split_fields[j]].field;
						JsonValue  *slot = elem_slot(r, fi, k);

						if (slot == NULL)
							return elem_fail(w, q);
						memset(slot, 0, sizeof(JsonValue));
						split[j].field = fi;
						split[j].out = slot;
					}
					q = convert_value(w, q, split, nsplit, NULL, false);
			next_element:
					if (q == NULL)
						return NULL;
					k++;
					q = skip_ws(q);
					if (*q == ',')
						q = skip_ws(q + 1);
					else if (*q == ']')
						break;
					else
						return walk_fail(w, q, simdjson::TAPE_ERROR, NULL);
				}
			}
			after = q + 1;
		}
		for (int i = 0; i < nt; i++)
		{
			t[i].out->kind = JSON_ARRAY;
			t[i].out->str = p;
			t[i].out->len = after - p;
		}
		for (int j = 0; j < nsplit; j++)
		{
			JsonValue  *o = t[split_fields[j]].out;

			o->elems = r->elems[t[split_fields[j]].field];
			o->nelems = k;
		}
		return after;
	}

	/*
	 * An object: checked in full when its text is asked for, and walked
	 * when paths go into it (then it may stop early if only those are).
	 */
	after = NULL;
	if (nt > 0)
	{
		after = validate_value(w, p);
		if (after == NULL)
			return NULL;
	}
	if (children)
	{
		const char *end = walk_object(w, p, children, nt == 0, true);

		if (end == NULL)
			return NULL;
		after = end;
	}
	for (int i = 0; i < nt; i++)
	{
		t[i].out->kind = JSON_OBJECT;
		t[i].out->str = p;
		t[i].out->len = after - p;
	}
	return after;
}

/*
 * Convert the value at p for the nt targets (several fields may request
 * the same path with different wants).  "children" is the trie node below
 * this key when nested paths continue into it (only for record fields, not
 * for array elements); allow_elems is false for array elements, whose own
 * arrays are only given as raw text.  Returns the byte after the value.
 */
static const char *
convert_value(Walker *w, const char *p, Target *t, int nt, TrieNode *children,
			  bool allow_elems)
{
	JsonReader *r = w->r;
	const char *after;

	switch (*p)
	{
		case '"':
			{
				const char *str;
				size_t		len;
				bool		has_nul;

				after = read_string(w, p, &str, &len, &has_nul);
				if (after == NULL)
					return NULL;
				for (int i = 0; i < nt; i++)
				{
					JsonValue  *o = t[i].out;

					o->kind = JSON_STRING;
					if (r->fields[t[i].field].want == JSON_WANT_RAW)
					{
						o->str = p;
						o->len = after - p;
					}
					else
					{
						o->str = str;
						o->len = len;
						o->has_nul = has_nul;
					}
				}
				return after;
			}

		case '-':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			{
				bool		want_i = false;
				bool		want_d = false;
				Number		n = {false, false, 0, 0};

				for (int i = 0; i < nt; i++)
				{
					JsonWant	want = r->fields[t[i].field].want;

					want_i |= (want == JSON_WANT_INT64);
					want_d |= (want == JSON_WANT_DOUBLE);
				}
				after = parse_number(p, want_i, want_d, &n);
				if (after == NULL)
					return walk_fail(w, p, simdjson::NUMBER_ERROR, NULL);
				for (int i = 0; i < nt; i++)
				{
					JsonValue  *o = t[i].out;
					JsonWant	want = r->fields[t[i].field].want;

					o->kind = JSON_NUMBER;
					o->str = p;
					o->len = after - p;
					if (want == JSON_WANT_INT64)
					{
						o->num_ok = n.ok_i;
						o->i64 = n.ok_i ? n.i64 : 0;
					}
					else if (want == JSON_WANT_DOUBLE)
					{
						o->num_ok = n.ok_d;
						o->f64 = n.ok_d ? n.f64 : 0;
					}
				}
				return after;
			}

		case 't':
		case 'f':
		case 'n':
			{
				JsonKind	kind;

				after = parse_literal(p, &kind);
				if (after == NULL)
					return walk_fail(w, p, *p == 'n' ? simdjson::N_ATOM_ERROR : simdjson::T_ATOM_ERROR,
									 "invalid literal");
				for (int i = 0; i < nt; i++)
				{
					JsonValue  *o = t[i].out;

					o->kind = kind;
					if (kind != JSON_NULL || r->fields[t[i].field].want == JSON_WANT_RAW)
					{
						o->str = p;
						o->len = after - p;
					}
				}
				return after;
			}

		case '[':
		case '{':
			return convert_container(w, p, t, nt, children, allow_elems);
	}
	return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
}

/*
 * Walk the object whose '{' is at p, converting the values that the trie
 * node asks for.  Only the first occurrence of a key counts: a later
 * duplicate is skipped like a key nobody asked for.  Once every key of the
 * node has been met, the rest of the object is not looked at when may_stop
 * allows it: a projection of the first fields of a record never reads the
 * tail.  need_end: the caller needs the byte after the closing '}' (it
 * goes on after this object), so what is left is skipped - without a
 * syntax check, as for any value nobody asked for; without need_end the
 * return value after an early stop is only "not NULL".  An object that
 * lacks a requested key is walked, and checked, to its end.
 */
template <bool FOLD>
const char *
walk_object_keys(Walker *w, const char *p, TrieNode *node, bool may_stop, bool need_end)
{
	JsonReader *r = w->r;
	uint64_t	gen = w->gen;
	int			left = node->nedges;	/* keys not met yet */
	int			k = 0;			/* members so far */

	if (left == 0 && may_stop)
		return need_end ? skip_whole(w, p) : p;

	p = skip_ws(p + 1);
	if (*p == '}')
		return p + 1;
	for (;;)
	{
		const char *key;
		TrieEdge   *edge = NULL;
		ShapeSlot  *slot;

		if (*p != '"')
			return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
		key = p + 1;

		/*
		 * The same key as at this position in the last object here?  Then
		 * we know its end and its edge.  (A hit compares raw bytes up to
		 * the closing quote: remembered keys hold no '"' or '\\'.)
		 */
		slot = (k < JR_SHAPE_MAX) ? &node->shape[k] : NULL;
		k++;
		if (slot && slot->len >= 0 && key_eq(key, slot->key, slot->len) &&
			key[slot->len] == '"')
		{
			edge = slot->edge;
			p = key + slot->len + 1;
		}
		else
		{
			bool		escaped;
			size_t		klen = key_length(key, &escaped);
			unsigned char c0 = (unsigned char) key[0];

			/*
			 * Most keys that are not wanted are told by their first byte
			 * (any key starting with an escape may be wanted).  Those are
			 * skipped unchecked, like their values.
			 */
			if (!((node->first[c0 / 64] >> (c0 % 64)) & 1))
				p = (escaped ? string_end(key + klen) : key + klen) + 1;
			else if (!escaped)
			{
				p = key + klen + 1;
				edge = trie_match(node, key, klen, true);
				if (FOLD && edge == NULL)
					edge = trie_match_fold(node, key, klen);
			}
			else
			{
				/* unescaped into the string buffer, which the next use reuses */
				const char *kq;
				bool		nul = false;
				char	   *ke = unescape_string(key, key + klen, &kq, w->sbuf, &nul);

				if (ke == NULL)
					return walk_fail(w, p, simdjson::STRING_ERROR, NULL);
				p = kq + 1;
				edge = trie_match(node, w->sbuf, ke - w->sbuf, false);
				if (FOLD && edge == NULL)
					edge = trie_match_fold(node, w->sbuf, ke - w->sbuf);
			}
			if (slot)
			{
				if (!escaped && klen <= JR_SHAPE_KEY)
				{
					memset(slot->key, 0, sizeof(slot->key));
					memcpy(slot->key, key, klen);
					slot->len = (int) klen;
					slot->edge = edge;
				}
				else
					slot->len = -1;
			}
		}

		if (*p != ':')
		{
			p = skip_ws(p);
			if (*p != ':')
				return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
		}
		p = skip_ws(p + 1);

		if (edge == NULL || edge->seen == gen)
		{
			/* not wanted, or a duplicate key: the first one counted */
			p = skip_value(w, p);
			if (p == NULL)
				return NULL;
		}
		else
		{
			/* values[] starts zeroed and each field is set once per record */
			edge->seen = gen;
			left--;
			if (edge->fast)
				p = convert_one(w, p, edge->want, &w->values[edge->field], edge->field, true);
			else
			{
				TrieNode   *child = &r->nodes[edge->child];
				Target		tg[JR_MAX_SAME_PATH];
				int			nt = 0;

				for (int i = 0; i < child->nleaf; i++)
				{
					tg[nt].field = child->leaf[i];
					tg[nt].out = &w->values[child->leaf[i]];
					nt++;
				}
				p = convert_value(w, p, tg, nt, child->nedges ? child : NULL, true);
			}
			if (p == NULL)
				return NULL;
			if (left == 0 && may_stop)
				return need_end ? skip_container(p, 1) : p;
		}

		if (*p != ',' && *p != '}')
			p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
		else if (*p == '}')
			return p + 1;
		else
			return walk_fail(w, p, simdjson::TAPE_ERROR, NULL);
	}
}

/* the two walks (walk_object in json_internal.hpp chooses) */
template const char *walk_object_keys<false>(Walker *w, const char *p, TrieNode *node,
											 bool may_stop, bool need_end);
template const char *walk_object_keys<true>(Walker *w, const char *p, TrieNode *node,
											bool may_stop, bool need_end);
