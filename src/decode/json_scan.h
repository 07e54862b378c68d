/*-------------------------------------------------------------------------
 *
 * json_scan.h
 *	  The record boundary scanner of json_reader.cpp, as a function body
 *	  that json_reader.cpp compiles once per instruction set.
 *
 * Not a header to include anywhere else.  Before including it, define
 * SCAN_FUNCTION (the function's name), SCAN_CLASSIFY (fills BlockMasks for
 * 64 bytes) and SCAN_PREFIX_XOR; json_reader.cpp includes it once for the
 * SSE2 baseline and once inside an AVX2 target region, and picks one at
 * run time.  Keeping one copy of the loop keeps the two in step.
 *
 * IDENTIFICATION
 *	  src/decode/json_scan.h
 *
 *-------------------------------------------------------------------------
 */

/*
 * Scan the container that opens at buf[start] ('{' or '['), up to len.
 *
 * 64 bytes at a time: find quotes that are not escaped, turn them into a
 * mask of string interiors, and count brackets outside strings.  Escapes
 * are resolved one backslash at a time, which is cheap because backslashes
 * are rare; the common block has none.  Brackets are then taken one by
 * one (a record has few), checking their kinds.  Reading up to 63 bytes
 * past len is fine: the caller guarantees the padding, and those bits are
 * masked off.  On the way, for a complete container, it notes whether any
 * byte is >= 0x80 and whether a raw control character sits inside a
 * string (so->nonascii, so->ctrl_in_string), which spares the walker a
 * pass of its own over every byte.
 */
static void
SCAN_FUNCTION(const char *cbuf, size_t start, size_t len, ScanOut *so)
{
	const uint8_t *buf = (const uint8_t *) cbuf;
	uint64_t	esc_carry = 0;	/* next block's byte 0 is escaped */
	uint64_t	str_carry = 0;	/* all ones: block starts inside a string */
	uint64_t	high = 0;		/* OR of the blocks' bytes >= 0x80 */
	uint64_t	ctrl = 0;		/* ... and of control bytes in strings */
	Brackets	br;

	br.depth = 0;
	so->complete = false;
	so->too_deep = false;
	so->mismatched = false;
	so->end = JR_NONE;
	so->first_nl = JR_NONE;
	so->broken_line = JR_NONE;
	so->broken_in_string = false;
	so->nonascii = false;
	so->ctrl_in_string = false;

	for (size_t i = start; i < len; i += 64)
	{
		BlockMasks	m;
		uint64_t	valid;
		uint64_t	escaped;
		uint64_t	bs;
		uint64_t	instr;
		uint64_t	nl;
		uint64_t	upto;
		uint64_t	keep;

		SCAN_CLASSIFY(buf + i, &m);
		valid = (len - i >= 64) ? ~UINT64_C(0) : ((UINT64_C(1) << (len - i)) - 1);

		escaped = esc_carry;
		esc_carry = 0;
		bs = m.backslash & valid;
		while (bs)
		{
			int			k = __builtin_ctzll(bs);

			bs &= bs - 1;
			if (!((escaped >> k) & 1))
			{
				if (k == 63)
					esc_carry = 1;
				else
					escaped |= UINT64_C(1) << (k + 1);
			}
		}

		instr = SCAN_PREFIX_XOR(m.quote & ~escaped & valid) ^ str_carry;
		str_carry = (uint64_t) ((int64_t) instr >> 63);

		/*
		 * Two kinds of line break end a record early, as broken:
		 *
		 * - one inside a string: JSON strings cannot hold a raw line break,
		 *	 so this is a cut (usually truncated) line;
		 * - one followed directly by '{' in column 0 while the record is
		 *	 still open: that is the next line of newline-delimited input,
		 *	 and the line before it was cut.  Pretty-printers indent nested
		 *	 objects, so valid multi-line records do not look like this.
		 *
		 * Both depend only on bytes up to the one after the line break, so
		 * the outcome does not depend on where the buffer ends.
		 */
		upto = valid;
		nl = m.newline & valid;
		if (nl)
		{
			uint64_t	outside = nl & ~instr;
			uint64_t	stop = nl & instr;

			if (outside)
			{
				/*
				 * '{' is an open bracket that is not square; only bytes
				 * before len count (after it is stale data or padding)
				 */
				uint64_t	next_brace = (m.open & ~m.square & valid) >> 1;

				if (i + 64 < len && buf[i + 64] == '{')
					next_brace |= UINT64_C(1) << 63;
				stop |= outside & next_brace;
				if (so->first_nl == JR_NONE)
					so->first_nl = i + __builtin_ctzll(outside);
			}
			if (stop)
			{
				/* the record may still close before that line break */
				upto &= (UINT64_C(1) << __builtin_ctzll(stop)) - 1;
				if (!brackets(&br, m.open & ~instr & upto, m.close & ~instr & upto,
							  m.square, i, so))
				{
					so->broken_line = i + __builtin_ctzll(stop);
					so->broken_in_string = (instr >> __builtin_ctzll(stop)) & 1;
					return;
				}
				goto complete;
			}
		}

		if (!brackets(&br, m.open & ~instr & upto, m.close & ~instr & upto,
					  m.square, i, so))
		{
			/*
			 * What the walker leaves to us: whether the record has bytes
			 * that need a UTF-8 check, and raw control characters in
			 * strings (line breaks there have ended the record above).
			 */
			high |= m.high & upto;
			ctrl |= m.ctrl & instr & upto;
			continue;
		}

complete:
		/* the record ends in this block: only count bytes up to its end */
		keep = (so->end - i >= 64) ? ~UINT64_C(0) : (UINT64_C(1) << (so->end - i)) - 1;
		high |= m.high & keep;
		ctrl |= m.ctrl & instr & keep;
		so->nonascii = (high != 0);
		so->ctrl_in_string = (ctrl != 0);
		return;
	}
}
