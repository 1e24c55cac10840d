"""Native grouping (sentry-native C/C++, Rust, sentry-cocoa): which crashes share an issue."""

from platform_table import Case, cases, check, crash_event, error_event

APP = "/opt/shop/bin/shopd"
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
LIBSTDCXX = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"


def nf(function, package=APP, raw=None, addr="0x5581a2c3d4e5", **extra):
    """A symbolicated native frame as Symbolicator leaves it: no in_app from sentry-native."""
    frame = {"function": function, "package": package, "instruction_addr": addr, **extra}
    if raw is not None:
        frame["raw_function"] = raw
    return frame


LINUX_BASE = [nf("_start"), nf("__libc_start_main", LIBC), nf("main")]
OLD_GLIBC_BASE = [nf("_start"), nf("__libc_start_main", LIBC), nf("main")]
NEW_GLIBC_BASE = [
    nf("_start"),
    nf("__libc_start_main_impl", LIBC),
    nf("__libc_start_call_main", LIBC),
    nf("main"),
]
WINDOWS_THREAD = [
    nf("RtlUserThreadStart", "C:\\Windows\\System32\\ntdll.dll"),
    nf("BaseThreadInitThunk", "C:\\Windows\\System32\\KERNEL32.DLL"),
    nf("thread_start<unsigned int (__cdecl*)(void *),1>", "C:\\Windows\\System32\\ucrtbase.dll"),
]
CRASH = [nf("shop::Cart::checkout", raw="void shop::Cart::checkout(shop::Order const&)")]

CPP_CASES = [
    Case(
        "glibc 2.34 added __libc_start_call_main and renamed the start function: process "
        "start frames never decide the group",
        crash_event("native", OLD_GLIBC_BASE + CRASH),
        crash_event("native", NEW_GLIBC_BASE + CRASH),
        same=True,
    ),
    Case(
        "a worker thread's Windows entry points (ntdll, kernel32, ucrt) are thread bases",
        crash_event("native", [*WINDOWS_THREAD, nf("shop::worker"), *CRASH]),
        crash_event("native", [nf("shop::worker"), *CRASH]),
        same=True,
    ),
    Case(
        "template arguments, argument lists, return types and const are trimmed from "
        "raw_function: a new instantiation of the same template is the same code",
        crash_event(
            "native",
            [
                *LINUX_BASE,
                nf("x", raw="std::vector<int, std::allocator<int> >::at(unsigned long) const"),
            ],
        ),
        crash_event(
            "native",
            [
                *LINUX_BASE,
                nf("y", raw="std::vector<long, std::allocator<long> >::at(unsigned long) const"),
            ],
        ),
        same=True,
    ),
    Case(
        "a crash in another function is another bug",
        crash_event("native", [*LINUX_BASE, nf("shop::Cart::checkout")]),
        crash_event("native", [*LINUX_BASE, nf("shop::Cart::refund")]),
        same=False,
    ),
    Case(
        "(anonymous namespace) is kept as part of the name, not taken for an argument list",
        crash_event("native", [*LINUX_BASE, nf("(anonymous namespace)::parse()")]),
        crash_event("native", [*LINUX_BASE, nf("parse()")]),
        same=False,
    ),
    Case(
        "an unsymbolicated frame's 0x… 'function' is an address that moves with ASLR",
        crash_event(
            "native", [*LINUX_BASE, nf("0x00007f3a9c2b1000", addr="0x7f3a9c2b1000"), *CRASH]
        ),
        crash_event(
            "native", [*LINUX_BASE, nf("0x00007f11ee001000", addr="0x7f11ee001000"), *CRASH]
        ),
        same=True,
    ),
    Case(
        "a frame the symbolicator could not name ('?') says nothing",
        crash_event("native", [*LINUX_BASE, nf("?", "/opt/shop/lib/libplugin.so"), *CRASH]),
        crash_event("native", [*LINUX_BASE, *CRASH]),
        same=True,
    ),
    Case(
        "abort() reached from the same assert: what glibc does after abort (raise, "
        "pthread_kill) differs between versions and is cut",
        crash_event(
            "native",
            [*LINUX_BASE, *CRASH, nf("abort", LIBC), nf("raise", LIBC), nf("gsignal", LIBC)],
        ),
        crash_event(
            "native",
            [
                *LINUX_BASE,
                *CRASH,
                nf("abort", LIBC),
                nf("raise", LIBC),
                nf("__pthread_kill_implementation", LIBC),
                nf("__pthread_kill_internal", LIBC),
            ],
        ),
        same=True,
    ),
    Case(
        "a C++ exception thrown from one place: libstdc++'s unwinding frames above "
        "__cxa_throw do not count",
        crash_event(
            "native",
            [*LINUX_BASE, *CRASH, nf("__cxa_throw", LIBSTDCXX), nf("_Unwind_RaiseException")],
        ),
        crash_event("native", [*LINUX_BASE, *CRASH, nf("__cxa_throw", LIBSTDCXX)]),
        same=True,
    ),
    Case(
        "a C++ exception thrown from two places stays two issues",
        crash_event("native", [*LINUX_BASE, *CRASH, nf("__cxa_throw", LIBSTDCXX)]),
        crash_event(
            "native", [*LINUX_BASE, nf("shop::Cart::refund"), nf("__cxa_throw", LIBSTDCXX)]
        ),
        same=False,
    ),
    Case(
        "project rule from Sentry's docs: only the top frame counts for native events",
        crash_event("native", [*LINUX_BASE, nf("shop::a"), *CRASH]),
        crash_event("native", [*LINUX_BASE, nf("shop::b"), *CRASH]),
        same=True,
        project_rules="family:native max-frames=1",
    ),
]


def rf(function, **extra):
    return nf(function, package="/srv/api/target/release/api", **extra)


RUST_CALLER = [
    rf("main"),
    rf("std::rt::lang_start::h0b5a9a8e6f3c2d1e"),
    rf("api::main::h1f2e3d4c5b6a7980"),
]
OLD_PANIC = [
    rf("core::option::expect_failed::h8a7b6c5d4e3f2a10"),
    rf("std::panicking::begin_panic::h2a3b4c5d6e7f8091"),
    rf("std::panicking::rust_panic_with_hook::h3b4c5d6e7f809a1b"),
]
NEW_PANIC = [
    rf("core::option::expect_failed::h0123456789abcdef"),
    rf("core::panicking::panic_display::h1111111111111111"),
    rf("core::panicking::panic_fmt::h2222222222222222"),
    rf("rust_begin_unwind"),
    rf("std::sys_common::backtrace::__rust_end_short_backtrace::h3333333333333333"),
    rf("std::panicking::begin_panic_handler::{{closure}}::h4444444444444444"),
]

RUST_CASES = [
    Case(
        "the same expect() after a rebuild: Rust symbol hashes change every build",
        error_event(
            "native",
            "panic",
            "config missing",
            [*RUST_CALLER, rf("api::config::load::h89abcdef01234567"), *OLD_PANIC],
        ),
        error_event(
            "native",
            "panic",
            "config missing",
            [*RUST_CALLER, rf("api::config::load::hfedcba9876543210"), *OLD_PANIC],
        ),
        same=True,
    ),
    Case(
        "the same expect() under a newer toolchain: the panic machinery was rewritten "
        "(begin_panic → panic_fmt/rust_begin_unwind) and is cut with ^-group",
        error_event(
            "native", "panic", "config missing", [*RUST_CALLER, rf("api::config::load"), *OLD_PANIC]
        ),
        error_event(
            "native", "panic", "config missing", [*RUST_CALLER, rf("api::config::load"), *NEW_PANIC]
        ),
        same=True,
    ),
    Case(
        "panics in two different functions are two issues",
        error_event("native", "panic", "x", [*RUST_CALLER, rf("api::config::load"), *NEW_PANIC]),
        error_event("native", "panic", "x", [*RUST_CALLER, rf("api::db::connect"), *NEW_PANIC]),
        same=False,
    ),
    Case(
        "<impl Trait for Type> names the type: two Display impls are two places",
        error_event(
            "native",
            "panic",
            "x",
            [*RUST_CALLER, rf("<impl core::fmt::Display for api::Order>::fmt::h0a0b0c0d0e0f0a0b")],
        ),
        error_event(
            "native",
            "panic",
            "x",
            [*RUST_CALLER, rf("<impl core::fmt::Display for api::User>::fmt::h0a0b0c0d0e0f0a0b")],
        ),
        same=False,
    ),
]


def cf(function, package, in_app=False, **extra):
    """A sentry-cocoa frame: the SDK marks the main executable in-app itself."""
    return {
        "function": function,
        "package": package,
        "in_app": in_app,
        "instruction_addr": "0x1a2b3c",
        **extra,
    }


UIKIT = "/System/Library/PrivateFrameworks/UIKitCore.framework/UIKitCore"
CF = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"
DISPATCH = "/usr/lib/system/libdispatch.dylib"
SHOP = "/private/var/containers/Bundle/Application/6A1B/Shop.app/Shop"
IOS16_LOOP = [
    cf("start", "/usr/lib/dyld"),
    cf("main", SHOP, True),
    cf("UIApplicationMain", UIKIT),
    cf("GSEventRunModal", "/System/Library/PrivateFrameworks/GraphicsServices.framework/GS"),
    cf("CFRunLoopRunSpecific", CF),
    cf("__CFRunLoopRun", CF),
    cf("__CFRunLoopDoSource0", CF),
    cf("__CFRUNLOOP_IS_CALLING_OUT_TO_A_SOURCE0_PERFORM_FUNCTION__", CF),
]
IOS17_LOOP = [
    cf("start", "/usr/lib/dyld"),
    cf("main", SHOP, True),
    cf("UIApplicationMain", UIKIT),
    cf("-[UIApplication _run]", UIKIT),
    cf("GSEventRunModal", "/System/Library/PrivateFrameworks/GraphicsServices.framework/GS"),
    cf("CFRunLoopRunSpecific", CF),
    cf("__CFRunLoopRun", CF),
    cf("__CFRunLoopDoSources0", CF),
    cf("_dispatch_main_queue_drain", DISPATCH),
]
RAISE = [
    cf("-[__NSArrayM objectAtIndex:]", CF),
    cf("objc_exception_throw", "/usr/lib/libobjc.A.dylib"),
    cf("__exceptionPreprocess", CF),
]

COCOA_CASES = [
    Case(
        "the same out-of-range access on iOS 16 and iOS 17: run-loop internals changed",
        error_event(
            "cocoa",
            "NSRangeException",
            "index 5 beyond bounds [0 .. 2]",
            [*IOS16_LOOP, cf("-[CartViewController reload]", SHOP, True), *RAISE],
        ),
        error_event(
            "cocoa",
            "NSRangeException",
            "index 9 beyond bounds [0 .. 1]",
            [*IOS17_LOOP, cf("-[CartViewController reload]", SHOP, True), *RAISE],
        ),
        same=True,
    ),
    Case(
        "a crash entirely inside system frameworks still groups across OS releases "
        "(the system variant: thread base and run loop do not contribute)",
        crash_event("cocoa", [*IOS16_LOOP[2:], cf("-[UIView layoutSubviews]", UIKIT)]),
        crash_event("cocoa", [*IOS17_LOOP[2:], cf("-[UIView layoutSubviews]", UIKIT)]),
        same=True,
    ),
    Case(
        "two selectors of the app are two bugs",
        error_event(
            "cocoa",
            "NSRangeException",
            "x",
            [*IOS16_LOOP, cf("-[CartViewController reload]", SHOP, True), *RAISE],
        ),
        error_event(
            "cocoa",
            "NSRangeException",
            "x",
            [*IOS16_LOOP, cf("-[CartViewController checkout:]", SHOP, True), *RAISE],
        ),
        same=False,
    ),
    Case(
        "Swift: the optimizer's 'partial apply for' and 'specialized' prefixes come and go",
        crash_event(
            "cocoa",
            [
                *IOS16_LOOP,
                cf("partial apply for closure #1 in CartView.reload()", SHOP, True),
                cf("specialized Array.subscript.getter", SHOP, True),
            ],
        ),
        crash_event(
            "cocoa",
            [
                *IOS16_LOOP,
                cf("closure #1 in CartView.reload()", SHOP, True),
                cf("Array.subscript.getter", SHOP, True),
            ],
        ),
        same=True,
    ),
    Case(
        "Swift: closures #1 and #2 of the same method are different code",
        crash_event("cocoa", [*IOS16_LOOP, cf("closure #1 in CartView.reload()", SHOP, True)]),
        crash_event("cocoa", [*IOS16_LOOP, cf("closure #2 in CartView.reload()", SHOP, True)]),
        same=False,
    ),
]


@cases(CPP_CASES)
def test_cpp(case):
    check(case)


@cases(RUST_CASES)
def test_rust(case):
    check(case)


@cases(COCOA_CASES)
def test_cocoa(case):
    check(case)
