"""JavaScript grouping (browser SDK, Node SDK, Electron): which errors share an issue."""

from platform_table import Case, cases, check, error_event


def bf(function, abs_path, in_app=True, context_line=None, **extra):
    """A browser frame as @sentry/browser sends it (after source maps when there are any)."""
    frame = {
        "function": function,
        "abs_path": abs_path,
        "filename": abs_path,
        "lineno": 1,
        "colno": 4821,
        "in_app": in_app,
        **extra,
    }
    if context_line is not None:
        frame["context_line"] = context_line
    return frame


def nf(function, filename, in_app=True, module=None, context_line=None, lineno=10):
    """A @sentry/node frame: absolute filename, module derived from the path."""
    frame = {
        "function": function,
        "filename": filename,
        "abs_path": filename,
        "lineno": lineno,
        "colno": 5,
        "in_app": in_app,
    }
    if module is not None:
        frame["module"] = module
    if context_line is not None:
        frame["context_line"] = context_line
    return frame


def browser(*frames, platform="javascript"):
    return error_event(platform, "TypeError", "Cannot read properties of undefined", list(frames))


NODE16 = [
    nf("processTicksAndRejections", "node:internal/process/task_queues", False),
    nf("listOnTimeout", "node:internal/timers", False),
]
NODE10 = [
    nf("process._tickCallback", "internal/process/next_tick.js", False),
    nf("listOnTimeout", "timers.js", False),
]
HANDLER = nf(
    "checkout",
    "/srv/shop/dist/cart.js",
    module="dist:cart",
    context_line="return cart.total.amount;",
)
CORE_JS = bf(
    "Array.forEach", "https://shop.example/node_modules/core-js/internals/array-iteration.js", False
)

CASES = [
    Case(
        "a new deploy renames the bundle (content hash, CDN host): URL file names never count",
        browser(bf("handleClick", "https://cdn.shop.example/static/js/main.3f2a1b9c.js")),
        browser(bf("handleClick", "https://shop-cdn.net/assets/main.9c8d7e6f.js")),
        same=True,
    ),
    Case(
        "Chrome says 'Object.handleClick', Firefox 'handleClick'",
        browser(bf("Object.handleClick", "https://shop.example/app.js")),
        browser(bf("handleClick", "https://shop.example/app.js")),
        same=True,
    ),
    Case(
        "two functions of the app are two bugs",
        browser(bf("handleClick", "https://shop.example/app.js")),
        browser(bf("handleSubmit", "https://shop.example/app.js")),
        same=False,
    ),
    Case(
        "old browsers run through core-js polyfills, new ones natively: polyfill frames "
        "are out of the group, so even the system hash matches",
        browser(CORE_JS, bf("handleClick", "https://shop.example/app.js")),
        browser(bf("handleClick", "https://shop.example/app.js")),
        same=True,
        variant=-1,
    ),
    Case(
        "Sentry's wrapper around event handlers (sentryWrapped) is only there when the "
        "SDK instrumented the handler",
        browser(
            bf("sentryWrapped", "https://shop.example/app.js", False),
            bf("handleClick", "https://shop.example/app.js"),
        ),
        browser(bf("handleClick", "https://shop.example/app.js")),
        same=True,
        variant=-1,
    ),
    Case(
        "eval'd code and engine internals say nothing about the code",
        browser(
            bf("forEach", "[native code]", False),
            bf("eval", "https://shop.example/app.js"),
            bf("handleClick", "https://shop.example/app.js"),
        ),
        browser(bf("handleClick", "https://shop.example/app.js")),
        same=True,
    ),
    Case(
        "a source-mapped frame groups on its original source line, not the guessed name",
        browser(
            bf(
                "a",
                "webpack:///src/cart.ts",
                context_line="return cart.total.amount;",
                data={"sourcemap": "https://shop.example/app.js.map"},
            )
        ),
        browser(
            bf(
                "Ve",
                "webpack:///src/cart.ts",
                context_line="return cart.total.amount;",
                data={"sourcemap": "https://shop.example/app.js.map"},
            )
        ),
        same=True,
    ),
    Case(
        "Electron and local pages load from file://: those file names are real and kept",
        browser(bf("render", "file:///Applications/Shop.app/Contents/Resources/app/cart.js")),
        browser(bf("render", "file:///Applications/Shop.app/Contents/Resources/app/checkout.js")),
        same=False,
    ),
    Case(
        "the same file:// file on macOS and Windows installs",
        browser(bf("render", "file:///Applications/Shop.app/Contents/Resources/app/cart.js")),
        browser(bf("render", "file:///C:/Program%20Files/Shop/resources/app/cart.js")),
        same=True,
    ),
    Case(
        "Node 10 and Node 18 name their internals differently: out of app and group",
        error_event("node", "TypeError", "x is undefined", [*NODE10, HANDLER]),
        error_event("node", "TypeError", "x is undefined", [*NODE16, HANDLER]),
        same=True,
        variant=-1,
    ),
    Case(
        "a dependency in node_modules is never app code, even if the SDK said so",
        error_event(
            "node",
            "TypeError",
            "x",
            [nf("handle", "/srv/shop/node_modules/express/lib/router/layer.js", True), HANDLER],
        ),
        error_event(
            "node",
            "TypeError",
            "x",
            [nf("handle", "/srv/shop/node_modules/express/lib/router/index.js", True), HANDLER],
        ),
        same=True,
    ),
    Case(
        "Node: the crashing source line changed, so did the bug",
        error_event("node", "TypeError", "x", [HANDLER]),
        error_event(
            "node",
            "TypeError",
            "x",
            [{**HANDLER, "context_line": "return cart.totals[0].amount;"}],
        ),
        same=False,
    ),
    Case(
        "a module value that is a path falls back to the file name",
        error_event("node", "Error", "x", [nf("load", "/srv/a/cfg.js", module="src/cfg")]),
        error_event("node", "Error", "x", [nf("load", "/srv/b/cfg.js", module="lib/cfg")]),
        same=True,
    ),
    Case(
        "project rule: a shared error helper marked -group merges its callers' issues",
        error_event(
            "node",
            "Error",
            "x",
            [nf("a", "/srv/shop/dist/a.js"), nf("fail", "/srv/shop/dist/errors.js")],
        ),
        error_event(
            "node",
            "Error",
            "x",
            [nf("a", "/srv/shop/dist/a.js"), nf("raise", "/srv/shop/dist/errors.js")],
        ),
        same=True,
        project_rules="stack.abs_path:**/dist/errors.js -group",
    ),
]


@cases(CASES)
def test_javascript(case):
    check(case)
