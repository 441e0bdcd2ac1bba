// The only file that loads the addon, through the `bindings` package, told
// the package root (lib/package-root.ts) so that it need not guess it from
// its caller's stack, which a bundle (tools/bundle-cli.mjs) would mislead.
// LIVEPROBE_BINDING points tests at another build (the node-gyp one, a
// sanitizer build).
import bindings from 'bindings';
import path from 'node:path';
import { PACKAGE_ROOT } from './package-root';

/** What both modes are told about tracing. */
export interface NativeTracingOptions {
  followForks: boolean;
  overflow: 'block' | 'drop';
  /** Stop on every syscall; else only on traceNrs (a seccomp filter in run). */
  traceAll: boolean;
  traceNrs: number[];
  /** Tracee memory to copy, as lib/syscalls/memory-reads.ts's nativeReadRules gives it. */
  readRules: number[];
  /** Runtime noise not to stop on or report, as lib/syscalls/quieting.ts's nativeQuietRules gives it. */
  quietCalls: number[];
  quietSelfSignals: number[];
}

export interface NativeRunOptions extends NativeTracingOptions {
  file: string;
  argv: string[];
  env: string[];
  cwd: string;
  stdio: [number, number, number];
  noAslr: boolean;
}

export interface NativeAttachOptions extends NativeTracingOptions {
  pid: number;
  /** 'perf': the tracepoint engine (native/src/perf_engine.h) with these events; else ptrace. */
  engine?: 'perf' | 'ptrace';
  /** lib/perf/events.ts perfEventList's flat list. */
  perfEvents?: number[];
  /** Per event, its tracepoint filter ('' for none). */
  perfFilters?: string[];
  /** Ring pages per CPU, a power of two. */
  perfPages?: number;
}

export interface NativeSession {
  start(): void;
  grant(credits: number): void;
  /** Lets the thread held at its exit_group (FLAG.held) go on exiting. */
  release(): void;
  detach(): void;
  shutdown(): void;
  unref(): void;
}

export interface NativeLayout {
  magic: number;
  version: number;
  headerSize: number;
  recordSize: number;
  /** Numbers per memory-read rule, and the most bytes one may copy (native/src/read_rules.h). */
  readRuleFields: number;
  readRuleMaxBytes: number;
  /** Numbers per quiet-call rule (native/src/quiet_rules.h). */
  quietCallFields: number;
  /** Numbers per perf event in perfEvents, the roles and the stack-sample flag (native/src/perf_events.h). */
  perfEventFields: number;
  perfRoles: Record<string, number>;
  perfFlagStackSample: number;
  /** The kernel's MAX_ERRNO as native/src/tracer.h has it. */
  maxErrno: number;
  /** execve's argv/envp entries in data2 (native/src/wire.h ArrayEntry). */
  arrayEntryHeader: number;
  arrayEntries: Record<string, number>;
  fields: Record<string, number>;
  header: Record<string, number>;
  kinds: Record<string, number>;
  flags: Record<string, number>;
}

export interface NativeBinding {
  NativeSession: new (
    mode: 'run' | 'attach',
    options: NativeRunOptions | NativeAttachOptions,
    onBatch: (batch: ArrayBuffer) => void,
  ) => NativeSession;
  pipe(): [number, number];
  /** Adds SA_NOCLDSTOP to Node's SIGCHLD handler so ptrace stops do not wake the event loop. */
  quietChildStops(): void;
  layout(): NativeLayout;
  syscallNumbers(): Record<string, Record<string, number>>;
}

// cmake-js (`npm install`) and node-gyp both write build/Release/liveprobe.node
// (CMakeLists.txt, binding.gyp); bindings looks there, then in build/Debug.
// Only there: its default list tries build/ and build/Debug/ first, each a
// failed require (stats and an Error) at every start-up.
const BINDINGS = {
  bindings: 'liveprobe.node',
  module_root: PACKAGE_ROOT,
  try: [['module_root', 'build', 'Release', 'bindings'], ['module_root', 'build', 'Debug', 'bindings']],
};

/** The addon file that native() loads: LIVEPROBE_BINDING's, else the build bindings finds; undefined if none. */
export function addonPath(): string | undefined {
  const override = process.env.LIVEPROBE_BINDING;
  return override ? path.resolve(override) : builtAddonPath();
}

/** The build bindings finds in the package (LIVEPROBE_BINDING aside); undefined if none. */
export function builtAddonPath(): string | undefined {
  try {
    // `path: true` (return the file, do not load it) is bindings' own option, missing from @types/bindings.
    const find = bindings as unknown as (options: typeof BINDINGS & { path: true }) => string;
    return find({ ...BINDINGS, path: true });
  } catch {
    return undefined;
  }
}

let loaded: NativeBinding | undefined;

export function native(): NativeBinding {
  if (loaded) return loaded;
  const override = process.env.LIVEPROBE_BINDING;
  try {
    loaded = (override ? require(path.resolve(override)) : bindings(BINDINGS)) as NativeBinding;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(
      `liveprobe: the native addon could not be loaded (${why}); ` +
        `build it with "npm install" (cmake-js) or "npx node-gyp rebuild"` +
        (override ? `, or fix LIVEPROBE_BINDING=${override}` : ''),
    );
  }
  return loaded;
}
