/* The tracer benchmark's sender: a child that ignores SIGUSR1 (so each signal is generated,
 * traced and ignored, and the child never wakes), and a loop of kill(child, SIGUSR1) for
 * SECONDS at RATE signals a second (0: as fast as it goes). Prints what it sent:
 *   sent=N seconds=S rate=R target=PID
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SECONDS RATE\n", argv[0]);
		return 2;
	}
	double seconds = atof(argv[1]), rate = atof(argv[2]);
	signal(SIGUSR1, SIG_IGN); /* inherited by the child; kept across fork */
	pid_t child = fork();
	if (child == 0) {
		for (;;)
			pause();
	}
	usleep(100000);
	unsigned long sent = 0;
	double start = now(), end = start + seconds, t = start;
	while (t < end) {
		/* Paced in batches of 64 so the clock is not read per signal. */
		for (int i = 0; i < 64; i++) {
			kill(child, SIGUSR1);
			sent++;
		}
		t = now();
		if (rate > 0) {
			double due = start + sent / rate;
			while (t < due && t < end)
				t = now();
		}
	}
	double elapsed = t - start;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	printf("sent=%lu seconds=%.3f rate=%.0f target=%d\n", sent, elapsed, sent / elapsed, child);
	return 0;
}
