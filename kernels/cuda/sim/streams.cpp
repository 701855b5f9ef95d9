// The simulator's streams and events, and the stream-order bookkeeping every queued operation goes through
// (begin_op): vector clocks per stream, merged at cudaStreamWaitEvent, at host synchronisation and where the legacy
// default stream and blocking streams wait for each other. Work runs at once, so synchronising only tells the host
// what it may assume; event times are the host's clock when they were recorded.
#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "kernels/cuda/sim/device_state.h"
#include "kernels/cuda/sim/runtime_state.h"
#include "kernels/cuda/sim/sim_settings.h"

namespace atrous::sim {
namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

StreamOp begin_op(cudaStream_t stream_handle, const std::string& name) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  ATROUS_CHECK(is_live_stream(stream_handle), "CUDA simulator: ", name, " on a destroyed or invalid stream");
  CUstream_st* s = resolve(stream_handle);
  merge(s->clock, this_host_thread().clock);
  // The legacy default stream and blocking streams of a device wait for each other.
  const bool legacy = s->id < settings().devices;
  for (auto& other : st.streams) {
    if (!other || other.get() == s || other->device != s->device) continue;
    const bool other_legacy = other->id < settings().devices;
    if ((legacy && !(other->flags & cudaStreamNonBlocking)) || (other_legacy && !(s->flags & cudaStreamNonBlocking)))
      merge(s->clock, other->clock);
  }
  ++s->seq;
  if (s->clock.size() <= static_cast<size_t>(s->id)) s->clock.resize(s->id + 1, 0);
  s->clock[s->id] = s->seq;
  StreamOp op;
  op.device = s->device;
  op.stream = s->id;
  op.seq = s->seq;
  op.packed = pack_page(op.device, op.stream, op.seq);
  op.clock = s->clock;
  op.name = name;
  return op;
}

}  // namespace atrous::sim

using namespace atrous::sim;

cudaError_t cudaDeviceSynchronize() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  for (auto& s : st.streams)
    if (s && s->device == this_host_thread().device) merge(this_host_thread().clock, s->clock);
  return cudaSuccess;
}

// ---- streams and events ----

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  if (!stream) return fail(cudaErrorInvalidValue);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  int id = -1;
  for (size_t i = settings().devices; i < st.streams.size(); ++i)
    if (!st.streams[i]) id = static_cast<int>(i);
  if (id < 0) {
    if (st.streams.size() >= kMaxStreams) return fail(cudaErrorMemoryAllocation);
    id = static_cast<int>(st.streams.size());
    st.streams.emplace_back();
  }
  auto s = std::make_unique<CUstream_st>();
  s->id = id;
  s->device = this_host_thread().device;
  s->flags = flags;
  // A stream id may be reused: start after everything its earlier owner did.
  for (auto& other : st.streams)
    if (other && other->clock.size() > static_cast<size_t>(id)) s->seq = std::max(s->seq, other->clock[id]);
  s->seq = std::max<uint64_t>(s->seq, this_host_thread().clock.size() > static_cast<size_t>(id) ? this_host_thread().clock[id] : 0);
  *stream = s.get();
  st.streams[id] = std::move(s);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  if (!stream || !is_live_stream(stream) || stream->id < settings().devices)
    return fail(cudaErrorInvalidResourceHandle);
  st.streams[stream->id].reset();
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  if (!is_live_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  merge(this_host_thread().clock, resolve(stream)->clock);
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  if (!event || !is_live_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  merge(resolve(stream)->clock, event->clock);
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  if (!event) return fail(cudaErrorInvalidValue);
  *event = new CUevent_st();
  (*event)->flags = flags;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  if (!is_live_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
  CUstream_st* s = resolve(stream);
  event->clock = s->clock;  // work queued so far on the stream; it has all run already
  event->recorded = true;
  event->time_ms = now_ms();
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  merge(this_host_thread().clock, event->clock);
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms || !start || !end) return fail(cudaErrorInvalidValue);
  if ((start->flags | end->flags) & cudaEventDisableTiming) return fail(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !end->recorded) return fail(cudaErrorInvalidResourceHandle);
  *ms = static_cast<float>(end->time_ms - start->time_ms);
  return cudaSuccess;
}
