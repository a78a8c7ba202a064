/* The baseline killdb's ingest is measured against: a bare loop over every event of a
 * log with libauparse, touching each record's type, as any libauparse-based tool must. */
#include <auparse.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	auparse_state_t *au = auparse_init(AUSOURCE_FILE, argv[1]);
	if (au == NULL) {
		perror(argv[1]);
		return 1;
	}
	unsigned long events = 0, records = 0;
	while (auparse_next_event(au) > 0) {
		events++;
		if (auparse_first_record(au) <= 0)
			continue;
		do {
			records++;
			(void)auparse_get_type(au);
		} while (auparse_next_record(au) > 0);
	}
	auparse_destroy(au);
	printf("%lu events, %lu records\n", events, records);
	return 0;
}
