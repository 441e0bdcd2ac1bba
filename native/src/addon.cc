// Node-API glue: a few flat functions and one NativeSession class. All
// behaviour lives in TypeScript (lib/session.ts); this file validates what
// crosses, owns the tracer thread and hands packed batches to JS.
#include <fcntl.h>
#include <napi.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "perf_engine.h"
#include "quiet_rules.h"
#include "read_rules.h"
#include "syscall_numbers.h"
#include "tracer.h"
#include "wire.h"

namespace liveprobe {

namespace {

struct Batch {
  std::vector<uint8_t> bytes;
};

void CallJs(Napi::Env env, Napi::Function callback, std::nullptr_t*, Batch* batch) {
  std::unique_ptr<Batch> owned(batch);
  if (env == nullptr || callback.IsEmpty()) return;  // environment going away
  // One copy into a fresh ArrayBuffer: no JS object is built per record.
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, owned->bytes.size());
  if (!owned->bytes.empty()) std::memcpy(ab.Data(), owned->bytes.data(), owned->bytes.size());
  callback.Call({ab});
}

using BatchTsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Batch, CallJs>;

// Shared by the JS object and the tracer thread, so either may go first.
struct Core : BatchTransport {
  Core(OverflowPolicy policy, bool perf_engine) : tracer(*this, policy) {
    if (perf_engine) perf = std::make_unique<PerfEngine>(*this, policy);
  }
  void send(std::vector<uint8_t>&& bytes) override {
    std::lock_guard<std::mutex> lk(tsfn_mu);
    if (env_gone) return;  // Node is exiting: nobody to tell
    auto* b = new Batch{std::move(bytes)};
    if (tsfn.BlockingCall(b) != napi_ok) delete b;  // napi_closing: nobody to tell
  }
  // The tracer thread's last word. Not after the environment's teardown has
  // begun: the thread-safe function may be freed by then (an unref'd session
  // lets Node exit while this thread still finishes its detach).
  void release() {
    std::lock_guard<std::mutex> lk(tsfn_mu);
    if (!env_gone) tsfn.Release();
  }
  void grant(uint32_t n) { perf ? perf->grant(n) : tracer.grant(n); }
  void detach() { perf ? perf->requestDetach() : tracer.requestDetach(); }
  void shutdown() { perf ? perf->requestDetach() : tracer.requestShutdown(); }
  Tracer tracer;
  std::unique_ptr<PerfEngine> perf;  // engine 'perf': this one runs, the tracer stays idle
  BatchTsfn tsfn;
  std::mutex tsfn_mu;  // held by every use of tsfn off the JS thread
  bool env_gone = false;
};

// Runs on the JS thread when Node tears the environment down, before the
// thread-safe function's own clean-up (hooks run last-added first): from
// then on the tracer thread leaves the TSFN alone. It waits for a call in
// flight (tsfn_mu); BlockingCall on an unbounded queue does not block.
struct EnvHook {
  std::weak_ptr<Core> core;
  napi_env env = nullptr;
  bool ran = false;

  static void onTeardown(void* arg) {
    auto* h = static_cast<EnvHook*>(arg);
    h->ran = true;
    if (std::shared_ptr<Core> core = h->core.lock()) {
      std::lock_guard<std::mutex> lk(core->tsfn_mu);
      core->env_gone = true;
    }
  }
  // The TSFN's finalizer (JS thread): the session is over, in teardown or not.
  static void onTsfnFinalized(Napi::Env env, EnvHook* h, std::nullptr_t*) {
    if (!h->ran) napi_remove_env_cleanup_hook(env, onTeardown, h);
    delete h;
  }
};

std::string stringProp(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

std::vector<std::string> stringArrayProp(const Napi::Object& o, const char* key) {
  std::vector<std::string> out;
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (e.IsString()) out.push_back(e.As<Napi::String>().Utf8Value());
  }
  return out;
}

void KeepChildStopsQuiet();

// traceAll (default true) or traceNrs: the syscall numbers to stop on and report.
void readTraceSet(const Napi::Object& o, bool& all, std::vector<int32_t>& nrs) {
  Napi::Value v = o.Get("traceAll");
  all = v.IsBoolean() ? v.As<Napi::Boolean>().Value() : true;
  nrs.clear();
  Napi::Value list = o.Get("traceNrs");
  if (!list.IsArray()) return;
  Napi::Array a = list.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (e.IsNumber()) {
      int32_t nr = e.As<Napi::Number>().Int32Value();
      if (nr >= 0 && nr < 1024) nrs.push_back(nr);
    }
  }
}

// An optional array of numbers; false if it is something else or holds a non-number.
bool numberArrayProp(const Napi::Object& o, const char* key, std::vector<double>& out) {
  out.clear();
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  if (!v.IsArray()) return false;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) return false;
    out.push_back(e.As<Napi::Number>().DoubleValue());
  }
  return true;
}

// readRules: the flat number list of lib/syscalls/memory-reads.ts (see read_rules.h).
bool readReadRules(const Napi::Object& o, ReadRules& rules) {
  std::vector<double> flat;
  return numberArrayProp(o, "readRules", flat) && rules.assign(flat);
}

// quietCalls and quietSelfSignals: lib/syscalls/quieting.ts (see quiet_rules.h).
bool readQuietRules(const Napi::Object& o, QuietRules& rules) {
  std::vector<double> calls, signals;
  return numberArrayProp(o, "quietCalls", calls) && numberArrayProp(o, "quietSelfSignals", signals) &&
         rules.assign(calls, signals);
}

class NativeSession : public Napi::ObjectWrap<NativeSession> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeSession",
                       {
                           InstanceMethod<&NativeSession::Start>("start"),
                           InstanceMethod<&NativeSession::Grant>("grant"),
                           InstanceMethod<&NativeSession::Release>("release"),
                           InstanceMethod<&NativeSession::Detach>("detach"),
                           InstanceMethod<&NativeSession::Shutdown>("shutdown"),
                           InstanceMethod<&NativeSession::Unref>("unref"),
                       });
  }

  // new NativeSession(mode: 'run' | 'attach', options, onBatch)
  explicit NativeSession(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeSession>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsObject() || !info[2].IsFunction()) {
      Napi::TypeError::New(env, "Usage: new NativeSession(mode, options, onBatch)")
          .ThrowAsJavaScriptException();
      return;
    }
    mode_ = info[0].As<Napi::String>().Utf8Value();
    Napi::Object o = info[1].As<Napi::Object>();
    OverflowPolicy policy =
        stringProp(o, "overflow") == "drop" ? OverflowPolicy::kDrop : OverflowPolicy::kBlock;
    bool perf = stringProp(o, "engine") == "perf";
    // Not make_shared: the teardown hook's weak_ptr must not keep the whole Core allocated.
    core_ = std::shared_ptr<Core>(new Core(policy, perf));
    if (mode_ == "run") {
      run_.file = stringProp(o, "file");
      run_.argv = stringArrayProp(o, "argv");
      run_.env = stringArrayProp(o, "env");
      run_.cwd = stringProp(o, "cwd");
      Napi::Value stdio = o.Get("stdio");
      if (stdio.IsArray()) {
        Napi::Array a = stdio.As<Napi::Array>();
        for (uint32_t i = 0; i < 3 && i < a.Length(); ++i)
          run_.stdio[i] = a.Get(i).IsNumber() ? a.Get(i).As<Napi::Number>().Int32Value() : -1;
      }
      run_.no_aslr = o.Get("noAslr").ToBoolean();
      run_.follow_forks = o.Get("followForks").ToBoolean();
      readTraceSet(o, run_.trace_all, run_.trace_nrs);
      if (!readReadRules(o, run_.reads)) {
        Napi::TypeError::New(env, "Usage: readRules is the flat list of lib/syscalls/memory-reads.ts nativeReadRules()").ThrowAsJavaScriptException();
        return;
      }
      if (!readQuietRules(o, run_.quiet)) {
        Napi::TypeError::New(env, "Usage: quietCalls and quietSelfSignals are the lists of lib/syscalls/quieting.ts nativeQuietRules()").ThrowAsJavaScriptException();
        return;
      }
      if (perf && !readPerfOptions(env, o, run_.quiet)) return;
      if (run_.file.empty() || run_.argv.empty()) {
        Napi::TypeError::New(env, "Usage: run options need file and argv").ThrowAsJavaScriptException();
        return;
      }
    } else if (mode_ == "attach") {
      Napi::Value pid = o.Get("pid");
      attach_.pid = pid.IsNumber() ? pid.As<Napi::Number>().Int32Value() : 0;
      attach_.follow_forks = o.Get("followForks").ToBoolean();
      readTraceSet(o, attach_.trace_all, attach_.trace_nrs);
      if (!readReadRules(o, attach_.reads)) {
        Napi::TypeError::New(env, "Usage: readRules is the flat list of lib/syscalls/memory-reads.ts nativeReadRules()").ThrowAsJavaScriptException();
        return;
      }
      if (!readQuietRules(o, attach_.quiet)) {
        Napi::TypeError::New(env, "Usage: quietCalls and quietSelfSignals are the lists of lib/syscalls/quieting.ts nativeQuietRules()").ThrowAsJavaScriptException();
        return;
      }
      if (perf) {
        if (!readPerfOptions(env, o, attach_.quiet)) return;
        perf_.pid = attach_.pid;
      }
      if (attach_.pid <= 0) {
        Napi::TypeError::New(env, "Usage: attach options need a positive pid").ThrowAsJavaScriptException();
        return;
      }
    } else {
      Napi::TypeError::New(env, "Usage: mode is 'run' or 'attach'").ThrowAsJavaScriptException();
      return;
    }
    auto* hook = new EnvHook{core_, env};
    core_->tsfn = BatchTsfn::New(env, info[2].As<Napi::Function>(), "liveprobe-batches", 0, 1,
                                 static_cast<std::nullptr_t*>(nullptr), EnvHook::onTsfnFinalized, hook);
    // Added after the TSFN, so it runs before the TSFN's own teardown hook.
    napi_add_env_cleanup_hook(env, EnvHook::onTeardown, hook);
  }

 private:
  // The perf engine's events, filters and ring size (lib/perf/events.ts): false after throwing.
  bool readPerfOptions(Napi::Env env, const Napi::Object& o, const QuietRules& quiet) {
    std::vector<double> flat;
    if (!numberArrayProp(o, "perfEvents", flat) || !PerfEventSpec::parse(flat, perf_.events) || perf_.events.empty()) {
      Napi::TypeError::New(env, "Usage: perfEvents is the flat list of lib/perf/events.ts perfEventList()").ThrowAsJavaScriptException();
      return false;
    }
    std::vector<std::string> filters = stringArrayProp(o, "perfFilters");
    if (!filters.empty()) {
      if (filters.size() != perf_.events.size()) {
        Napi::TypeError::New(env, "Usage: perfFilters has one string per perfEvents event").ThrowAsJavaScriptException();
        return false;
      }
      for (size_t i = 0; i < filters.size(); ++i) perf_.events[i].filter = filters[i];
    }
    Napi::Value pages = o.Get("perfPages");
    if (!pages.IsUndefined()) {
      uint32_t n = pages.IsNumber() ? pages.As<Napi::Number>().Uint32Value() : 0;
      if (n == 0 || n > (1u << 16) || (n & (n - 1)) != 0) {
        Napi::TypeError::New(env, "Usage: perfPages is a power of two from 1 to 65536").ThrowAsJavaScriptException();
        return false;
      }
      perf_.pages = n;
    }
    perf_.quiet = quiet;
    return true;
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (started_) {
      Napi::Error::New(info.Env(), "session already started").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    started_ = true;
    KeepChildStopsQuiet();
    std::shared_ptr<Core> core = core_;
    // The dedicated tracer thread: every ptrace call of this session happens
    // on it. Detached: it owns a reference to the core and ends by itself.
    if (core->perf && mode_ == "run") {
      RunOptions run = run_;
      PerfAttachOptions opts = perf_;
      std::thread([core, run, opts] {
        core->perf->runSession(run, opts);
        core->release();
      }).detach();
    } else if (core->perf) {
      PerfAttachOptions opts = perf_;
      std::thread([core, opts] {
        core->perf->attachSession(opts);
        core->release();
      }).detach();
    } else if (mode_ == "run") {
      RunOptions opts = run_;
      std::thread([core, opts] {
        core->tracer.runSession(opts);
        core->release();
      }).detach();
    } else {
      AttachOptions opts = attach_;
      std::thread([core, opts] {
        core->tracer.attachSession(opts);
        core->release();
      }).detach();
    }
    return info.Env().Undefined();
  }

  Napi::Value Grant(const Napi::CallbackInfo& info) {
    uint32_t n = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 1;
    core_->grant(n);
    return info.Env().Undefined();
  }

  // The consumer has read /proc for a held exit_group (wire::kFlagHeld).
  Napi::Value Release(const Napi::CallbackInfo& info) {
    core_->tracer.releaseHeld();
    return info.Env().Undefined();
  }

  Napi::Value Detach(const Napi::CallbackInfo& info) {
    core_->detach();
    return info.Env().Undefined();
  }

  Napi::Value Shutdown(const Napi::CallbackInfo& info) {
    core_->shutdown();
    return info.Env().Undefined();
  }

  // After a detach the session may wait a long time for a launched target to
  // exit; it must not keep Node's event loop alive for that.
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    core_->tsfn.Unref(info.Env());
    return info.Env().Undefined();
  }

  std::string mode_;
  RunOptions run_;
  AttachOptions attach_;
  PerfAttachOptions perf_;
  bool started_ = false;
  std::shared_ptr<Core> core_;
};

// Every ptrace stop makes the kernel send SIGCHLD to the tracer's process,
// unless its SIGCHLD action has SA_NOCLDSTOP (kernel/signal.c,
// do_notify_parent_cldstop; waitpid is woken either way). Once Node has
// spawned any child, libuv has a SIGCHLD handler without that flag, and each
// stop then runs it and wakes the event loop: hundreds of thousands of times
// a second under attach. libuv only wants exits, which SA_NOCLDSTOP keeps.
void KeepChildStopsQuiet() {
  struct sigaction sa;
  if (sigaction(SIGCHLD, nullptr, &sa) != 0) return;
  if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDSTOP)) return;
  sa.sa_flags |= SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, nullptr);
}

Napi::Value QuietChildStops(const Napi::CallbackInfo& info) {
  KeepChildStopsQuiet();
  return info.Env().Undefined();
}

// pipe() with O_CLOEXEC: the read end stays in Node, the write end becomes
// the target's stdout/stderr (dup2 in the child clears CLOEXEC).
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    Napi::Error e = Napi::Error::New(info.Env(), std::string("pipe2: ") + std::strerror(errno));
    e.Set("code", Napi::String::New(info.Env(), "EMFILE"));
    e.ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(uint32_t(0), Napi::Number::New(info.Env(), fds[0]));
  a.Set(uint32_t(1), Napi::Number::New(info.Env(), fds[1]));
  return a;
}

// The wire layout as the compiler laid it out, for the agreement test.
Napi::Value Layout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("magic", wire::kMagic);
  o.Set("version", wire::kVersion);
  o.Set("headerSize", uint32_t(sizeof(wire::BatchHeader)));
  o.Set("recordSize", uint32_t(sizeof(wire::Record)));
  o.Set("readRuleFields", uint32_t(ReadRule::kFields));
  o.Set("readRuleMaxBytes", uint32_t(ReadRule::kMaxBytes));
  o.Set("quietCallFields", uint32_t(QuietCall::kFields));
  o.Set("maxErrno", uint32_t(kMaxErrno));
  o.Set("arrayEntryHeader", uint32_t(wire::kArrayEntryHeader));
  Napi::Object entries = Napi::Object::New(env);
  entries.Set("string", uint32_t(wire::ArrayEntry::kString));
  entries.Set("stringCut", uint32_t(wire::ArrayEntry::kStringCut));
  entries.Set("stringFault", uint32_t(wire::ArrayEntry::kStringFault));
  entries.Set("end", uint32_t(wire::ArrayEntry::kEnd));
  entries.Set("fault", uint32_t(wire::ArrayEntry::kFault));
  entries.Set("bound", uint32_t(wire::ArrayEntry::kBound));
  o.Set("arrayEntries", entries);
  o.Set("perfEventFields", uint32_t(PerfEventSpec::kFields));
  Napi::Object roles = Napi::Object::New(env);
  roles.Set("sysEnter", uint32_t(PerfEventSpec::kSysEnter));
  roles.Set("sysExit", uint32_t(PerfEventSpec::kSysExit));
  roles.Set("taskNew", uint32_t(PerfEventSpec::kTaskNew));
  roles.Set("processExit", uint32_t(PerfEventSpec::kProcessExit));
  roles.Set("rawEnter", uint32_t(PerfEventSpec::kRawEnter));
  roles.Set("rawExit", uint32_t(PerfEventSpec::kRawExit));
  o.Set("perfRoles", roles);
  o.Set("perfFlagStackSample", uint32_t(PerfEventSpec::kFlagStackSample));
  Napi::Object fields = Napi::Object::New(env);
#define LIVEPROBE_FIELD(name) fields.Set(#name, uint32_t(offsetof(wire::Record, name)));
  LIVEPROBE_RECORD_FIELDS(LIVEPROBE_FIELD)
#undef LIVEPROBE_FIELD
  o.Set("fields", fields);
  Napi::Object header = Napi::Object::New(env);
  header.Set("version", uint32_t(offsetof(wire::BatchHeader, version)));
  header.Set("count", uint32_t(offsetof(wire::BatchHeader, count)));
  header.Set("dataBytes", uint32_t(offsetof(wire::BatchHeader, data_bytes)));
  header.Set("lost", uint32_t(offsetof(wire::BatchHeader, lost)));
  header.Set("flags", uint32_t(offsetof(wire::BatchHeader, flags)));
  header.Set("hidden", uint32_t(offsetof(wire::BatchHeader, hidden)));
  header.Set("stops", uint32_t(offsetof(wire::BatchHeader, stops)));
  o.Set("header", header);
  Napi::Object kinds = Napi::Object::New(env);
  kinds.Set("syscall", uint32_t(wire::Kind::kSyscall));
  kinds.Set("threadStart", uint32_t(wire::Kind::kThreadStart));
  kinds.Set("threadExit", uint32_t(wire::Kind::kThreadExit));
  kinds.Set("exec", uint32_t(wire::Kind::kExec));
  kinds.Set("signal", uint32_t(wire::Kind::kSignal));
  kinds.Set("exit", uint32_t(wire::Kind::kExit));
  kinds.Set("snapshot", uint32_t(wire::Kind::kSnapshot));
  kinds.Set("error", uint32_t(wire::Kind::kError));
  kinds.Set("detached", uint32_t(wire::Kind::kDetached));
  kinds.Set("started", uint32_t(wire::Kind::kStarted));
  o.Set("kinds", kinds);
  Napi::Object flags = Napi::Object::New(env);
  flags.Set("hasReturn", uint32_t(wire::kFlagHasReturn));
  flags.Set("unfinished", uint32_t(wire::kFlagUnfinished));
  flags.Set("noEntry", uint32_t(wire::kFlagNoEntry));
  flags.Set("seccomp", uint32_t(wire::kFlagSeccomp));
  flags.Set("groupStop", uint32_t(wire::kFlagGroupStop));
  flags.Set("dataTruncated", uint32_t(wire::kFlagDataTrunc));
  flags.Set("readFailed", uint32_t(wire::kFlagReadFailed));
  flags.Set("hasCount", uint32_t(wire::kFlagHasCount));
  flags.Set("held", uint32_t(wire::kFlagHeld));
  flags.Set("batchLast", uint32_t(wire::kBatchLast));
  o.Set("flags", flags);
  return o;
}

// The syscall numbers the native side knows, for the agreement test.
Napi::Value NativeSyscallNumbers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  for (const auto& a : nr::kArches) {
    Napi::Object m = Napi::Object::New(env);
    for (int w = 0; w < nr::kCount; ++w) m.Set(nr::kWhichNames[w], a.numbers[w]);
    m.Set("auditArch", a.audit_arch);
    out.Set(a.name, m);
  }
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeSession", NativeSession::Define(env));
  exports.Set("pipe", Napi::Function::New<Pipe>(env, "pipe"));
  exports.Set("quietChildStops", Napi::Function::New<QuietChildStops>(env, "quietChildStops"));
  exports.Set("layout", Napi::Function::New<Layout>(env, "layout"));
  exports.Set("syscallNumbers", Napi::Function::New<NativeSyscallNumbers>(env, "syscallNumbers"));
  return exports;
}

}  // namespace
}  // namespace liveprobe

static Napi::Object InitLiveprobe(Napi::Env env, Napi::Object exports) {
  return liveprobe::Init(env, exports);
}

NODE_API_MODULE(liveprobe, InitLiveprobe)
