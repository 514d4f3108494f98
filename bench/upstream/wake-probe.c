/* The machine's floor for a proxy hop: how long an idle round trip between two CPUs takes.
 *
 * A proxy on its own core turns every request into two crossings: the load core wakes the proxy's, and the proxy's
 * wakes the load core with the answer. Between requests at 1,000 a second both are idle, so each crossing pays for
 * waking a halted CPU. On a VM that is the hypervisor's business, and it changes from hour to hour: on
 * 2026-12-02 a proxy hop added about 290 µs at p50 where a quiet hour added about 110, to nginx and Mantou
 * alike. `direct` crosses no cores, so it cannot show this. This probe does, before and after a bench run.
 *
 * Usage: wake-probe CPU_A CPU_B COUNT INTERVAL_US
 * One thread on each CPU. Every INTERVAL_US, A writes to a pipe; B, blocked reading it, writes back at once; A
 * times the round trip. Prints one line: "round-trip-us p50 P50 p99 P99 max MAX n N".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int to_b[2], to_a[2];

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
    fprintf(stderr, "wake-probe: cannot pin to CPU %d\n", cpu);
    exit(1);
  }
}

static void *echo(void *arg) {
  pin(*(int *)arg);
  char c;
  while (read(to_b[0], &c, 1) == 1) {
    if (write(to_a[1], &c, 1) != 1) break;
  }
  return NULL;
}

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: wake-probe CPU_A CPU_B COUNT INTERVAL_US\n");
    return 2;
  }
  int cpu_a = atoi(argv[1]), cpu_b = atoi(argv[2]), count = atoi(argv[3]);
  long interval_ns = atol(argv[4]) * 1000L;
  if (count < 1 || interval_ns < 1000) return 2;
  long long *rtt = malloc(sizeof(long long) * (size_t)count);
  if (rtt == NULL || pipe(to_b) != 0 || pipe(to_a) != 0) return 1;
  pthread_t b;
  pthread_create(&b, NULL, echo, &cpu_b);
  pin(cpu_a);
  struct timespec due;
  clock_gettime(CLOCK_MONOTONIC, &due);
  char c = 'x';
  for (int i = 0; i < count; i++) {
    /* Sleep to an absolute due time: both threads are idle before each crossing, as between requests. */
    due.tv_nsec += interval_ns;
    while (due.tv_nsec >= 1000000000L) {
      due.tv_nsec -= 1000000000L;
      due.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
    long long t0 = now_ns();
    if (write(to_b[1], &c, 1) != 1 || read(to_a[0], &c, 1) != 1) return 1;
    rtt[i] = now_ns() - t0;
  }
  close(to_b[1]);
  pthread_join(b, NULL);
  qsort(rtt, (size_t)count, sizeof rtt[0], by_value);
  printf("round-trip-us p50 %.0f p99 %.0f max %.0f n %d\n", rtt[(count - 1) / 2] / 1000.0,
         rtt[(int)((count - 1) * 0.99)] / 1000.0, rtt[count - 1] / 1000.0, count);
  return 0;
}
