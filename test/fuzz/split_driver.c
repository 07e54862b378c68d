/*-------------------------------------------------------------------------
 *
 * split_driver.c
 *	  The input-splitting driver of the record reader harnesses (see
 *	  split_driver.h).
 *
 * IDENTIFICATION
 *	  test/fuzz/split_driver.c
 *
 *-------------------------------------------------------------------------
 */
#include "fuzz.h"
#include "split_driver.h"

void
check_same(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
	{
		fprintf(stderr, "transcript %s:\n%s\nwhole:\n%s\n", what, got, want);
		CHECK(strcmp(got, want) == 0);
	}
}

char *
split_check_feeds(SplitTranscript read, void *arg, size_t n, uint8_t chunk, int max_step,
				  uint16_t c1, uint16_t c2, size_t cuts[2])
{
	size_t		whole_bound = n;
	size_t		three[3];
	char	   *whole;
	char	   *t;

	/* whole, checked against the reference */
	whole = read(arg, &whole_bound, 1, chunk, true);

	/* again, on the reader as the first read left it (reset) */
	t = read(arg, &whole_bound, 1, chunk + 1, false);
	check_same("after a reset", t, whole);
	free(t);

	/* cut at two places */
	three[0] = n ? c1 % (n + 1) : 0;
	three[1] = n ? c2 % (n + 1) : 0;
	if (three[0] > three[1])
	{
		size_t		x = three[0];

		three[0] = three[1];
		three[1] = x;
	}
	three[2] = n;
	t = read(arg, three, 3, chunk + 2, false);
	check_same("cut at two places", t, whole);
	free(t);
	cuts[0] = three[0];
	cuts[1] = three[1];

	/* in chunks (1 to max_step bytes) */
	if (n <= 4096)
	{
		size_t		step = (chunk % max_step) + 1;
		int			nb = (int) (n / step) + 1;
		size_t	   *bounds = malloc(sizeof(size_t) * nb);

		for (int i = 0; i < nb; i++)
			bounds[i] = (size_t) (i + 1) * step < n ? (size_t) (i + 1) * step : n;
		t = read(arg, bounds, nb, chunk + 3, false);
		check_same("in chunks", t, whole);
		free(t);
		free(bounds);
	}
	return whole;
}

int
split_part_cuts(const size_t cuts[2], size_t n, size_t parts[2])
{
	int			np = 0;

	if (cuts[0] > 0 && cuts[0] < n)
		parts[np++] = cuts[0];
	if (cuts[1] > 0 && cuts[1] < n && (np == 0 || cuts[1] != parts[0]))
		parts[np++] = cuts[1];
	return np;
}
