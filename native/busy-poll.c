// Busy polling (config `busyPollUs`, applied by every data-plane worker to its own thread; core/busy-poll.ts).
// After the loop saw I/O, it keeps polling without sleeping for up to that long before it blocks again. On a
// virtual machine an idle core halts, and waking it for the next packet costs tens to hundreds of microseconds
// per hop (the kernel's, the hypervisor's); a poll that finds the next event already there costs a system call.
// The price is CPU: up to busyPollUs of it after each burst of I/O, so it pays where latency matters more than
// idle cores (Seastar polls the same way). With 100 µs, one worker (README, "Busy polling"): sequential round trips
// p50 182 → 69 µs (direct 30); small GETs' added p50/p99 at 5,000 req/s 82/205 → 44/110 µs, for 1.4× the CPU per
// request there and 2.5× at 1,000 req/s; the maximum throughput does not change.
//
// How: an unreferenced check handle runs after every poll of the loop; when the loop's event count moved since the
// last look (uv_metrics_info), it starts an unreferenced idle handle, and an active idle handle makes libuv poll
// with a zero timeout. The idle callback stops it once no event came for busyPollUs. Neither handle keeps the
// loop alive, and both close with the environment (addon.c's teardown hook holds until they have).

#include "addon.h"

static void on_idle(uv_idle_t *h) {
  addon_instance *inst = h->data;
  uv_metrics_t m;
  uint64_t now = uv_hrtime();
  if (uv_metrics_info(h->loop, &m) == 0 && m.events != inst->busy_events) {
    inst->busy_events = m.events;
    inst->busy_since = now;
  } else if (now - inst->busy_since >= inst->busy_ns) {
    uv_idle_stop(h);
  }
  inst->busy_spins++;
}

static void on_check(uv_check_t *h) {
  addon_instance *inst = h->data;
  if (uv_is_active((uv_handle_t *)&inst->busy_idle)) return;
  uv_metrics_t m;
  if (uv_metrics_info(h->loop, &m) != 0 || m.events == inst->busy_events) return;
  inst->busy_events = m.events;
  inst->busy_since = uv_hrtime();
  uv_idle_start(&inst->busy_idle, on_idle);
}

static void on_closed(uv_handle_t *h) {
  addon_instance *inst = h->data;
  if (--inst->busy_open > 0) return;
  addon_release_teardown_if_unused(inst);
}

void busy_poll_close(addon_instance *inst) {
  if (inst->busy_open != 2 || uv_is_closing((uv_handle_t *)&inst->busy_check)) return;
  uv_close((uv_handle_t *)&inst->busy_idle, on_closed);
  uv_close((uv_handle_t *)&inst->busy_check, on_closed);
}

/* setBusyPoll(us): polls for up to `us` microseconds after I/O on this thread's loop (0: off). Returns false when the
   loop is not available (the setting is then not applied). */
static napi_value SetBusyPoll(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double us = 0;
  addon_instance *inst = addon_instance_of(env);
  bool ok = false;
  if (inst != NULL && inst->alive && napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1 &&
      napi_get_value_double(env, argv[0], &us) == napi_ok && us >= 0) {
    uv_loop_t *loop = NULL;
    if (inst->busy_open == 0 && us > 0 && napi_get_uv_event_loop(env, &loop) == napi_ok) {
      uv_idle_init(loop, &inst->busy_idle);
      uv_check_init(loop, &inst->busy_check);
      inst->busy_idle.data = inst->busy_check.data = inst;
      uv_unref((uv_handle_t *)&inst->busy_idle);
      uv_unref((uv_handle_t *)&inst->busy_check);
      inst->busy_open = 2;
      addon_hold_teardown(env, inst);
    }
    if (inst->busy_open == 2) {
      inst->busy_ns = (uint64_t)(us * 1000);
      if (us > 0) {
        uv_metrics_t m;
        inst->busy_events = uv_metrics_info(inst->busy_check.loop, &m) == 0 ? m.events : 0;
        uv_check_start(&inst->busy_check, on_check);
      } else {
        uv_check_stop(&inst->busy_check);
        uv_idle_stop(&inst->busy_idle);
      }
    }
    ok = us == 0 || inst->busy_open == 2;
  }
  napi_value out;
  napi_get_boolean(env, ok, &out);
  return out;
}

/* busyPollSpins(): how many times this thread's loop went round without sleeping for busy polling (tests). */
static napi_value BusyPollSpins(napi_env env, napi_callback_info info) {
  (void)info;
  addon_instance *inst = addon_instance_of(env);
  return addon_num(env, inst == NULL ? 0 : (double)inst->busy_spins);
}

napi_value busy_poll_define(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"setBusyPoll", NULL, SetBusyPoll, NULL, NULL, NULL, napi_default, NULL},
    {"busyPollSpins", NULL, BusyPollSpins, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
